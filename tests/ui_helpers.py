"""Shared by the window tests (a pytest plugin, see conftest): fixtures ``home`` and
``window`` on a temporary catalog, and helpers to drop photos and wait for the window."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QWidget

from app.core.catalog import Catalog
from app.ui.main import create_window
from app.ui.main_window import MainWindow
from app.ui.settings import use_settings_dir

TIMEOUT = 20_000


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VITRINA_HOME", str(tmp_path / "home"))
    use_settings_dir(tmp_path / "settings")
    return tmp_path


def open_window(qtbot, db: Path, bundle: Path) -> MainWindow:
    window = create_window(str(db), str(bundle))
    window.reporter.quiet = True
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: window.ctx is not None or window.banner.isVisible(), timeout=TIMEOUT)
    return window


@pytest.fixture
def window(qtbot, home: Path, tiny_bundle: Path) -> MainWindow:
    return open_window(qtbot, home / "catalog.sqlite", tiny_bundle)


def drop(target, paths: list[Path]) -> None:
    """What a drag from the file manager delivers: a QDropEvent with file URLs."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    target.dropEvent(event)


def import_and_wait(qtbot, window: MainWindow, paths: list[Path]):
    with qtbot.waitSignal(window.import_finished, timeout=TIMEOUT) as blocker:
        drop(window, paths)
    report = blocker.args[0]
    count = len(report.added)
    qtbot.waitUntil(lambda: window.model.rowCount() == count, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: window.model.item(count - 1) is not None, timeout=TIMEOUT)
    return report


def wait_review(qtbot, window: MainWindow, photo_id: int) -> None:
    def shown() -> bool:
        review = window.review.review
        return review is not None and review.photo.id == photo_id

    qtbot.waitUntil(shown, timeout=TIMEOUT)


def grid_state(window: MainWindow, row: int) -> str | None:
    """The row's review state as the grid shows it; None while its page (re)loads, which
    a check in ``waitUntil`` must allow for (only AssertionError means "not yet")."""
    item = window.model.item(row)
    return None if item is None else item.review_state


def shown(window: MainWindow, family: str):
    """The open photo's family as the review panel shows it; None while it (re)loads."""
    review = window.review.review
    return None if review is None else review.family(family)


def accepted(catalog: Catalog, photo_id: int) -> dict[str | None, str]:
    return {t.family: t.value for t in catalog.tags(photo_id) if t.status == "accepted"}


def when_modal(kind: type, act: Callable[[QWidget], object]) -> None:
    """Act on the next modal dialog of ``kind`` once it shows (opened with exec() or open())."""
    deadline = time.monotonic() + TIMEOUT / 1000

    def poll() -> None:
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, kind) and dialog.isVisible():
            act(dialog)
        elif time.monotonic() < deadline:
            QTimer.singleShot(20, poll)

    QTimer.singleShot(0, poll)


def all_confident(catalog: Catalog, photo_id: int) -> bool:
    """Every predicted family is confident: A alone makes such a photo reviewed."""
    return all(p.confidence >= p.threshold for p in catalog.predictions(photo_id) if p.rank == 1)


def settle(window: MainWindow) -> None:
    window.controller.wait(10_000)
