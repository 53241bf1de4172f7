"""The main window: grid + filters | preview + similar strip | review + thresholds.

It builds and wires the widgets; what is open lives in window_state (the helpers read
it there, and get the widgets they drive, never this window); the work lives elsewhere:
keys and menus in window_menus, the File menu's dialogs and jobs in file_actions,
review in review_controller, photo import in import_controller, learning from reviews
in learning_actions, and the calls into app.core in catalog_session.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
)

from app.ui import catalog_session
from app.ui.about_dialog import AboutDialog, BundleInfo, about_html, show_about
from app.ui.banner import Banner
from app.ui.catalog_model import CatalogModel
from app.ui.catalog_session import CatalogGrid, OpenedCatalog
from app.ui.errors import ErrorReporter
from app.ui.failures_panel import FailuresPanel
from app.ui.file_actions import FileActions
from app.ui.file_drops import accept_file_drags, local_files
from app.ui.filter_bar import FilterBar
from app.ui.import_controller import RETAG, ImportController, summary
from app.ui.import_progress import ImportProgress
from app.ui.learning_actions import LearningActions
from app.ui.photo_removal import PhotoRemoval
from app.ui.preview_pane import PreviewPane
from app.ui.product_actions import ProductActions
from app.ui.review_controller import ReviewController
from app.ui.review_panel import ReviewPanel
from app.ui.settings import Settings
from app.ui.shortcuts import show_shortcuts
from app.ui.similar_strip import SimilarStrip
from app.ui.status_bar import StatusBar
from app.ui.threshold_panel import ThresholdPanel
from app.ui.thumbnail_cache import ThumbnailCache
from app.ui.window_menus import WindowMenus
from app.ui.window_panes import PhotoGrid, WindowPanes
from app.ui.window_state import WindowState
from app.ui.workers import WorkerPool

if TYPE_CHECKING:
    from app.core.bundle import Family
    from app.core.catalog import PhotoFilter
    from app.core.context import AppContext
    from app.core.importer import ImportReport

GRID_THUMB = QSize(150, 150)
STRIP_THUMB = QSize(96, 96)
PREVIEW = QSize(640, 640)


def window_title(catalog: str, bundle: BundleInfo | None) -> str:
    """Which catalog and which bundle: two windows on two catalogs must not be confused."""
    return f"Vitrina — {catalog} — {bundle.label if bundle else 'no model bundle'}"


class MainWindow(QMainWindow):
    """``opened`` fires when a catalog is open (or failed to open) and the window is usable."""

    opened = Signal()
    import_finished = Signal(object)

    def __init__(self, settings: Settings, reporter: ErrorReporter | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Vitrina")
        self.setAcceptDrops(True)
        self.settings = settings
        self.reporter = reporter or ErrorReporter(self)
        self.state = WindowState(self)
        self._keep_current: int | None = None  # photo to select again after a grid reload
        self._follow_current = False  # ... or the photo current when the reload lands
        self._keep_row: int | None = None  # or the row, after photos were removed
        self._keep_message = False  # the reload follows a removal, which has its message
        self.jobs = WorkerPool(2, self)
        self._build_widgets()
        self._build_layout()
        state, busy = self.state, lambda: self.job_running
        self.files = FileActions(state, self, settings, self.failures, self.failures_dock)
        self.removal = PhotoRemoval(state, self, self.controller, self.grid, self.model, busy)
        self.learning = LearningActions(state, self, self.progress, busy)
        self.products = ProductActions(state, self, self.controller, self.grid, self.photo_filter)
        self.status_bar.addPermanentWidget(self.learning.offer)
        self.menus = WindowMenus(self)
        self._wire()
        self._restore_layout()

    @property
    def ctx(self) -> AppContext | None:
        """The open catalog's context (the state holds it)."""
        return self.state.ctx

    @property
    def families(self) -> tuple[Family, ...]:
        return self.state.families

    @property
    def overrides(self) -> dict[str, float]:
        """The user's thresholds (the state holds them)."""
        return self.state.thresholds

    # --- construction ----------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.grid_thumbs = ThumbnailCache(GRID_THUMB, 1200, self)
        self.strip_thumbs = ThumbnailCache(STRIP_THUMB, 200, self)
        self.preview_thumbs = ThumbnailCache(PREVIEW, 24, self)
        self.model = CatalogModel(self)
        self.grid = PhotoGrid(self.model, self.grid_thumbs)
        self.filter_bar = FilterBar()
        self.preview = PreviewPane()
        self.strip = SimilarStrip(self.strip_thumbs)
        self.review = ReviewPanel()
        self.review.setMinimumWidth(330)
        self.thresholds = ThresholdPanel()
        self.failures = FailuresPanel()
        self.banner = Banner()
        self.progress = ImportProgress()
        self.stats_label = QLabel()
        self.importer = ImportController(self)
        self.controller = ReviewController(
            self.grid,
            self.model,
            self.review,
            self.preview,
            self.strip,
            self.preview_thumbs,
            self.state,
            self,
        )

    def _build_layout(self) -> None:
        self.panes = WindowPanes(
            self.banner,
            (self.filter_bar, self.grid),
            (self.preview, self.strip),
            self.review,
            self.thresholds,
        )
        self.setCentralWidget(self.panes)
        self.failures_dock = QDockWidget("Import failures", self)
        self.failures_dock.setObjectName("failuresDock")
        self.failures_dock.setWidget(self.failures)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.failures_dock)
        self.failures_dock.hide()
        self.status_bar = StatusBar(self)
        self.setStatusBar(self.status_bar)
        self.status_bar.addPermanentWidget(self.progress)
        self.status_bar.addPermanentWidget(self.stats_label)
        self.resize(1440, 900)

    def _wire(self) -> None:
        self.grid.selectionModel().currentChanged.connect(self.controller.current_changed)
        self.model.error.connect(self.show_problem)
        self.model.reloaded.connect(self._grid_reloaded)
        self.model.rowsInserted.connect(lambda *_: self._ensure_current())
        self.filter_bar.changed.connect(self.apply_filter)
        self.filter_bar.typing_done.connect(self.focus_grid)
        self.thresholds.changed.connect(self.set_overrides)
        self.state.thresholds_changed.connect(self._thresholds_changed)
        self.state.families_changed.connect(self._families_changed)
        self.files.import_requested.connect(self.import_paths)
        self.files.open_requested.connect(self.open_catalog)
        self.files.outside_photo_chosen.connect(self.controller.show_outside_neighbours)
        self.files.tags_imported.connect(lambda _: self.catalog_changed())
        self.removal.reload_at_row.connect(self.reload_grid_at)
        self.removal.reload_on_photo.connect(self.reload_grid_on)
        self.removal.removed.connect(lambda _: self._photos_came_or_went())
        self.removal.restored.connect(lambda _: self._photos_came_or_went())
        self.learning.running_changed.connect(self.update_job_actions)
        self.products.decided.connect(lambda _: self.apply_filter())  # marks follow
        self.controller.clear_filters_requested.connect(self.clear_filters)
        self.controller.status.connect(lambda text: self.statusBar().showMessage(text, 4000))
        self.controller.problem.connect(self.show_problem)
        self.controller.undo_stack.indexChanged.connect(lambda _: self._stats_soon.start())
        self.controller.undo_stack.indexChanged.connect(lambda _: self.learning.edits_made())
        self.importer.started.connect(self._import_started)
        self.importer.progressed.connect(self.progress.update_progress)
        self.importer.finished.connect(self._import_finished)
        self.importer.failed.connect(self._import_failed)
        self.progress.cancel_requested.connect(self.cancel_import)
        self.progress.failures_requested.connect(self.failures_dock.show)
        self._grow_timer = QTimer(self)
        self._grow_timer.setInterval(1000)
        self._grow_timer.timeout.connect(self.model.refresh)
        self._stats_soon = QTimer(self)
        self._stats_soon.setSingleShot(True)
        self._stats_soon.setInterval(500)
        self._stats_soon.timeout.connect(self.refresh_stats)
        # While an import grows the grid, the counts and confident shares follow it, at
        # most once a second (each is a query in the background).
        self._counts_soon = QTimer(self)
        self._counts_soon.setSingleShot(True)
        self._counts_soon.setInterval(1000)
        self._counts_soon.timeout.connect(self.refresh_stats)
        self._counts_soon.timeout.connect(self.refresh_shares)
        self.model.rowsInserted.connect(self._recount_soon)

    # --- catalog ---------------------------------------------------------------------
    def open_catalog(self, location: str, bundle: str) -> None:
        """Open a catalog in the background; the window stays usable meanwhile."""
        self._close_context()
        self.state.catalog_location, self.state.bundle_location = location, bundle
        self.progress.hide()  # the last import's line belongs to the catalog just closed
        self.stats_label.setText("")
        self.statusBar().showMessage("Opening the catalog…")
        self.review.show_review(None, "Opening the catalog…")
        self.jobs.start(
            lambda _: catalog_session.open_context(location, bundle),
            name="open catalog",
            on_result=self._opened,
            on_error=self._open_failed,
        )

    def _opened(self, opened: OpenedCatalog) -> None:
        state = self.state
        state.opened(opened, self.settings.thresholds())
        self.thresholds.set_families(state.families, state.thresholds)
        QTimer.singleShot(0, self.panes.fit_thresholds)
        self.filter_bar.set_families({f.name: f.labels for f in state.families})
        self.controller.bind()
        self.model.set_source(CatalogGrid(opened.ctx).source(), self.photo_filter())
        if opened.bundle_problem:
            self.banner.show_no_bundle(opened.bundle_problem)
            self.strip.show_message("Similar items need a model bundle.")
        else:
            self._show_other_bundle(opened.not_tagged_by_bundle)
            self.learning.catalog_opened(opened.learned_at)
        self.setWindowTitle(window_title(state.catalog_name, state.bundle_info))
        self._show_opened_message(opened.notices)
        self.refresh_stats()
        self.refresh_shares()
        self.grid.setFocus()
        # The ~100k objects of the libraries and the bundle live as long as the catalog;
        # left to the GC, every full collection walks them all (~100 ms holding the GIL,
        # often from an import thread), which froze the window during imports.
        gc.freeze()
        self.opened.emit()

    def _show_opened_message(self, notices: Sequence[str]) -> None:
        """Notices from opening (an index rebuilt for another bundle, with its path and
        both bundle keys) are too long for the status bar: a short line, read on hover."""
        if not notices:
            self.status_bar.showMessage(
                "Catalog open. Drop photos or folders anywhere to import them.", 8000
            )
        else:
            self.status_bar.show_notice("Catalog open", notices)

    def _open_failed(self, message: str) -> None:
        self.banner.show_no_catalog(message)
        self.statusBar().showMessage("No catalog open.")
        self.setWindowTitle("Vitrina — no catalog open")
        self.state.open_failed()
        self.review.show_review(None, "No catalog open.")
        self.model.set_source(None)
        self.opened.emit()

    def _close_context(self) -> None:
        ctx = self.state.ctx
        if ctx is None:
            return
        self.importer.cancel()
        self.learning.cancel()
        self.importer.wait(10000)
        self.learning.runs.wait(10000)
        self.learning.offer.hide()
        self.controller.wait(5000)
        self.state.closed()
        self.controller.bind()
        self.model.set_source(None)
        self.model.shutdown()
        ctx.close()
        gc.unfreeze()  # let the GC reclaim what the closed catalog leaves behind

    # --- grid, filters, thresholds ---------------------------------------------------
    def photo_filter(self) -> PhotoFilter:
        return self.filter_bar.photo_filter(self.state.thresholds)

    def apply_filter(self) -> None:
        self._follow_current = True
        self.model.set_filter(self.photo_filter())

    def reload_grid_at(self, row: int) -> None:
        """Rows were removed: reload, and make current the photo now at ``row`` (the one
        that took the first removed photo's place)."""
        self._keep_row = row
        self._keep_message = True
        self.model.reload()

    def reload_grid_on(self, photo_id: int) -> None:
        """Photos came back (an undone removal): reload, and make ``photo_id`` current."""
        self._keep_current = photo_id
        self._keep_message = True
        self.model.reload()

    def _grid_reloaded(self) -> None:
        keep, self._keep_current = self._keep_current, None
        if self._follow_current:  # the user may have moved on while the grid counted
            keep, self._follow_current = self.controller.current_id, False
        at, self._keep_row = self._keep_row, None
        quiet, self._keep_message = self._keep_message, False
        count = self.model.rowCount()
        if keep is not None:
            self.model.row_of(keep, self._select_kept)
        elif at is not None and count:
            self.controller.select_row(min(at, count - 1))
        elif at is not None:
            self.controller.clear_current()
        else:
            self._ensure_current()
        if self.filter_bar.active and not quiet:  # a removal or its undo keeps its message
            self.statusBar().showMessage(f"{count:,} photo(s) match the filter.", 4000)

    def _select_kept(self, row: int) -> None:
        """The photo current before a reload, or, if the filter hides it now, the first
        photo that matches: the preview never shows a photo the grid does not."""
        if row >= 0:
            self.controller.select_row(row)
        elif self.model.rowCount():
            self.controller.select_row(0)
        else:
            self.controller.clear_current("No photo matches the filter.")

    def clear_filters(self) -> None:
        """Ctrl+Shift+F: show every photo, and give the review keys back to the grid."""
        self.filter_bar.clear()
        self.focus_grid()

    def focus_search(self) -> None:
        self.filter_bar.search.setFocus()
        self.filter_bar.search.selectAll()

    def set_overrides(self, overrides: Mapping[str, float]) -> None:
        """A slider moved: save it; the state re-decides what is confident with it."""
        self.settings.set_thresholds(dict(overrides))
        self.state.set_thresholds(overrides)

    def _thresholds_changed(self) -> None:
        """The open photo follows (the review controller); shares and marks follow here."""
        self.apply_filter()
        self.refresh_shares()

    def _families_changed(self) -> None:
        """Learning or forgetting changed the families suggestions are decided with: their
        labels in the filters and the label list, their thresholds in the panel (the
        user's own stay), the grid's marks, the open photo and the counts follow."""
        families = self.state.families
        self.thresholds.set_families(families, self.state.thresholds)
        QTimer.singleShot(0, self.panes.fit_thresholds)  # once the new rows are laid out
        self.filter_bar.set_families({f.name: f.labels for f in families})
        self.catalog_changed()

    def refresh_shares(self) -> None:
        ctx = self.state.ctx
        if ctx is None or not self.state.families:
            return
        catalog, overrides = ctx.catalog, dict(self.state.thresholds)
        self.jobs.start(
            lambda _: catalog_session.confident_shares(catalog, overrides),
            name="confident shares",
            on_result=lambda result: self.thresholds.show_shares(*result),
            on_error=self.show_problem,
        )

    def _recount_soon(self) -> None:
        """Photos came in while an import runs (its end counts them anyway)."""
        if self.importer.running and not self._counts_soon.isActive():
            self._counts_soon.start()

    def refresh_stats(self) -> None:
        if self.ctx is None:
            return
        catalog = self.ctx.catalog
        self.jobs.start(lambda _: catalog.stats(), name="statistics", on_result=self._show_stats)

    def _show_stats(self, stats: dict) -> None:
        states = stats.get("review_state", {})
        self.stats_label.setText(
            f"{stats.get('photos', 0):,} photos · {states.get('new', 0):,} new · "
            f"{states.get('suggested', 0):,} to review · {states.get('reviewed', 0):,} reviewed"
        )

    # --- import ----------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        accept_file_drags(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        accept_file_drags(event)

    def dropEvent(self, event: QDropEvent) -> None:
        paths = local_files(event)
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.import_paths(paths)

    def import_paths(self, paths: Sequence[Path]) -> bool:
        """Import files/folders in the background; False (with a message) when it cannot start."""
        if self.ctx is None:
            self.show_problem(
                "No catalog is open, so nothing can be imported. Open one from the File menu."
            )
            return False
        if not catalog_session.has_tagger(self.ctx):
            self.show_problem(
                f"Photos cannot be imported without a model bundle (none usable at "
                f"{self.ctx.bundle_path}). Use File → Choose bundle…, then drop the photos again."
            )
            return False
        if self.job_running:
            self.statusBar().showMessage(
                "An import or learning is running; drop more photos when it ends.", 5000
            )
            return False
        return self.importer.start(self.ctx, paths)

    def retag_catalog(self) -> bool:
        """Tag again, in the background, every photo the current bundle has not tagged."""
        if self.ctx is None or not catalog_session.has_tagger(self.ctx):
            self.show_problem(
                "Re-tagging needs an open catalog and a model bundle "
                "(File → Open catalog…, File → Choose bundle…)."
            )
            return False
        if self.learning.running or not self.importer.start_retag(self.ctx):
            self.statusBar().showMessage(
                "An import, re-tag or learning is running; re-tag when it ends.", 5000
            )
            return False
        return True

    @property
    def job_running(self) -> bool:
        """An import, re-tag or learning: one job over the whole catalog at a time."""
        return self.importer.running or self.learning.running

    def update_job_actions(self) -> None:
        """Importing and learning exclude each other; Esc cancels whichever runs."""
        importing, learning = self.importer.running, self.learning.running
        for action in (self.menus.import_files, self.menus.import_folder, self.menus.retag):
            action.setEnabled(not learning)
        for action in (self.menus.learn, self.menus.forget):
            action.setEnabled(not importing and not learning)
        self.menus.cancel_import.setEnabled(importing or learning)

    def cancel_import(self) -> None:
        """Cancel (Esc, or the status bar's button): the import, re-tag or learning."""
        if self.learning.running:
            self.learning.cancel()
            self.progress.cancelling("Cancelling…")
        elif self.importer.running:
            self.importer.cancel()
            self.progress.cancelling()

    def _import_started(self) -> None:
        self.progress.reset_visibility()
        self.progress.start(self.importer.kind.doing)
        self.update_job_actions()
        self._grow_timer.start()

    def _import_finished(self, report: ImportReport) -> None:
        self._grow_timer.stop()
        self.update_job_actions()
        if report.moved:  # rows already loaded hold the old paths
            for thumbs in (self.grid_thumbs, self.strip_thumbs, self.preview_thumbs):
                thumbs.retry_broken()
            self.apply_filter()
        else:
            self.model.refresh()
        if report.failures:
            self.failures.add((f.path, f.reason) for f in report.failures)
        self.progress.set_failures(self.failures.table.rowCount())
        self.progress.finish(summary(report, self.importer.kind.done))
        if report.notices:
            self.status_bar.show_notice(f"{self.importer.kind.done} photos", report.notices)
        if self.importer.kind is RETAG and not report.cancelled and not report.failures:
            self.banner.hide()
        self.controller.reload_current()  # new neighbours in the index, or new suggestions
        self.refresh_stats()
        self.refresh_shares()
        self.focus_grid_unless_typing()
        self.import_finished.emit(report)

    def _photos_came_or_went(self) -> None:
        """Photos were removed or put back: the counts follow."""
        self.refresh_stats()
        self.refresh_shares()
        self.recount_other_bundle()

    def recount_other_bundle(self) -> None:
        """After photos left the catalog: the banner's count of photos another bundle
        tagged (only while it shows; one the user closed stays closed)."""
        ctx = self.state.ctx
        if ctx is None or self.state.bundle_info is None or not self.banner.isVisible():
            return
        self.jobs.start(
            lambda _: catalog_session.not_tagged_by_bundle(ctx),
            name="count photos another bundle tagged",
            on_result=self._show_other_bundle,
        )

    def _show_other_bundle(self, count: int) -> None:
        info = self.state.bundle_info
        if count and info is not None:
            self.banner.show_other_bundle(count, info.label)
        else:
            self.banner.hide()

    def catalog_changed(self) -> None:
        """Tags or suggestions changed outside the undo stack (a tag file, learning):
        reload grid, photo and counts."""
        self.apply_filter()
        self.controller.reload_current()
        self.refresh_stats()
        self.refresh_shares()
        self.learning.edits_made()

    def focus_grid_unless_typing(self) -> None:
        """Give the keys back to the grid, unless the user is typing in a text box."""
        if not isinstance(QApplication.focusWidget(), QLineEdit):
            self.focus_grid()

    def focus_grid(self) -> None:
        """The review keys go to the grid (also after a dialog closed)."""
        self.activateWindow()
        self.grid.setFocus()

    def _ensure_current(self) -> None:
        """Photos arrived and none is selected: select the first, so review can start."""
        if self.grid.currentIndex().row() < 0 and self.model.rowCount():
            self.controller.select_row(0)

    def _import_failed(self, message: str) -> None:
        self._grow_timer.stop()
        self.update_job_actions()
        self.progress.finish("Import stopped.")
        self.show_problem(message)
        self.model.refresh()

    # --- messages, keys, layout ------------------------------------------------------
    def show_problem(self, message: str) -> None:
        """A clear message without blocking the keyboard flow: status bar + review panel."""
        self.statusBar().showMessage(message, 15000)
        self.review.show_message(message)

    def review_key(self, slot: Callable[[], object]) -> None:
        """Review keys act on photos, except while typing in a text box (Enter leaves it)."""
        focus = self.focusWidget()
        if isinstance(focus, QLineEdit):
            self.grid.setFocus()
            return
        slot()

    def toggle_thresholds(self) -> None:
        self.panes.threshold_box.setVisible(self.menus.thresholds.isChecked())

    def show_about(self) -> AboutDialog:
        state = self.state
        dialog = show_about(
            self, about_html(state.catalog_name, state.bundle_info, state.bundle_problem)
        )
        dialog.finished.connect(lambda _: self.focus_grid())
        return dialog

    def show_shortcuts(self) -> None:
        show_shortcuts(self)

    def _restore_layout(self) -> None:
        geometry = self.settings.layout("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.settings.layout("state")
        if state is not None:
            self.restoreState(state)
        self.panes.restore(self.settings)

    def save_layout(self) -> None:
        self.settings.set_layout("geometry", self.saveGeometry())
        self.settings.set_layout("state", self.saveState())
        self.panes.save(self.settings)
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.job_running:
            answer = QMessageBox.question(
                self,
                "Import running" if self.importer.running else "Learning running",
                "An import is running. Stop it and quit? Photos imported so far are kept."
                if self.importer.running
                else "Learning from reviews is running. Stop it and quit? What the catalog "
                "learned before stays.",
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        self.save_layout()
        self.grid_thumbs.shutdown()
        self.strip_thumbs.shutdown()
        self.preview_thumbs.shutdown()
        self.jobs.wait(5000)
        self._close_context()
        event.accept()
