"""The File and Help menus: import tags, settings (catalog + bundle), title and About."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtWidgets import QApplication
from ui_helpers import TIMEOUT, accepted, import_and_wait, wait_review

from app.core.bundle import load_bundle
from app.ui.about_dialog import BundleInfo, about_html, bundle_info
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
    assert report.written == 4 and report.photos == {first.id}
    assert accepted(catalog, first.id) == {"category": "dress", "colour": "red", None: "summer"}
    assert {t.value for t in catalog.tags(first.id) if t.family is None} == {"summer", "sale"}

    failures = dict(window.failures.rows())
    assert set(failures) == {f"{tag_file}:3", f"{tag_file}:4", f"{tag_file}:5"}
    assert "no photo" in failures[f"{tag_file}:3"]
    assert "spaceship" in failures[f"{tag_file}:4"]
    assert window.failures_dock.isVisible()
    box = window.files.summary_box
    assert box is not None and "4 tag(s) written on 1 photo(s)" in box.text()
    assert "3 row(s)" not in box.text() and "1 row(s) matched no photo" in box.text()

    # The grid and the open photo show the catalog's new state; keys go back to the grid.
    qtbot.waitUntil(
        lambda: window.review.review.family("category").accepted == "dress", timeout=TIMEOUT
    )
    state = catalog.get_photo(first.id).review_state
    qtbot.waitUntil(lambda: window.model.item(0).review_state == state, timeout=TIMEOUT)
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


def test_about_shows_provenance_and_metrics(window: MainWindow, tiny_set_bundle: Path):
    text = about_html(window.catalog_name, window.bundle_info)
    assert "tiny@1" in text and "tests/tinybundle.py" in text and "2026-01-01" in text
    assert "category" in text  # calibrated thresholds per family
    info = BundleInfo(
        "shop@2",
        "/b",
        "efficientnet_lite2",
        {"category": 0.62},
        {"created": "x"},
        {"category": {"top1": 0.8, "top3": 0.95}},
    )
    text = about_html("c.db", info)
    assert "top1: 0.8; top3: 0.95" in text and "efficientnet_lite2" in text
    assert "none" in about_html("c.db", None, "No model bundle at /x.")
    merged = bundle_info(load_bundle(tiny_set_bundle))
    assert set(merged.thresholds) == {"category", "colour"}


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
