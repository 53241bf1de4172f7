"""The File and Help menus: import tags, settings (catalog + bundle), title and About."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from PySide6.QtCore import QPoint
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QDialog,
    QFileDialog,
    QLabel,
    QTextBrowser,
)
from ui_helpers import (
    TIMEOUT,
    accepted,
    grid_state,
    import_and_wait,
    open_window,
    shown,
    wait_review,
    when_modal,
)

from app.core.bundle import load_bundle
from app.core.catalog import Catalog
from app.ui import catalog_session
from app.ui.about_dialog import about_html, app_version, bundle_info
from app.ui.main_window import MainWindow
from app.ui.settings import Settings
from app.ui.settings_dialog import SettingsDialog


def test_import_tags_applies_rows_and_lists_the_rest(
    qtbot, window: MainWindow, photos_dir: Path, tmp_path: Path
):
    import_and_wait(qtbot, window, [photos_dir])
    catalog = window.ctx.catalog
    first, second = window.model.item(0), window.model.item(1)
    wait_review(qtbot, window, first.id)
    tag_file = tmp_path / "tags.csv"
    tag_file.write_text(
        "path,sha256,category,colour,free_tags\n"
        f"{first.path},{first.sha256},dress,red,summer; sale\n"
        f",{'0' * 64},shoes,,\n"
        f"{second.path},,spaceship,,\n"
        f"{second.path},,,=white,\n"
    )
    with qtbot.waitSignal(window.files.tags_imported, timeout=TIMEOUT) as done:
        assert window.files.import_tags(tag_file)
    report = done.args[0]
    assert report.written == 5 and report.photos == {first.id, second.id}
    assert report.new_labels == {("category", "spaceship"): 1}  # the shop's own label
    assert accepted(catalog, first.id) == {"category": "dress", "colour": "red", None: "summer"}
    assert {t.value for t in catalog.tags(first.id) if t.family is None} == {"summer", "sale"}

    failures = dict(window.failures.rows())
    assert set(failures) == {f"{tag_file}:3", f"{tag_file}:5"}
    assert "no photo" in failures[f"{tag_file}:3"]
    assert "spreadsheet formula" in failures[f"{tag_file}:5"]
    assert window.failures_dock.isVisible()
    box = window.files.summary_box
    assert box is not None and "5 tag(s) written on 2 photo(s)" in box.text()
    assert "3 row(s)" not in box.text() and "1 row(s) matched no photo" in box.text()

    # The grid and the open photo show the catalog's new state; keys go back to the grid.
    # While the grid and the review reload, the review and the grid's items are None for a
    # moment: dereferencing them in waitUntil raised AttributeError under load.
    qtbot.waitUntil(
        lambda: getattr(shown(window, "category"), "accepted", None) == "dress", timeout=TIMEOUT
    )
    state = catalog.get_photo(first.id).review_state
    qtbot.waitUntil(lambda: grid_state(window, 0) == state, timeout=TIMEOUT)
    box.accept()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.grid, timeout=TIMEOUT)


def test_import_tags_reports_an_unreadable_file(qtbot, window: MainWindow, tmp_path: Path):
    broken = tmp_path / "tags.json"
    broken.write_text('[{"path": "a.jpg"')
    assert window.files.import_tags(broken)
    qtbot.waitUntil(lambda: "tags.json" in window.review.message.text(), timeout=TIMEOUT)
    assert "Traceback" not in window.review.message.text()


def test_title_and_focus_at_start(qtbot, window: MainWindow, home: Path):
    title = window.windowTitle()
    assert str(home / "catalog.sqlite") in title and "tiny@1" in title
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.grid, timeout=TIMEOUT)


def test_about_is_a_usual_dialog_naming_version_catalog_bundle_and_docs(
    qtbot, window: MainWindow, home: Path, tiny_set_bundle: Path
):
    seen: dict[str, object] = {}

    def look(dialog: QDialog) -> None:
        ok = next(b for b in dialog.findChildren(QAbstractButton) if b.text() == "OK")
        corner = ok.mapTo(dialog, QPoint(ok.width() - 1, ok.height() - 1))
        seen["size"], seen["ok shows"] = (
            dialog.size(),
            ok.isVisible() and dialog.rect().contains(corner),
        )
        browser = dialog.findChild(QTextBrowser)
        seen["text"] = browser.toHtml() if browser else dialog.findChild(QLabel).text()
        dialog.accept()

    when_modal(QDialog, look)
    window.menus.about.trigger()
    qtbot.waitUntil(lambda: "text" in seen, timeout=TIMEOUT)
    room = window.screen().availableGeometry()
    assert seen["size"].height() <= room.height() * 0.8 and seen["size"].width() <= 800
    assert seen["ok shows"]
    text = str(seen["text"])
    assert f"Vitrina {app_version()}" in text and app_version() != ""
    assert str(home / "catalog.sqlite") in text and "tiny@1" in text
    assert "window.md" in text and "cli.md" in text  # links to the docs
    assert "tests/tinybundle.py" not in text  # no training commands, no cache paths
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.grid, timeout=TIMEOUT)

    info = bundle_info(load_bundle(tiny_set_bundle))
    assert (info.label, info.backbone, info.created) == (
        "tiny-set@1",
        "tiny-mean-colour",
        "2026-01-01",
    )
    assert "none" in about_html("c.db", None, "No model bundle at /x.")
    assert "docs/" in about_html("c.db", info, docs_dir=home / "no-docs")


def test_settings_choose_catalog_url_and_bundle(
    qtbot, window: MainWindow, home: Path, tiny_bundle: Path
):
    dialog = SettingsDialog("old.db", "", window)
    dialog.catalog.setText("  postgresql+psycopg://shop@db/vitrina ")
    dialog.bundle.setText(str(tiny_bundle))
    assert dialog.values() == ("postgresql+psycopg://shop@db/vitrina", str(tiny_bundle))
    dialog.deleteLater()

    later = str(home / "later.sqlite")
    window.files.apply_settings(later, str(tiny_bundle), now=False)
    assert Settings().catalog == later
    assert "next start" in window.statusBar().currentMessage()
    assert window.ctx.catalog.url.endswith("catalog.sqlite")

    other = home / "other.sqlite"
    with qtbot.waitSignal(window.opened, timeout=TIMEOUT):
        window.files.apply_settings(str(other), str(tiny_bundle))
    assert window.ctx is not None and str(other) in window.windowTitle()
    assert (Settings().catalog, Settings().bundle) == (str(other), str(tiny_bundle))
    assert json.loads((tiny_bundle / "manifest.json").read_text())["name"] in window.windowTitle()


def test_settings_after_a_db_start_show_the_open_catalog_and_ok_keeps_it(
    qtbot, home: Path, tiny_bundle: Path, photos_dir: Path
):
    db = home / "started-with-db.sqlite"
    window = open_window(qtbot, db, tiny_bundle)  # as `vitrina --db ... --bundle ...`
    import_and_wait(qtbot, window, [photos_dir])
    ctx, counts = window.ctx, window.stats_label.text()
    assert (Settings().catalog, Settings().bundle) == ("", "")
    seen: dict[str, object] = {}

    def press_ok(dialog: SettingsDialog) -> None:
        seen["values"] = dialog.values()
        seen["note"] = " ".join(label.text() for label in dialog.findChildren(QLabel))
        dialog.accept()

    when_modal(SettingsDialog, press_ok)
    window.menus.settings.trigger()
    qtbot.waitUntil(lambda: "values" in seen, timeout=TIMEOUT)
    assert seen["values"] == (str(db), str(tiny_bundle))
    assert "--db" in str(seen["note"])  # it says a plain start opens another catalog
    qtbot.wait(300)
    assert window.ctx is ctx and str(db) in window.windowTitle()
    assert window.stats_label.text() == counts and "8 photos" in counts
    assert (Settings().catalog, Settings().bundle) == ("", "")  # nothing saved either

    # A change, for the next start only: saved, the open catalog stays.
    later = str(home / "later.sqlite")

    def change_for_later(dialog: SettingsDialog) -> None:
        dialog.catalog.setText(later)
        dialog.apply_now.setChecked(False)
        dialog.accept()

    when_modal(SettingsDialog, change_for_later)
    window.menus.settings.trigger()
    qtbot.waitUntil(lambda: Settings().catalog == later, timeout=TIMEOUT)
    assert window.ctx is ctx and Settings().bundle == str(tiny_bundle)


def test_open_catalog_is_an_open_dialog_and_new_catalog_makes_a_new_file(
    qtbot, window: MainWindow, home: Path, monkeypatch
):
    existing = home / "existing.sqlite"
    Catalog.open(existing).close()
    asked: list[str] = []

    def open_file(*args, **kwargs):
        asked.append("open")
        return str(existing), ""

    def save_file(*args, **kwargs):
        asked.append("save")
        return str(target), ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(open_file))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(save_file))
    with qtbot.waitSignal(window.opened, timeout=TIMEOUT):
        window.menus.open_catalog.trigger()
    assert asked == ["open"] and str(existing) in window.windowTitle()

    target = existing  # New catalog… never takes an existing file
    window.menus.new_catalog.trigger()
    assert asked == ["open", "save"] and "already exists" in window.statusBar().currentMessage()
    target = home / "fresh"
    with qtbot.waitSignal(window.opened, timeout=TIMEOUT):
        window.menus.new_catalog.trigger()
    assert (home / "fresh.sqlite").exists() and str(home / "fresh.sqlite") in window.windowTitle()
    assert Settings().catalog == str(home / "fresh.sqlite")


def test_status_tips_have_no_mnemonic_marks(window: MainWindow):
    assert window.menus.import_files.statusTip() == "Import photos…"
    tips = [action.statusTip() for action in window.actions()]
    assert tips and not [tip for tip in tips if "&" in tip]


def test_find_similar_to_a_photo_from_the_file_menu(
    qtbot, window: MainWindow, photos_dir: Path, monkeypatch
):
    outside = photos_dir.parent / "outside.jpg"
    (photos_dir / "hat.jpg").rename(outside)
    import_and_wait(qtbot, window, [photos_dir])
    threads: list[threading.Thread] = []
    real = catalog_session.similar_to_file

    def recorded(ctx, path):
        threads.append(threading.current_thread())
        return real(ctx, path)

    monkeypatch.setattr(catalog_session, "similar_to_file", recorded)
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(outside), ""))
    )
    window.menus.find_similar.trigger()
    qtbot.waitUntil(
        lambda: "outside.jpg (not imported)" in window.strip.title.text(), timeout=TIMEOUT
    )
    assert window.strip.list.count() == 7 and window.ctx.catalog.count() == 7
    assert threads and threads[0] is not threading.main_thread()  # decoded off the UI thread

    broken = photos_dir.parent / "broken.jpg"
    broken.write_text("not a photo")
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(broken), ""))
    )
    window.menus.find_similar.trigger()
    # The strip says why, instead of "Looking for photos like broken.jpg…" for ever.
    qtbot.waitUntil(lambda: "Looking" not in window.strip.title.text(), timeout=TIMEOUT)
    assert "broken.jpg" in window.strip.title.text() and window.strip.list.count() == 0
