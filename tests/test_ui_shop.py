"""The window's shop side: the possible-duplicate mark and filter, G / Shift+G / D, the least
certain first order with U, File → Export for shop… and the shop categories in Settings."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from PIL import Image, ImageOps
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from ui_helpers import TIMEOUT, import_and_wait, wait_review

from app.core.catalog import PhotoFilter
from app.core.shop_export import SHOPIFY_COLUMNS
from app.ui.main_window import MainWindow
from app.ui.settings_dialog import SettingsDialog
from app.ui.shop_export_dialog import ShopExportDialog, open_shop_export
from app.ui.taxonomy_editor import GOOGLE, LABEL, SHOPIFY

DATA = Path(__file__).resolve().parent / "data"


def _web_copy(folder: Path, name: str) -> Path:
    """The photo re-exported for the web: smaller and recompressed (other bytes)."""
    folder.mkdir(exist_ok=True)
    with Image.open(DATA / name) as image:
        rgb = ImageOps.exif_transpose(image).convert("RGB")
    target = folder / f"{Path(name).stem}-web.jpg"
    rgb.resize((rgb.width * 7 // 10, rgb.height * 7 // 10)).save(target, quality=70)
    return target


def _press(key: Qt.Key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(QApplication.focusWidget(), key, modifier)


def _select(qtbot, window: MainWindow, photo_id: int) -> None:
    """Select the photo's tile as a click would; asked again while the grid still reloads
    (a row found in pages about to be replaced can be another photo's by the time it is
    selected)."""
    pending: list[bool] = []

    def found(row: int) -> None:
        pending.clear()
        if row >= 0:
            window.controller.select_row(row)

    def selected() -> bool:
        if window.controller.current_id == photo_id:
            return True
        if not pending:  # one request in flight at a time
            pending.append(True)
            window.model.row_of(photo_id, found)
        return False

    qtbot.waitUntil(selected, timeout=TIMEOUT)
    window.focus_grid()


@pytest.fixture
def flagged(qtbot, window: MainWindow, photos_dir: Path, tmp_path: Path):
    """The eight test photos, then web copies of the dress and the hat: two flags."""
    import_and_wait(qtbot, window, [photos_dir])
    with qtbot.waitSignal(window.import_finished, timeout=TIMEOUT) as blocker:
        window.import_paths([_web_copy(tmp_path / "web", "dress.jpg")])
    assert "possible duplicate" in window.progress.label.text()
    [match] = blocker.args[0].near_duplicates
    with qtbot.waitSignal(window.import_finished, timeout=TIMEOUT) as blocker:
        window.import_paths([_web_copy(tmp_path / "web", "hat.jpg")])
    [second] = blocker.args[0].near_duplicates
    qtbot.waitUntil(lambda: window.model.rowCount() == 10, timeout=TIMEOUT)
    return match, second


def test_a_possible_duplicate_is_marked_filtered_grouped_and_dismissed(
    qtbot, window: MainWindow, flagged
) -> None:
    dress, hat = flagged
    qtbot.waitUntil(lambda: window.model.item(dress.photo_id - 1) is not None, timeout=TIMEOUT)
    item = window.model.item(dress.photo_id - 1)
    assert item.duplicate_of == dress.original_id
    tip = window.model.data(window.model.index(dress.photo_id - 1), Qt.ItemDataRole.ToolTipRole)
    assert f"possible duplicate of photo {dress.original_id}" in tip
    assert window.model.item(dress.original_id - 1).duplicate_of is None  # the earlier one
    window.filter_bar.duplicates.setChecked(True)
    pairs = {dress.photo_id, dress.original_id, hat.photo_id, hat.original_id}
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=TIMEOUT)  # both pairs
    qtbot.waitUntil(lambda: window.controller.current_id in pairs, timeout=TIMEOUT)
    assert window.filter_bar.active
    _select(qtbot, window, hat.original_id)
    _select(qtbot, window, dress.photo_id)
    assert "may be a duplicate of photo" in window.statusBar().currentMessage()
    with qtbot.waitSignal(window.products.decided, timeout=TIMEOUT) as decided:
        _press(Qt.Key.Key_G)
    assert f"photos {dress.original_id}, {dress.photo_id}" in decided.args[0]
    catalog = window.ctx.catalog
    assert catalog.get_photo(dress.photo_id).product == dress.original_id
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=TIMEOUT)  # the hat pair
    _select(qtbot, window, hat.photo_id)
    with qtbot.waitSignal(window.products.decided, timeout=TIMEOUT) as decided:
        _press(Qt.Key.Key_D)
    assert "1 possible-duplicate flag(s) dismissed" in decided.args[0]
    qtbot.waitUntil(lambda: window.model.rowCount() == 0, timeout=TIMEOUT)
    window.clear_filters()
    qtbot.waitUntil(lambda: window.model.rowCount() == 10, timeout=TIMEOUT)
    _select(qtbot, window, dress.photo_id)
    with (
        qtbot.waitSignal(window.products.decided, timeout=TIMEOUT) as decided,
        qtbot.waitSignal(window.model.reloaded, timeout=TIMEOUT),  # the grid follows
    ):
        _press(Qt.Key.Key_G, Qt.KeyboardModifier.ShiftModifier)
    assert "1 photo(s) taken out" in decided.args[0]
    assert catalog.get_photo(dress.original_id).product is None
    qtbot.waitUntil(lambda: all(window.model.item(r) is not None for r in range(10)))
    _select(qtbot, window, hat.photo_id)
    wait_review(qtbot, window, hat.photo_id)
    _press(Qt.Key.Key_G)  # no open flag left and one photo: says what to do
    qtbot.waitUntil(
        lambda: "select the photos of one product" in window.review.message.text(),
        timeout=TIMEOUT,
    )


def test_least_certain_first_and_u_goes_to_the_next_uncertain_photo(
    qtbot, window: MainWindow, photos_dir: Path
) -> None:
    import_and_wait(qtbot, window, [photos_dir])
    catalog = window.ctx.catalog
    expected = catalog.photo_ids(PhotoFilter(order="uncertain"))
    lowest = {i: min(p.confidence for p in catalog.predictions(i) if p.rank == 1) for i in expected}
    assert [lowest[i] for i in expected] == sorted(lowest.values())
    window.filter_bar.order.setCurrentIndex(window.filter_bar.order.findData("uncertain"))
    qtbot.waitUntil(
        lambda: (
            window.model.item(7) is not None
            and [window.model.item(r).id for r in range(8)] == expected
        ),
        timeout=TIMEOUT,
    )
    assert not window.filter_bar.active  # an order hides nothing
    marked = [r for r in range(8) if window.model.item(r).uncertain]
    assert marked, "the tiny bundle leaves some photo uncertain"
    _select(qtbot, window, expected[0])
    start = window.grid.currentIndex().row()
    after = [r for r in marked if r > start] or marked
    _press(Qt.Key.Key_U)
    qtbot.waitUntil(lambda: window.grid.currentIndex().row() == after[0], timeout=TIMEOUT)


def test_export_for_shop_previews_counts_and_writes(
    qtbot, window: MainWindow, photos_dir: Path, tmp_path: Path
) -> None:
    report = import_and_wait(qtbot, window, [photos_dir])
    catalog = window.ctx.catalog
    catalog.set_tag(report.added[0], "category", "dress")
    catalog.set_tag(report.added[1], "category", "pants")  # the shop's own: no taxonomy row
    dialog = open_shop_export(window)
    assert isinstance(dialog, ShopExportDialog)
    qtbot.waitUntil(lambda: dialog.export is not None, timeout=TIMEOUT)
    assert dialog.table.columnCount() == len(SHOPIFY_COLUMNS) and dialog.table.rowCount() == 1
    assert dialog.table.horizontalHeaderItem(0).text() == "URL handle"
    text = dialog.summary.text()
    assert "1 product(s) from 1 photo(s)" in text and "Left out: 7 photo(s)" in text
    assert "no taxonomy row for category 'pants'" in text and "no accepted category" in text
    dialog.image_url.setText("cdn.example.com")
    qtbot.waitUntil(lambda: "not a web address" in dialog.summary.text(), timeout=TIMEOUT)
    assert not dialog.export_button.isEnabled()
    with qtbot.waitSignal(dialog.previewed, timeout=TIMEOUT):
        dialog.image_url.setText("https://cdn.example.com/shoot/")
    assert (
        dialog.table.item(0, SHOPIFY_COLUMNS.index("Product image URL"))
        .text()
        .startswith("https://cdn.example.com/shoot/")
    )
    target = tmp_path / "out" / "products.csv"
    target.parent.mkdir()
    dialog.ask_target = lambda name: target
    with qtbot.waitSignal(dialog.written, timeout=TIMEOUT):
        dialog.export_button.click()
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(rows) == 1 and rows[0]["Product category"].endswith("> Dresses")
    assert "Exported for shop to" in window.statusBar().currentMessage()
    with qtbot.waitSignal(dialog.previewed, timeout=TIMEOUT):
        dialog.format.setCurrentIndex(dialog.format.findData("google"))
    assert dialog.table.horizontalHeaderItem(0).text() == "id"
    dialog.reject()


def test_settings_edit_the_catalogs_shop_categories(qtbot, window: MainWindow) -> None:
    window.files.edit_settings()
    qtbot.waitUntil(lambda: window.files.settings_dialog is not None, timeout=TIMEOUT)
    dialog: SettingsDialog = window.files.settings_dialog
    editor = dialog.taxonomy
    assert editor is not None and dialog.tabs.count() == 2
    rows = {editor.table.item(r, LABEL).text(): r for r in range(editor.table.rowCount())}
    assert {"dress", "undershirt", "pants"} <= set(rows)  # the map's and the bundle's
    editor.table.item(rows["pants"], GOOGLE).setText("nope")
    dialog.accept()
    assert dialog.isVisible() and "not a Google product category id" in dialog.problem.text()
    editor.table.item(rows["pants"], GOOGLE).setText("204")
    editor.table.item(rows["undershirt"], SHOPIFY).setText(
        "Apparel & Accessories > Clothing > Men's Undergarments > Men's Undershirts"
    )
    dialog.accept()
    catalog = window.ctx.catalog
    qtbot.waitUntil(lambda: len(catalog.taxonomy_overrides()) == 2, timeout=TIMEOUT)
    overrides = catalog.taxonomy_overrides()
    assert (overrides["pants"].google_id, overrides["pants"].shopify_path) == ("204", None)
    assert overrides["undershirt"].google_id is None  # the map's Google row stays
    qtbot.waitUntil(  # the status line follows the write's signal
        lambda: "Saved 2 shop category row(s)" in window.statusBar().currentMessage(),
        timeout=TIMEOUT,
    )
