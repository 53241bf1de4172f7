"""The main window: grid + filters | preview + similar strip | review + thresholds.

It wires the widgets to the background work; the work itself lives in the
controllers (review, import) and the session functions over app.core.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QFileDialog,
    QGroupBox,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListView,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.ui import catalog_session
from app.ui.banner import Banner
from app.ui.catalog_model import CatalogModel
from app.ui.catalog_session import CatalogGrid, OpenedCatalog
from app.ui.errors import ErrorReporter
from app.ui.failures_panel import FailuresPanel
from app.ui.filter_bar import FilterBar
from app.ui.import_controller import ImportController, summary
from app.ui.import_progress import ImportProgress
from app.ui.preview_pane import PreviewPane
from app.ui.review_controller import ReviewController
from app.ui.review_panel import ReviewPanel
from app.ui.settings import Settings
from app.ui.shortcuts import REVIEW_KEYS, help_html
from app.ui.similar_strip import SimilarStrip, local_files
from app.ui.threshold_panel import ThresholdPanel
from app.ui.thumbnail_cache import ThumbnailCache
from app.ui.thumbnail_delegate import ThumbnailDelegate
from app.ui.workers import WorkerPool

if TYPE_CHECKING:
    from app.core.bundle import Family
    from app.core.context import AppContext
    from app.core.export import XmpReport
    from app.core.importer import ImportReport

GRID_THUMB = QSize(150, 150)
STRIP_THUMB = QSize(96, 96)
PREVIEW = QSize(640, 640)
NO_BUNDLE_HELP = (
    "Tagging and similar items are off: {problem} You can still browse and review the "
    "tags already in the catalog. To get a bundle, train one with <code>vitrina-train</code> "
    "or copy one into <code>models_onnx/default</code>, then use File → Choose bundle…."
)


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
        self.ctx: AppContext | None = None
        self.families: tuple[Family, ...] = ()
        self.overrides: dict[str, float] = {}
        self._grid_reads: CatalogGrid | None = None
        self._keep_current: int | None = None
        self._jobs = WorkerPool(2, self)
        self._build_widgets()
        self._build_layout()
        self._build_actions()
        self._build_menus()
        self._wire()
        self._restore_layout()

    # --- construction ----------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.grid_thumbs = ThumbnailCache(GRID_THUMB, 1200, self)
        self.strip_thumbs = ThumbnailCache(STRIP_THUMB, 200, self)
        self.preview_thumbs = ThumbnailCache(PREVIEW, 24, self)
        self.model = CatalogModel(self)
        self.grid = QListView()
        self.grid.setObjectName("grid")
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setUniformItemSizes(True)
        self.grid.setLayoutMode(QListView.LayoutMode.Batched)
        self.grid.setBatchSize(500)
        self.grid.setSpacing(2)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.grid.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.grid.setDragEnabled(False)
        self.grid.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.grid.setModel(self.model)
        self.grid.setItemDelegate(ThumbnailDelegate(self.grid_thumbs, self.grid))
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
            self.grid, self.model, self.review, self.preview, self.strip, self.preview_thumbs, self
        )

    def _build_layout(self) -> None:
        left = QWidget()
        left_box = QVBoxLayout(left)
        left_box.setContentsMargins(6, 6, 0, 6)
        left_box.addWidget(self.filter_bar)
        left_box.addWidget(self.grid, 1)
        self.preview_split = QSplitter(Qt.Orientation.Vertical)
        self.preview_split.setObjectName("previewSplitter")
        self.preview_split.addWidget(self.preview)
        self.preview_split.addWidget(self.strip)
        self.preview_split.setStretchFactor(0, 1)
        self.preview_split.setCollapsible(1, False)
        self.main_split = QSplitter(Qt.Orientation.Horizontal)
        self.main_split.setObjectName("mainSplitter")
        self.main_split.addWidget(left)
        self.main_split.addWidget(self.preview_split)
        self.threshold_box = QGroupBox("Thresholds: what counts as confident")
        box_layout = QVBoxLayout(self.threshold_box)
        box_layout.setContentsMargins(4, 4, 4, 4)
        box_layout.addWidget(self.thresholds)
        self.review_split = QSplitter(Qt.Orientation.Vertical)
        self.review_split.setObjectName("reviewSplitter")
        self.review_split.addWidget(self.review)
        self.review_split.addWidget(self.threshold_box)
        self.review_split.setStretchFactor(0, 1)
        self.main_split.addWidget(self.review_split)
        self.main_split.setStretchFactor(0, 3)
        self.main_split.setStretchFactor(1, 3)
        self.main_split.setStretchFactor(2, 2)
        self.main_split.setSizes([560, 480, 380])
        central = QWidget()
        box = QVBoxLayout(central)
        box.setContentsMargins(6, 6, 6, 0)
        box.addWidget(self.banner)
        box.addWidget(self.main_split, 1)
        self.setCentralWidget(central)
        self.failures_dock = self._dock("Import failures", "failuresDock", self.failures)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.failures_dock)
        self.failures_dock.hide()
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.stats_label)
        self.resize(1440, 900)

    def _dock(self, title: str, name: str, widget: QWidget) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        return dock

    def _action(
        self, text: str, slot: Callable[[], object], keys: Sequence[str] = (), tip: str = ""
    ) -> QAction:
        action = QAction(text, self)
        action.setShortcuts([QKeySequence(k) for k in keys])
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.setStatusTip(tip or text)
        action.triggered.connect(lambda _=False: slot())
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        c = self.controller
        review_slots: dict[str, Callable[[], object]] = {
            "accept_next": c.accept_confident_and_next,
            "next": partial(c.step, 1),
            "previous": partial(c.step, -1),
            "family_down": partial(self.review.move_focus, 1),
            "family_up": partial(self.review.move_focus, -1),
            "accept_one": c.accept_focused,
            "reject": c.reject_focused,
            "change": c.change,
            "pick1": partial(c.pick, 1),
            "pick2": partial(c.pick, 2),
            "pick3": partial(c.pick, 3),
            "add_tag": c.add_tag,
        }
        self.review_actions = {
            name: self._action(text, partial(self._review_key, review_slots[name]), keys)
            for name, keys, text in REVIEW_KEYS
        }
        self.undo_action = c.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = c.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.import_files_action = self._action("Import &photos…", self.choose_files, ["Ctrl+O"])
        self.import_folder_action = self._action(
            "Import &folder…", self.choose_folder, ["Ctrl+Shift+O"]
        )
        self.cancel_import_action = self._action("&Cancel import", self.importer.cancel, ["Esc"])
        self.cancel_import_action.setEnabled(False)
        self.open_catalog_action = self._action("&Open catalog…", self.choose_catalog)
        self.catalog_url_action = self._action("Catalog &URL…", self.choose_catalog_url)
        self.bundle_action = self._action("Choose &bundle…", self.choose_bundle)
        self.export_csv_action = self._action("Export &CSV…", partial(self.export_table, "csv"))
        self.export_json_action = self._action("Export &JSON…", partial(self.export_table, "json"))
        self.export_xmp_action = self._action("Write &XMP sidecars", self.export_xmp)
        self.accepted_only_action = QAction("Export accepted tags only", self, checkable=True)
        self.find_action = self._action("&Find", self.focus_search, ["Ctrl+F"])
        self.clear_filters_action = self._action(
            "&Clear filters", self.clear_filters, ["Ctrl+Shift+F"]
        )
        self.thresholds_action = self._action("&Thresholds", self._toggle_thresholds)
        self.thresholds_action.setCheckable(True)
        self.thresholds_action.setChecked(True)
        self.help_action = self._action("&Keyboard shortcuts", self.show_shortcuts, ["F1"])
        self.quit_action = self._action("&Quit", self.close, ["Ctrl+Q"])

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for action in (
            self.import_files_action,
            self.import_folder_action,
            self.cancel_import_action,
        ):
            file_menu.addAction(action)
        file_menu.addSeparator()
        for action in (self.open_catalog_action, self.catalog_url_action, self.bundle_action):
            file_menu.addAction(action)
        file_menu.addSeparator()
        for action in (self.export_csv_action, self.export_json_action, self.export_xmp_action):
            file_menu.addAction(action)
        file_menu.addAction(self.accepted_only_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        review_menu = bar.addMenu("&Review")
        for action in self.review_actions.values():
            review_menu.addAction(action)
        view_menu = bar.addMenu("&View")
        view_menu.addAction(self.find_action)
        view_menu.addAction(self.clear_filters_action)
        view_menu.addSeparator()
        view_menu.addAction(self.thresholds_action)
        view_menu.addAction(self.failures_dock.toggleViewAction())
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.help_action)

    def _wire(self) -> None:
        self.grid.selectionModel().currentChanged.connect(self.controller.current_changed)
        self.grid_thumbs.ready.connect(self._thumb_ready)
        self.model.error.connect(self.show_problem)
        self.model.reloaded.connect(self._grid_reloaded)
        self.model.rowsInserted.connect(lambda *_: self._ensure_current())
        self.filter_bar.changed.connect(self.apply_filter)
        self.thresholds.changed.connect(self.set_overrides)
        self.controller.status.connect(lambda text: self.statusBar().showMessage(text, 4000))
        self.controller.problem.connect(self.show_problem)
        self.controller.undo_stack.indexChanged.connect(lambda _: self._stats_soon.start())
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

    # --- catalog ---------------------------------------------------------------------
    def open_catalog(self, location: str, bundle: str) -> None:
        """Open a catalog in the background; the window stays usable meanwhile."""
        self._close_context()
        self.statusBar().showMessage("Opening the catalog…")
        self.review.show_review(None, "Opening the catalog…")
        self._jobs.start(
            lambda _: catalog_session.open_context(location, bundle),
            name="open catalog",
            on_result=self._opened,
            on_error=self._open_failed,
        )

    def _opened(self, opened: OpenedCatalog) -> None:
        self.ctx = opened.ctx
        self.families = opened.families
        known = {f.name for f in self.families}
        self.overrides = {k: v for k, v in self.settings.thresholds().items() if k in known}
        self.ctx.thresholds = dict(self.overrides)
        self.thresholds.set_families(self.families, self.overrides)
        self.filter_bar.set_families({f.name: f.labels for f in self.families})
        self.controller.bind(self.ctx, self.families, self.overrides)
        self._grid_reads = CatalogGrid(self.ctx.catalog, self.overrides)
        self.model.set_source(
            self._grid_reads.source(), self.filter_bar.photo_filter(self.overrides)
        )
        if opened.bundle_problem:
            self.banner.show_text(NO_BUNDLE_HELP.format(problem=opened.bundle_problem))
            self.strip.show_message("Similar items need a model bundle.")
        else:
            self.banner.hide()
        for notice in opened.notices:
            self.statusBar().showMessage(notice, 8000)
        self.setWindowTitle(f"Vitrina — {self.ctx.catalog!r}")
        self.statusBar().showMessage(
            "Catalog open. Drop photos or folders anywhere to import them.", 6000
        )
        self.refresh_stats()
        self.refresh_shares()
        self.grid.setFocus()
        self.opened.emit()

    def _open_failed(self, message: str) -> None:
        self.banner.show_text(
            f"{message}<br>Choose another catalog with File → Open catalog… "
            "(the window stays usable; nothing was changed).",
            "error",
        )
        self.statusBar().showMessage("No catalog open.")
        self.review.show_review(None, "No catalog open.")
        self.model.set_source(None)
        self.opened.emit()

    def _close_context(self) -> None:
        if self.ctx is None:
            return
        self.importer.cancel()
        self.importer.wait(10000)
        self.controller.wait(5000)
        self.controller.bind(None, (), {})
        self.model.set_source(None)
        self.model.shutdown()
        self.ctx.close()
        self.ctx = None

    def choose_catalog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Open or create a catalog",
            self.settings.catalog or "",
            "Catalog (*.sqlite *.db)",
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        if path:
            self.settings.catalog = path
            self.open_catalog(path, self.settings.bundle)

    def choose_catalog_url(self) -> None:
        url, ok = QInputDialog.getText(
            self,
            "Catalog URL",
            "SQLAlchemy URL or path (empty: the default catalog):",
            QLineEdit.EchoMode.Normal,
            self.settings.catalog,
        )
        if ok:
            self.settings.catalog = url.strip()
            self.open_catalog(url.strip(), self.settings.bundle)

    def choose_bundle(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Choose a model bundle folder", self.settings.bundle
        )
        if folder:
            self.settings.bundle = folder
            self.open_catalog(self.settings.catalog, folder)

    # --- grid, filters, thresholds ---------------------------------------------------
    def _thumb_ready(self, sha: str) -> None:
        for row in self.model.rows_with_sha(sha):
            index = self.model.index(row)
            self.grid.update(index)

    def photo_filter(self) -> object:
        return self.filter_bar.photo_filter(self.overrides)

    def apply_filter(self) -> None:
        self._keep_current = self.controller.current_id
        self.model.set_filter(self.photo_filter())

    def _grid_reloaded(self) -> None:
        keep, self._keep_current = self._keep_current, None
        if keep is not None:
            self.model.row_of(keep, lambda row: row >= 0 and self.controller.select_row(row))
        else:
            self._ensure_current()
        if self.filter_bar.active:
            count = self.model.rowCount()
            self.statusBar().showMessage(f"{count:,} photo(s) match the filter.", 4000)

    def clear_filters(self) -> None:
        self.filter_bar.clear()

    def focus_search(self) -> None:
        self.filter_bar.search.setFocus()
        self.filter_bar.search.selectAll()

    def set_overrides(self, overrides: Mapping[str, float]) -> None:
        """A slider moved: save it, re-decide what is confident, update shares and marks."""
        self.overrides = dict(overrides)
        self.settings.set_thresholds(self.overrides)
        if self.ctx is not None:
            self.ctx.thresholds = dict(self.overrides)
        if self._grid_reads is not None:
            self._grid_reads.thresholds = dict(self.overrides)
        self.controller.set_overrides(self.overrides)
        self.apply_filter()
        self.refresh_shares()

    def refresh_shares(self) -> None:
        if self.ctx is None or not self.families:
            return
        catalog, overrides = self.ctx.catalog, dict(self.overrides)
        self._jobs.start(
            lambda _: catalog_session.confident_shares(catalog, overrides),
            name="confident shares",
            on_result=lambda result: self.thresholds.show_shares(*result),
            on_error=self.show_problem,
        )

    def refresh_stats(self) -> None:
        if self.ctx is None:
            return
        catalog = self.ctx.catalog
        self._jobs.start(lambda _: catalog.stats(), name="statistics", on_result=self._show_stats)

    def _show_stats(self, stats: dict) -> None:
        states = stats.get("review_state", {})
        self.stats_label.setText(
            f"{stats.get('photos', 0):,} photos · {states.get('new', 0):,} new · "
            f"{states.get('suggested', 0):,} to review · {states.get('reviewed', 0):,} reviewed"
        )

    # --- import ----------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if local_files(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if local_files(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = local_files(event)
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.import_paths(paths)

    def choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self,
            "Import photos",
            "",
            "Photos (*.jpg *.jpeg *.png *.webp *.bmp *.tif *.tiff);;All files (*)",
        )
        if files:
            self.import_paths([Path(f) for f in files])

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import a folder of photos")
        if folder:
            self.import_paths([Path(folder)])

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
        if self.importer.running:
            self.statusBar().showMessage(
                "An import is running; drop more photos when it ends.", 5000
            )
            return False
        return self.importer.start(self.ctx, paths)

    def cancel_import(self) -> None:
        self.importer.cancel()
        self.progress.cancelling()

    def _import_started(self) -> None:
        self.progress.reset_visibility()
        self.progress.start()
        self.cancel_import_action.setEnabled(True)
        self._grow_timer.start()

    def _import_finished(self, report: ImportReport) -> None:
        self._grow_timer.stop()
        self.cancel_import_action.setEnabled(False)
        self.model.refresh()
        if report.failures:
            self.failures.add((f.path, f.reason) for f in report.failures)
        self.progress.set_failures(self.failures.table.rowCount())
        self.progress.finish(summary(report))
        self.refresh_stats()
        self.refresh_shares()
        self.import_finished.emit(report)

    def _ensure_current(self) -> None:
        """Photos arrived and none is selected: select the first, so review can start."""
        if self.grid.currentIndex().row() < 0 and self.model.rowCount():
            self.controller.select_row(0)

    def _import_failed(self, message: str) -> None:
        self._grow_timer.stop()
        self.cancel_import_action.setEnabled(False)
        self.progress.finish("Import stopped.")
        self.show_problem(message)
        self.model.refresh()

    # --- export ----------------------------------------------------------------------
    def export_table(self, fmt: str) -> None:
        if self.ctx is None:
            self.show_problem("No catalog is open; there is nothing to export.")
            return
        target, _ = QFileDialog.getSaveFileName(
            self, f"Export {fmt.upper()}", f"vitrina.{fmt}", f"{fmt.upper()} (*.{fmt})"
        )
        if target:
            self.export_to(fmt, Path(target))

    def export_to(self, fmt: str, target: Path) -> None:
        catalog, accepted = self.ctx.catalog, self.accepted_only_action.isChecked()
        self.statusBar().showMessage(f"Exporting {fmt.upper()}…")
        self._jobs.start(
            lambda _: catalog_session.export_table(catalog, fmt, accepted, target),
            name="export",
            on_result=lambda _: self.statusBar().showMessage(
                f"Exported the catalog to {target}.", 8000
            ),
            on_error=self.show_problem,
        )

    def export_xmp(self) -> None:
        if self.ctx is None:
            self.show_problem("No catalog is open; there is nothing to export.")
            return
        catalog = self.ctx.catalog
        self.statusBar().showMessage("Writing XMP sidecars…")
        self._jobs.start(
            lambda _: catalog_session.write_sidecars(catalog),
            name="XMP sidecars",
            on_result=self._xmp_done,
            on_error=self.show_problem,
        )

    def _xmp_done(self, report: XmpReport) -> None:
        text = f"Wrote {len(report.written):,} XMP sidecar(s) beside the photos."
        if report.failures:
            self.failures.add((Path(p), reason) for p, reason in report.failures)
            self.failures_dock.show()
            text += f" {len(report.failures)} could not be written (see Import failures)."
        self.statusBar().showMessage(text, 10000)

    # --- messages, keys, layout ------------------------------------------------------
    def show_problem(self, message: str) -> None:
        """A clear message without blocking the keyboard flow: status bar + review panel."""
        self.statusBar().showMessage(message, 15000)
        self.review.show_message(message)

    def _review_key(self, slot: Callable[[], object]) -> None:
        """Review keys act on photos, except while typing in a text box (Enter leaves it)."""
        focus = self.focusWidget()
        if isinstance(focus, QLineEdit):
            self.grid.setFocus()
            return
        slot()

    def _toggle_thresholds(self) -> None:
        self.threshold_box.setVisible(self.thresholds_action.isChecked())

    def show_shortcuts(self) -> None:
        box = QMessageBox(self)
        box.setWindowTitle("Keyboard shortcuts")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(help_html())
        box.exec()

    def _restore_layout(self) -> None:
        geometry = self.settings.layout("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.settings.layout("state")
        if state is not None:
            self.restoreState(state)
        for name, splitter in self._splitters():
            sizes = self.settings.layout(f"splitter_{name}")
            if sizes is not None:
                splitter.restoreState(sizes)

    def _splitters(self) -> tuple[tuple[str, QSplitter], ...]:
        return (
            ("main", self.main_split),
            ("preview", self.preview_split),
            ("review", self.review_split),
        )

    def save_layout(self) -> None:
        self.settings.set_layout("geometry", self.saveGeometry())
        self.settings.set_layout("state", self.saveState())
        for name, splitter in self._splitters():
            self.settings.set_layout(f"splitter_{name}", splitter.saveState())
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.importer.running:
            answer = QMessageBox.question(
                self,
                "Import running",
                "An import is running. Stop it and quit? Photos imported so far are kept.",
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        self.save_layout()
        self.grid_thumbs.shutdown()
        self.strip_thumbs.shutdown()
        self.preview_thumbs.shutdown()
        self._jobs.wait(5000)
        self._close_context()
        event.accept()
