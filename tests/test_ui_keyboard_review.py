"""A new user reviews a shoot of 32 photos with the keyboard only, as issue 4 asks."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from ui_helpers import (
    TIMEOUT,
    accepted,
    all_confident,
    grid_state,
    import_and_wait,
    settle,
    shown,
    wait_review,
)

from app.core.catalog import Catalog, PhotoFilter
from app.ui.label_picker import LabelPicker
from app.ui.main_window import MainWindow

DATA = Path(__file__).resolve().parent / "data"
VARIANTS = 4


@pytest.fixture
def shoot(tmp_path: Path) -> Path:
    """32 distinct photos: each test photo four times, a few pixels changed so hashes differ."""
    folder = tmp_path / "shoot"
    folder.mkdir()
    for source in sorted(DATA.glob("*.jpg")):
        with Image.open(source) as image:
            rgb = image.convert("RGB")
        for n in range(VARIANTS):
            variant = rgb.copy()
            for x in range(n + 1):
                variant.putpixel((x, 0), (n * 60, 255 - n * 60, x * 7 % 256))
            variant.save(folder / f"{source.stem}-{n}.jpg", quality=92)
    return folder


def press(window: MainWindow, key: Qt.Key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    """A key press where the user's keys go: the focused widget."""
    QTest.keyClick(QApplication.focusWidget() or window, key, modifier)


def confident_tops(catalog: Catalog, photo_id: int) -> dict[str, str]:
    return {
        p.family: p.label
        for p in catalog.predictions(photo_id)
        if p.rank == 1 and p.confidence >= p.threshold
    }


def pick_in_dialog(text: str, chosen: list[str]) -> None:
    """When the label picker opens: type to filter, then Enter, as a user would."""

    def act() -> None:
        picker = QApplication.activeModalWidget()
        if not isinstance(picker, LabelPicker):
            QTimer.singleShot(20, act)
            return
        QTest.keyClicks(picker.search, text)
        chosen.append(picker.list.currentItem().text())
        QTest.keyClick(picker.search, Qt.Key.Key_Return)

    QTimer.singleShot(0, act)


def test_review_a_shoot_by_keyboard_only(qtbot, window: MainWindow, shoot: Path):
    report = import_and_wait(qtbot, window, [shoot])
    count = len(report.added)
    assert count == 8 * VARIANTS and not report.failures
    catalog = window.ctx.catalog
    ids = [window.model.item(row).id for row in range(count)]

    # After the import the keys work at once: the first photo is current, the grid focused.
    wait_review(qtbot, window, ids[0])
    assert QApplication.focusWidget() is window.grid

    # A over the whole shoot: accept what is confident and move on, to the end.
    for row in range(count):
        qtbot.waitUntil(lambda r=row: window.grid.currentIndex().row() == r, timeout=TIMEOUT)
        press(window, Qt.Key.Key_A)
    qtbot.waitUntil(lambda: "last photo" in window.statusBar().currentMessage(), timeout=TIMEOUT)
    settle(window)
    sure = [pid for pid in ids if all_confident(catalog, pid)]
    assert catalog.stats()["review_state"]["reviewed"] == len(sure) < count
    for photo_id in ids:
        assert accepted(catalog, photo_id) == confident_tops(catalog, photo_id)

    # Back three photos, then change the colour through the searchable list.
    for _ in range(3):
        press(window, Qt.Key.Key_K)
    photo = ids[-4]
    wait_review(qtbot, window, photo)
    press(window, Qt.Key.Key_Down)
    assert window.review.focused_family.family == "colour"
    current = accepted(catalog, photo).get("colour")
    target = next(label for label in ("green", "white", "black") if label != current)
    chosen: list[str] = []
    pick_in_dialog(target[:3], chosen)
    press(window, Qt.Key.Key_C)
    assert chosen == [target]
    settle(window)
    assert accepted(catalog, photo)["colour"] == target
    # The keys drive the review again, not the closed dialog.
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.grid, timeout=TIMEOUT)

    # Up to category, R rejects it; undo and redo by keyboard.
    qtbot.waitUntil(
        lambda: getattr(shown(window, "colour"), "accepted", None) == target, timeout=TIMEOUT
    )
    press(window, Qt.Key.Key_Up)
    category = window.review.focused_family
    assert category.family == "category"
    label = category.accepted or category.decision.top.label
    press(window, Qt.Key.Key_R)
    settle(window)

    def status(family: str) -> str | None:
        return next((t.status for t in catalog.tags(photo) if t.family == family), None)

    assert status("category") == "rejected"
    press(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(window)
    assert status("category") == ("accepted" if category.accepted else None)
    press(
        window,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    settle(window)
    assert status("category") == "rejected"

    # J moves on: the last photo is still the end, and nothing else changed.
    press(window, Qt.Key.Key_J)
    wait_review(qtbot, window, ids[-3])
    rejected = [t for pid in ids for t in catalog.tags(pid) if t.status == "rejected"]
    assert [(t.family, t.value) for t in rejected] == [("category", label)]
    # A rejection is a decision too: the photo stays reviewed, and no other changed.
    assert set(catalog.photo_ids(PhotoFilter(review_state="reviewed"))) == set(sure)
    assert photo in sure


def test_end_of_a_filtered_list_says_so_and_keeps_the_photo(
    qtbot, window: MainWindow, photos_dir: Path
):
    import_and_wait(qtbot, window, [photos_dir])
    window.ctx.catalog.accept_confident_many([window.model.item(0).id])  # one reviewed
    with qtbot.waitSignal(window.model.reloaded, timeout=TIMEOUT):
        window.filter_bar.state.setCurrentIndex(window.filter_bar.state.findData("suggested"))
    rows = window.model.rowCount()
    assert rows == 7
    qtbot.waitUntil(lambda: window.model.item(rows - 1) is not None, timeout=TIMEOUT)
    window.controller.select_row(rows - 1)
    last = window.model.item(rows - 1).id
    wait_review(qtbot, window, last)
    window.grid.setFocus()
    press(window, Qt.Key.Key_A)
    qtbot.waitUntil(lambda: "last photo" in window.statusBar().currentMessage(), timeout=TIMEOUT)
    settle(window)
    assert window.ctx.catalog.get_photo(last).review_state == "reviewed"
    assert window.grid.currentIndex().row() == rows - 1


def change(qtbot, window: MainWindow) -> None:
    """C, then wait for the edit and for the keys to be back on the grid."""
    press(window, Qt.Key.Key_C)
    settle(window)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.grid, timeout=TIMEOUT)


def test_change_label_starts_on_the_current_label(qtbot, window: MainWindow, photos_dir: Path):
    import_and_wait(qtbot, window, [photos_dir])
    catalog = window.ctx.catalog
    first = window.model.item(0).id
    wait_review(qtbot, window, first)
    category = window.review.focused_family
    top = category.decision.top.label
    assert category.family == "category" and category.labels[0] != top

    # C then Enter, nothing typed: the top suggestion, not the family's first label.
    chosen: list[str] = []
    pick_in_dialog("", chosen)
    change(qtbot, window)
    assert chosen == [top] and accepted(catalog, first)["category"] == top

    # An accepted label is where the list starts next time.
    qtbot.waitUntil(lambda: window.review.focused_family.accepted == top, timeout=TIMEOUT)
    pick_in_dialog("dre", chosen)
    change(qtbot, window)
    qtbot.waitUntil(lambda: window.review.focused_family.accepted == "dress", timeout=TIMEOUT)
    pick_in_dialog("", chosen)
    change(qtbot, window)
    assert chosen == [top, "dress", "dress"] and accepted(catalog, first)["category"] == "dress"

    # After R, the rejected suggestion is not where the list starts: the next one is.
    second = window.model.item(1).id
    press(window, Qt.Key.Key_J)
    wait_review(qtbot, window, second)
    ranked = window.review.focused_family.decision.ranked
    press(window, Qt.Key.Key_R)
    settle(window)
    qtbot.waitUntil(lambda: window.review.focused_family.rejected is not None, timeout=TIMEOUT)
    pick_in_dialog("", chosen)
    change(qtbot, window)
    assert (
        chosen[-1] == ranked[1].label and accepted(catalog, second)["category"] == ranked[1].label
    )


def test_a_leaves_an_uncertain_photo_to_review_and_undo_takes_review_back(
    qtbot, window: MainWindow, photos_dir: Path
):
    import_and_wait(qtbot, window, [photos_dir])
    catalog = window.ctx.catalog
    row = next(r for r in range(8) if window.model.item(r).name == "longsleeve.jpg")
    photo = window.model.item(row).id
    window.controller.select_row(row)
    wait_review(qtbot, window, photo)
    assert [f.family for f in window.review.review.families if not f.decision.confident] == [
        "colour"
    ]
    press(window, Qt.Key.Key_A)  # accepts the confident category, moves on
    settle(window)
    assert set(accepted(catalog, photo)) == {"category"}
    assert catalog.get_photo(photo).review_state == "suggested"  # colour is still open
    qtbot.waitUntil(lambda: grid_state(window, row) == "suggested", timeout=TIMEOUT)
    assert window.model.item(row).uncertain  # the red ? stays until colour is decided

    press(window, Qt.Key.Key_K)
    wait_review(qtbot, window, photo)
    press(window, Qt.Key.Key_Down)
    press(window, Qt.Key.Key_2)  # a correction: colour = its 2nd suggestion
    settle(window)
    assert catalog.get_photo(photo).review_state == "reviewed"
    qtbot.waitUntil(lambda: grid_state(window, row) == "reviewed", timeout=TIMEOUT)
    press(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(window)
    assert "colour" not in accepted(catalog, photo)
    assert catalog.get_photo(photo).review_state == "suggested"
    qtbot.waitUntil(lambda: grid_state(window, row) == "suggested", timeout=TIMEOUT)


def test_enter_escape_and_clear_filters_give_the_keys_back_to_the_grid(
    qtbot, window: MainWindow, photos_dir: Path
):
    import_and_wait(qtbot, window, [photos_dir])
    catalog = window.ctx.catalog
    search = window.filter_bar.search
    for leave in (Qt.Key.Key_Return, Qt.Key.Key_Escape):
        press(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
        assert QApplication.focusWidget() is search
        QTest.keyClicks(search, "a")  # typed, not a review key
        assert search.text() == "a"
        press(window, leave)
        assert QApplication.focusWidget() is window.grid
        assert search.text() == "a"  # the search stays
    assert not any(accepted(catalog, pid) for pid in catalog.photo_ids())

    press(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    press(
        window,
        Qt.Key.Key_F,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert search.text() == "" and QApplication.focusWidget() is window.grid
    qtbot.waitUntil(lambda: window.model.rowCount() == 8, timeout=TIMEOUT)
    first = window.model.item(0).id
    wait_review(qtbot, window, first)
    press(window, Qt.Key.Key_A)  # reaches the photo, does not type "a"
    settle(window)
    assert search.text() == "" and accepted(catalog, first)
