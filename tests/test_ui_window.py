"""The real window, offscreen: drop → tags → keyboard review → catalog → similar → filter."""

from __future__ import annotations

import os
import threading

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import time
from pathlib import Path

from PySide6.QtCore import QEvent, QItemSelection, QItemSelectionModel, Qt, QTimer
from PySide6.QtGui import QHelpEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QToolTip
from ui_helpers import (
    TIMEOUT,
    accepted,
    all_confident,
    drop,
    import_and_wait,
    open_window,
    settle,
    wait_review,
)

from app.ui.main_window import MainWindow
from app.ui.settings import Settings
from app.ui.stall_probe import StallProbe


def test_drop_review_by_keyboard_similar_and_filter(qtbot, window: MainWindow, photos_dir: Path):
    report = import_and_wait(qtbot, window, [photos_dir])
    assert len(report.added) == 8 and not report.failures
    catalog = window.ctx.catalog
    first = window.model.item(0).id
    wait_review(qtbot, window, first)
    families = [f.family for f in window.review.review.families]
    assert families == ["category", "colour"]
    qtbot.waitUntil(lambda: all(row.isVisible() for row in window.review._rows), timeout=TIMEOUT)

    # A: accept the confident suggestions and go to the next photo.
    confident = {
        f.family: f.decision.top.label for f in window.review.review.families if f.pending_confident
    }
    QTest.keyClick(window.grid, Qt.Key.Key_A)
    second = window.model.item(1).id
    wait_review(qtbot, window, second)
    settle(window)
    assert accepted(catalog, first) == confident
    assert catalog.get_photo(first).review_state == "reviewed"

    # R rejects the focused family; Ctrl+Z takes it back.
    focused = window.review.focused_family
    QTest.keyClick(window.grid, Qt.Key.Key_R)
    settle(window)
    assert any(t.status == "rejected" for t in catalog.tags(second))
    QTest.keyClick(window.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(window)
    assert not any(t.family == focused.family for t in catalog.tags(second))

    # Down + C: change the second family through the (patched) searchable list.
    window.controller.ask_label = lambda labels, family, title, current: (
        family,
        labels[family][-1],
    )
    QTest.keyClick(window.grid, Qt.Key.Key_Down)
    QTest.keyClick(window.grid, Qt.Key.Key_C)
    settle(window)
    assert accepted(catalog, second)["colour"] == "black"

    # T: a free-form tag.
    window.controller.ask_text = lambda title: "summer sale"
    QTest.keyClick(window.grid, Qt.Key.Key_T)
    settle(window)
    assert accepted(catalog, second)[None] == "summer sale"
    qtbot.waitUntil(lambda: "summer sale" in window.review.free_tags.text(), timeout=TIMEOUT)

    # K goes back; J forward again.
    QTest.keyClick(window.grid, Qt.Key.Key_K)
    wait_review(qtbot, window, first)
    QTest.keyClick(window.grid, Qt.Key.Key_J)
    wait_review(qtbot, window, second)

    # The similar strip: click a neighbour, the grid jumps to it.
    qtbot.waitUntil(lambda: window.strip.list.count() > 0, timeout=TIMEOUT)
    item = window.strip.list.item(0)
    target = window.strip.photo_ids()[0]
    rect = window.strip.list.visualItemRect(item)
    QTest.mouseClick(window.strip.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    wait_review(qtbot, window, target)
    assert window.grid.currentIndex().row() == target - 1

    # Find: review state, then the search box.
    window.filter_bar.state.setCurrentIndex(window.filter_bar.state.findData("reviewed"))
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=TIMEOUT)
    window.clear_filters()
    qtbot.waitUntil(lambda: window.model.rowCount() == 8, timeout=TIMEOUT)
    QTest.keyClicks(window.filter_bar.search, "summer")
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: window.model.item(0) is not None, timeout=TIMEOUT)
    assert window.model.item(0).id == second


def test_bulk_accept_on_selection_and_undo(qtbot, window: MainWindow, photos_dir: Path):
    import_and_wait(qtbot, window, [photos_dir])
    catalog = window.ctx.catalog
    qtbot.waitUntil(lambda: window.model.item(7) is not None, timeout=TIMEOUT)
    window.grid.selectAll()
    QTest.keyClick(window.grid, Qt.Key.Key_A)
    settle(window)
    # A photo with an uncertain family (longsleeve's colour) is still to be reviewed.
    sure = [pid for pid in catalog.photo_ids() if all_confident(catalog, pid)]
    assert 0 < len(sure) < 8
    assert catalog.stats()["review_state"] == {
        "new": 0,
        "suggested": 8 - len(sure),
        "reviewed": len(sure),
    }
    window.controller.undo_stack.undo()
    settle(window)
    assert not any(accepted(catalog, pid) for pid in catalog.photo_ids())


def test_conflict_is_reported_and_photo_reloaded(qtbot, window: MainWindow, photos_dir: Path):
    import_and_wait(qtbot, window, [photos_dir])
    catalog = window.ctx.catalog
    first = window.model.item(0).id
    wait_review(qtbot, window, first)
    family = window.review.focused_family.family
    catalog.set_tag(first, family, "someone-else", actor="colleague")  # behind the window's back
    QTest.keyClick(window.grid, Qt.Key.Key_R)
    qtbot.waitUntil(lambda: "after you loaded it" in window.review.message.text(), timeout=TIMEOUT)
    qtbot.waitUntil(
        lambda: window.review.review.family(family).accepted == "someone-else", timeout=TIMEOUT
    )
    assert accepted(catalog, first)[family] == "someone-else"


def test_outside_photo_on_strip_is_not_imported(qtbot, window: MainWindow, photos_dir: Path):
    outside = photos_dir / "hat.jpg"
    keep = photos_dir.parent / "outside.jpg"
    outside.rename(keep)
    import_and_wait(qtbot, window, [photos_dir])
    drop(window.strip.list, [keep])
    qtbot.waitUntil(lambda: "not imported" in window.strip.title.text(), timeout=TIMEOUT)
    qtbot.waitUntil(lambda: window.strip.list.count() == 7, timeout=TIMEOUT)
    assert window.ctx.catalog.count() == 7
    # The current photo's own neighbours, reloaded or arriving late, do not replace them.
    with qtbot.waitSignal(window.controller.review_shown, timeout=TIMEOUT):
        window.controller.reload_current()
    window.controller._similar_loaded(window.controller.current_id, [])
    assert "not imported" in window.strip.title.text()


def test_bad_files_listed_with_reason(qtbot, window: MainWindow, photos_dir: Path):
    (photos_dir / "notes.jpg").write_text("<html>not a photo</html>")
    (photos_dir / "empty.png").write_bytes(b"")
    report = import_and_wait(qtbot, window, [photos_dir])
    assert len(report.added) == 8
    rows = dict(window.failures.rows())
    assert {Path(p).name for p in rows} == {"notes.jpg", "empty.png"}
    assert all(reason for reason in rows.values())
    assert window.progress.failures.isVisibleTo(window.progress)


def test_thresholds_change_confidence_and_are_saved(qtbot, window: MainWindow, photos_dir: Path):
    import_and_wait(qtbot, window, [photos_dir])
    first = window.model.item(0).id
    wait_review(qtbot, window, first)
    qtbot.waitUntil(
        lambda: "confident" in window.thresholds._shares["colour"].text(), timeout=TIMEOUT
    )
    with qtbot.waitSignal(window.thresholds.changed, timeout=TIMEOUT):
        window.thresholds.set_value("colour", 1.0)
    qtbot.waitUntil(
        lambda: not window.review.review.family("colour").decision.confident, timeout=TIMEOUT
    )
    qtbot.waitUntil(
        lambda: window.thresholds._shares["colour"].text() == "0% confident", timeout=TIMEOUT
    )
    assert Settings().thresholds() == {"colour": 1.0}


def test_export_csv_from_window(qtbot, window: MainWindow, photos_dir: Path, tmp_path: Path):
    import_and_wait(qtbot, window, [photos_dir])
    target = tmp_path / "out.csv"
    window.files.export_to("csv", target)
    qtbot.waitUntil(target.exists, timeout=TIMEOUT)
    assert target.read_text().startswith("path,sha256")


def test_window_opens_without_bundle_and_says_how_to_get_one(qtbot, home: Path, photos_dir: Path):
    window = open_window(qtbot, home / "catalog.sqlite", home / "no-bundle")
    qtbot.waitUntil(window.banner.isVisible, timeout=TIMEOUT)
    assert "bundle" in window.banner.text.text()
    assert window.ctx is not None
    assert window.import_paths([photos_dir]) is False
    assert "bundle" in window.statusBar().currentMessage()


def test_unreadable_catalog_gets_a_message_not_a_traceback(qtbot, home: Path, tiny_bundle: Path):
    broken = home / "broken.sqlite"
    broken.write_bytes(b"this is not a database" * 100)
    window = open_window(qtbot, broken, tiny_bundle)
    qtbot.waitUntil(window.banner.isVisible, timeout=TIMEOUT)
    assert "catalog" in window.banner.text.text().lower()
    assert window.ctx is None
    assert "Traceback" not in window.banner.text.text()


def test_excepthook_shows_a_dialog_message(qtbot, window: MainWindow):
    window.reporter.excepthook(RuntimeError, RuntimeError("boom"), None)
    qtbot.waitUntil(lambda: bool(window.reporter.messages), timeout=TIMEOUT)
    assert "boom" in window.reporter.messages[0]


def test_stall_probe_sees_a_blocked_event_loop(qtbot):
    probe = StallProbe(interval_ms=5)
    probe.start()
    QTimer.singleShot(20, lambda: time.sleep(0.12))
    qtbot.waitUntil(lambda: probe.ticks > 30, timeout=5000)
    assert probe.stop() >= 100


def test_long_status_message_stops_before_the_counts(qtbot, window: MainWindow):
    """Qt would clip it mid-letter against the photo counts; it ends in "…" a gap before
    them, and the whole message is the tooltip."""
    qtbot.waitUntil(lambda: bool(window.stats_label.text()), timeout=TIMEOUT)
    window.resize(900, 700)
    bar = window.status_bar
    long = "A problem naming a long path: " + "/very/deep/folder" * 20 + " and what to do."
    bar.showMessage(long)
    qtbot.waitUntil(lambda: bar.message_rect().right() < window.stats_label.x(), timeout=TIMEOUT)
    shown = bar.shown_text()
    assert shown.endswith("…") and long.startswith(shown[:-1].rstrip())
    assert bar.fontMetrics().horizontalAdvance(shown) <= bar.message_rect().width()
    assert bar.hover_text() == long
    bar.showMessage("Saved.")
    assert bar.shown_text() == "Saved." and bar.hover_text() == ""


def test_photos_another_bundle_tagged_are_named_and_retagged(
    qtbot, home: Path, tiny_bundle: Path, photos_dir: Path, tmp_path: Path
):
    """After a bundle update the window says which photos the new bundle has not tagged
    (no similar items yet) and File → Re-tag with this bundle tags them again, keeping
    the accepted tags."""
    from tinybundle import make_tiny_bundle

    db = home / "catalog.sqlite"
    old = open_window(qtbot, db, tiny_bundle)
    import_and_wait(qtbot, old, [photos_dir])
    photo = old.model.item(0).id
    old.ctx.catalog.set_tag(photo, "colour", "green")
    old.close()

    newer = make_tiny_bundle(tmp_path / "newer", version="2", seed=1)
    window = open_window(qtbot, db, newer)
    assert window.banner.isVisible()
    assert "8 photo(s) were tagged by another model bundle" in window.banner.text.text()
    # The old bundle's similarity index is rebuilt: the long explanation (index path and
    # both bundle keys) is read on hover, the status bar keeps a short line that fits.
    bar = window.status_bar
    assert bar.currentMessage() == "Catalog open, with a note — hover here to read it."
    assert bar.shown_text() == bar.currentMessage()
    assert "similarity index was built by bundle" in bar.hover_text()
    qtbot.waitUntil(lambda: window.model.item(0) is not None, timeout=TIMEOUT)
    window.controller.select_row(0)
    qtbot.waitUntil(lambda: "Re-tag with this bundle" in window.strip.title.text(), timeout=TIMEOUT)
    assert window.strip.list.count() == 0
    assert window.minimumSizeHint().width() < 1200  # the long message wraps

    window.removal.confirm = lambda _question: True
    with qtbot.waitSignal(window.removal.removed, timeout=TIMEOUT):
        window.controller.select_row(7)
        window.menus.remove.trigger()
    qtbot.waitUntil(
        lambda: "7 photo(s) were tagged by another" in window.banner.text.text(), timeout=TIMEOUT
    )

    with qtbot.waitSignal(window.import_finished, timeout=TIMEOUT) as blocker:
        window.menus.retag.trigger()
    report = blocker.args[0]
    assert len(report.added) == 7 and not report.failures
    assert "Re-tagged 7 photo(s)" in window.progress.label.text()
    assert not window.banner.isVisible()
    qtbot.waitUntil(lambda: window.strip.list.count() > 0, timeout=TIMEOUT)
    catalog = window.ctx.catalog
    assert catalog.photos_missing_embedding(window.ctx.tagger.embedding_key) == []
    assert accepted(catalog, photo)["colour"] == "green"


def test_remove_from_catalog_asks_first_and_moves_on(qtbot, window: MainWindow, photos_dir: Path):
    """Delete asks, naming the accepted tags that would go; Cancel changes nothing; Remove
    takes the photos out of the catalog, the grid and the similar items, never off disk."""
    import_and_wait(qtbot, window, [photos_dir])
    catalog, model = window.ctx.catalog, window.model
    first, second, third = (model.item(row).id for row in range(3))
    catalog.add_free_tag(first, "summer sale")
    window.controller.select_row(5)
    wait_review(qtbot, window, model.item(5).id)
    QTest.keyClick(window.grid, Qt.Key.Key_A)  # an edit on the undo stack
    settle(window)
    assert window.controller.undo_stack.count() == 1
    questions: list[str] = []
    window.removal.confirm = lambda question: questions.append(question) or False
    window.controller.select_row(0)
    wait_review(qtbot, window, first)
    QTest.keyClick(window.grid, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: len(questions) == 1, timeout=TIMEOUT)
    assert questions[0].startswith(f"Remove {Path(model.item(0).path).name} from the catalog?")
    assert "Its 1 accepted tag(s) go with it" in questions[0] and "files stay" in questions[0]
    settle(window)
    assert catalog.count() == 8

    assert window.menus.remove in window.grid.actions()  # also on right-click
    window.removal.confirm = lambda question: questions.append(question) or True
    window.grid.selectionModel().select(
        QItemSelection(model.index(0), model.index(1)),
        QItemSelectionModel.SelectionFlag.ClearAndSelect,
    )
    with qtbot.waitSignal(window.removal.removed, timeout=TIMEOUT) as removed:
        QTest.keyClick(window.grid, Qt.Key.Key_Delete)
    assert removed.args[0] == [first, second]
    assert questions[-1].startswith("Remove 2 photos")
    assert "Their 1 accepted tag(s) go with them" in questions[-1]
    assert catalog.count() == 6 and catalog.accepted_tag_count([first]) == 0
    assert "Ctrl+Z puts them back" in window.statusBar().currentMessage()
    assert window.controller.undo_stack.count() == 2  # the accept, then the removal
    assert all(photo.is_file() for photo in photos_dir.glob("*.jpg"))
    qtbot.waitUntil(lambda: model.rowCount() == 6, timeout=TIMEOUT)
    wait_review(qtbot, window, third)
    qtbot.waitUntil(lambda: len(window.strip.photo_ids()) == 5, timeout=TIMEOUT)
    assert {first, second}.isdisjoint(window.strip.photo_ids())
    qtbot.waitUntil(lambda: window.stats_label.text().startswith("6 photos"), timeout=TIMEOUT)

    # Ctrl+Z puts both back with their tags and similar items; the accept before the
    # removal is still on the stack and undoes next.
    with qtbot.waitSignal(window.removal.restored, timeout=TIMEOUT) as restored:
        QTest.keyClick(window.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert restored.args[0] == [first, second]
    assert catalog.count() == 8 and catalog.accepted_tag_count([first]) == 1
    assert "Put 2 photo(s) back" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: model.rowCount() == 8, timeout=TIMEOUT)
    wait_review(qtbot, window, first)
    qtbot.waitUntil(lambda: second in window.strip.photo_ids(), timeout=TIMEOUT)
    qtbot.waitUntil(lambda: window.stats_label.text().startswith("8 photos"), timeout=TIMEOUT)
    assert window.controller.undo_stack.index() == 1
    fifth = model.item(5).id
    accepted_before = catalog.accepted_tag_count([fifth])
    window.controller.undo_stack.undo()
    settle(window)
    assert catalog.accepted_tag_count([fifth]) < accepted_before


def test_a_failed_undo_of_a_removal_keeps_the_photos_for_another_try(
    qtbot, window: MainWindow, photos_dir: Path, monkeypatch
):
    """If putting removed photos back fails (a locked catalog), nothing is lost: the
    window says so, and the next Ctrl+Z puts them back with their tags."""
    from app.core.errors import CatalogError

    import_and_wait(qtbot, window, [photos_dir])
    catalog, first = window.ctx.catalog, window.model.item(0).id
    catalog.add_free_tag(first, "summer sale")
    window.removal.confirm = lambda question: True
    window.controller.select_row(0)
    wait_review(qtbot, window, first)
    with qtbot.waitSignal(window.removal.removed, timeout=TIMEOUT):
        QTest.keyClick(window.grid, Qt.Key.Key_Delete)
    assert catalog.count() == 7

    restore = window.ctx.restore_photos

    def locked(removed):
        raise CatalogError("The catalog is locked by another program.")

    monkeypatch.setattr(window.ctx, "restore_photos", locked)
    QTest.keyClick(window.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(window)
    qtbot.waitUntil(
        lambda: "Could not put 1 removed photo(s) back" in window.statusBar().currentMessage(),
        timeout=TIMEOUT,
    )
    assert "locked by another program" in window.statusBar().currentMessage()
    assert catalog.count() == 7
    assert window.controller.undo_stack.index() == 1  # Ctrl+Z is still the removal's undo

    monkeypatch.setattr(window.ctx, "restore_photos", restore)
    with qtbot.waitSignal(window.removal.restored, timeout=TIMEOUT) as restored:
        QTest.keyClick(window.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert restored.args[0] == [first]
    assert catalog.count() == 8 and catalog.accepted_tag_count([first]) == 1


def test_an_import_on_a_full_disk_says_the_index_was_not_saved(
    qtbot, window: MainWindow, photos_dir: Path, monkeypatch
):
    """The photos are in the catalog; the status line says there is a note, read on hover."""
    from app.core.similarity import SimilarityIndex

    def full(self) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(SimilarityIndex, "save", full)
    report = import_and_wait(qtbot, window, [photos_dir])
    assert len(report.added) == 8 and window.ctx.catalog.count() == 8
    assert window.progress.label.text().startswith("Imported 8 photo(s)")
    status = window.status_bar
    assert status.currentMessage() == "Imported photos, with a note — hover here to read it."
    assert "index could not be saved after importing photos" in status.hover_text()
    assert "No space left on device" in status.hover_text()


def test_dropping_a_moved_folder_finds_its_photos_again(
    qtbot, home: Path, tiny_bundle: Path, photos_dir: Path, tmp_path: Path
):
    """Photos imported elsewhere (no thumbnails yet) whose folder was then moved: the
    preview says why it is empty and what to do; dropping the moved folder brings them
    back with their tags."""
    from app.core.context import AppContext
    from app.core.importer import import_paths

    db = home / "catalog.sqlite"
    with AppContext.open(db, tiny_bundle) as ctx:
        first_id = import_paths([photos_dir], ctx).added[0]
        ctx.catalog.set_tag(first_id, "colour", "green")
    moved = photos_dir.rename(tmp_path / "moved shoot")
    window = open_window(qtbot, db, tiny_bundle)
    wait_review(qtbot, window, first_id)
    qtbot.waitUntil(lambda: "cannot be shown" in window.preview.image.text(), timeout=TIMEOUT)
    assert "does not exist" in window.preview.image.text()
    assert "drop the folder onto the window" in window.preview.image.text()
    qtbot.waitUntil(lambda: window.grid_thumbs.is_broken(window.model.item(0).sha256))
    spot = window.grid.visualRect(window.model.index(0)).center()
    viewport = window.grid.viewport()
    tip = QHelpEvent(QEvent.Type.ToolTip, spot, viewport.mapToGlobal(spot))
    QApplication.sendEvent(viewport, tip)
    assert "dress.jpg" in QToolTip.text() and "does not exist" in QToolTip.text()
    strip = window.strip.list
    qtbot.waitUntil(lambda: strip.count() > 0, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: "does not exist" in strip.item(0).toolTip(), timeout=TIMEOUT)
    assert not strip.item(0).icon().isNull()  # a "cannot read" tile, not an empty one

    with qtbot.waitSignal(window.import_finished, timeout=TIMEOUT) as blocker:
        drop(window, [moved])
    assert len(blocker.args[0].moved) == 8 and not blocker.args[0].added
    assert "8 found at a new path (tags kept)" in window.progress.label.text()
    new_path = str(moved / "dress.jpg")
    qtbot.waitUntil(lambda: getattr(window.model.item(0), "path", "") == new_path, timeout=TIMEOUT)
    wait_review(qtbot, window, first_id)
    qtbot.waitUntil(lambda: window.preview.toolTip() == new_path, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: window.preview.image.pixmap().width() > 0, timeout=TIMEOUT)
    qtbot.waitUntil(
        lambda: strip.count() > 0 and str(moved) in strip.item(0).toolTip(), timeout=TIMEOUT
    )
    assert "does not exist" not in strip.item(0).toolTip()
    assert accepted(window.ctx.catalog, first_id)["colour"] == "green"


def test_counts_and_shares_follow_an_import_while_it_runs(
    qtbot, window: MainWindow, photos_dir: Path, monkeypatch
):
    from app.core import importer

    release = threading.Event()
    real = importer.import_paths

    def held(*args, **kwargs):  # every photo is in the catalog; the import has not ended
        report = real(*args, **kwargs)
        release.wait(TIMEOUT / 1000)
        return report

    monkeypatch.setattr(importer, "import_paths", held)
    qtbot.waitUntil(lambda: "0 photos" in window.stats_label.text(), timeout=TIMEOUT)
    drop(window, [photos_dir])
    try:
        qtbot.waitUntil(lambda: "8 photos" in window.stats_label.text(), timeout=TIMEOUT)
        qtbot.waitUntil(
            lambda: "confident" in window.thresholds._shares["colour"].text(), timeout=TIMEOUT
        )
        assert window.importer.running and window.model.rowCount() == 8
    finally:
        release.set()
    qtbot.waitUntil(lambda: not window.importer.running, timeout=TIMEOUT)


def test_preview_follows_the_filter(qtbot, window: MainWindow, photos_dir: Path):
    import_and_wait(qtbot, window, [photos_dir])
    first = window.model.item(0)
    wait_review(qtbot, window, first.id)
    assert first.name == "dress.jpg"
    window.filter_bar.search.setText("hat")  # hides the photo on show
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: window.model.item(0) is not None, timeout=TIMEOUT)
    hat = window.model.item(0).id
    wait_review(qtbot, window, hat)
    assert window.preview.caption.text().startswith("hat.jpg")
    assert window.grid.currentIndex().row() == 0

    window.filter_bar.search.setText("no such photo")
    qtbot.waitUntil(lambda: window.model.rowCount() == 0, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: window.review.review is None, timeout=TIMEOUT)
    assert window.controller.current_id is None and window.preview.caption.text() == ""
    assert "No photo matches" in window.preview.image.text()


def test_a_grid_reload_keeps_the_photo_chosen_while_it_counted(
    qtbot, window: MainWindow, photos_dir: Path
) -> None:
    """A filter change (after any edit) reloads the grid in the background; a photo chosen
    meanwhile stays current instead of the one current when the reload was asked for."""
    import_and_wait(qtbot, window, [photos_dir])
    qtbot.waitUntil(lambda: all(window.model.item(r) is not None for r in range(8)))
    window.controller.select_row(1)
    asked_on, chosen = window.model.item(1).id, window.model.item(5).id
    with qtbot.waitSignal(window.model.reloaded, timeout=TIMEOUT):
        window.apply_filter()  # the count runs in a worker; its answer waits for the loop
        window.controller.select_row(5)  # the user moves on before it lands
    assert window.controller.current_id == chosen != asked_on
    qtbot.waitUntil(lambda: all(window.model.item(r) is not None for r in range(8)))
    qtbot.wait(200)
    assert window.controller.current_id == chosen
