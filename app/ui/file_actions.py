"""The File menu's work: choosing photos, tag files, catalogs and bundles; importing tags;
exporting. Dialogs run here; the work runs as background jobs on the window's pool.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMessageBox

from app.core.paths import default_catalog_path
from app.core.taxonomy import CATEGORY_FAMILY
from app.ui import catalog_session, shop_session
from app.ui.settings_dialog import SettingsDialog
from app.ui.taxonomy_editor import TaxonomyEditor
from app.ui.window_state import WindowHelper

if TYPE_CHECKING:
    from app.core.export import XmpReport
    from app.core.tag_import import TagImportReport
    from app.ui.failures_panel import FailuresPanel
    from app.ui.settings import Settings
    from app.ui.window_state import WindowHost, WindowState

PHOTO_FILES = "Photos (*.jpg *.jpeg *.png *.webp *.bmp *.tif *.tiff);;All files (*)"
TAG_FILES = "Tag files (*.csv *.json);;All files (*)"
CATALOG_FILES = "Catalog (*.sqlite *.db);;All files (*)"


def catalog_folder(location: str) -> str:
    """Where the catalog dialogs start: the open catalog file's folder (never the file
    itself, and nothing for a database URL)."""
    if "://" in location:
        return ""
    return str(Path(location).expanduser().parent if location else default_catalog_path().parent)


def tag_import_summary(name: str, report: TagImportReport) -> str:
    """One paragraph: what the tag file changed, and what it could not."""
    text = (
        f"Tags from {name}: {report.written:,} tag(s) written on {len(report.photos):,} "
        f"photo(s); {report.unchanged:,} already so."
    )
    if report.unmatched:
        text += f" {len(report.unmatched):,} row(s) matched no photo in the catalog."
    if report.bad:
        text += f" {len(report.bad):,} row(s) could not be applied."
    if not report.ok:
        text += " Each skipped row is listed, with its line and reason, in Import failures."
    return text


class FileActions(WindowHelper):
    """The window acts on ``import_requested(paths)``, ``open_requested(catalog, bundle)``,
    ``outside_photo_chosen(path)`` and ``tags_imported(report)`` (a tag file was applied:
    the grid, photo and counts follow)."""

    import_requested = Signal(list)
    open_requested = Signal(str, str)
    outside_photo_chosen = Signal(Path)
    tags_imported = Signal(object)

    def __init__(
        self,
        state: WindowState,
        host: WindowHost,
        settings: Settings,
        failures: FailuresPanel,
        failures_dock: QDockWidget,
    ) -> None:
        super().__init__(state, host)
        self.settings, self.failures, self.failures_dock = settings, failures, failures_dock
        self.summary_box: QMessageBox | None = None
        self.settings_dialog: SettingsDialog | None = None
        self.accepted_only = QAction("Export accepted tags only", host, checkable=True)

    # --- photos ----------------------------------------------------------------------
    def choose_photos(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self.window, "Import photos", "", PHOTO_FILES)
        if files:
            self.import_requested.emit([Path(f) for f in files])

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Import a folder of photos")
        if folder:
            self.import_requested.emit([Path(folder)])

    def choose_outside_photo(self) -> None:
        """File → Find similar to a photo…: the keyboard's way to what a drop on the strip
        does; the photo is tagged in the background and not imported."""
        w = self.window
        if self.state.ctx is None:
            w.show_problem("No catalog is open, so there is nothing to compare with.")
            return
        if self.state.bundle_info is None:
            w.show_problem("Finding similar photos needs a model bundle (File → Choose bundle…).")
            return
        path, _ = QFileDialog.getOpenFileName(w, "Find similar to a photo", "", PHOTO_FILES)
        if path:
            self.outside_photo_chosen.emit(Path(path))

    # --- tags ------------------------------------------------------------------------
    def choose_tag_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.window, "Import tags from a CSV or JSON file", "", TAG_FILES
        )
        if path:
            self.import_tags(Path(path))

    def import_tags(self, path: Path) -> bool:
        """Apply a tag file in the background; False (with a message) when no catalog is open."""
        w = self.window
        if self.state.ctx is None:
            w.show_problem("No catalog is open, so no tags can be imported. Open one first.")
            return False
        catalog = self.state.ctx.catalog
        families = {f.name: f.labels for f in self.state.families} or None
        w.statusBar().showMessage(f"Importing tags from {path.name}…")
        w.jobs.start(
            lambda _: catalog_session.import_tags(catalog, path, families),
            name="tag import",
            on_result=lambda report: self._tags_done(path, report),
            on_error=w.show_problem,
        )
        return True

    def _tags_done(self, path: Path, report: TagImportReport) -> None:
        w = self.window
        skipped = sorted([*report.bad, *report.unmatched])
        if skipped:
            self.failures.add_lines(path, skipped)
            self.failures_dock.show()
        text = tag_import_summary(path.name, report)
        w.statusBar().showMessage(text, 15000)
        self._show_summary(text)
        self.tags_imported.emit(report)

    def _show_summary(self, text: str) -> None:
        """Window-modal but not blocking: Enter closes it and the keys go back to the grid."""
        box = QMessageBox(QMessageBox.Icon.Information, "Tags imported", text, parent=self.window)
        box.finished.connect(lambda _: self.window.focus_grid())
        box.open()
        self.summary_box = box

    # --- catalog and bundle ----------------------------------------------------------
    def choose_catalog(self) -> None:
        """File → Open catalog…: an existing catalog file (New catalog… makes one)."""
        w = self.window
        path, _ = QFileDialog.getOpenFileName(
            w, "Open a catalog", catalog_folder(self.state.catalog_location), CATALOG_FILES
        )
        if path:
            self.apply_settings(path, self.state.bundle_location)

    def create_catalog(self) -> None:
        """File → New catalog…: an empty catalog in a file that does not exist yet."""
        w = self.window
        path, _ = QFileDialog.getSaveFileName(
            w,
            "New catalog",
            str(Path(catalog_folder(self.state.catalog_location)) / "catalog.sqlite"),
            CATALOG_FILES,
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        if not path:
            return
        target = Path(path)
        if not target.suffix:
            target = target.with_suffix(".sqlite")
        if target.exists():  # never replace a file; opening it is what Open catalog… does
            w.show_problem(
                f"{target} already exists, so it cannot be a new catalog. Choose another "
                "name, or open it with File → Open catalog…."
            )
            return
        self.apply_settings(str(target), self.state.bundle_location)

    def choose_bundle(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self.window, "Choose a model bundle folder", self.state.bundle_location
        )
        if folder:
            self.apply_settings(self.state.catalog_location, folder)

    def edit_settings(self) -> None:
        """The dialog starts from the catalog and bundle open now (also after a --db
        start); it is window-modal but does not block, and the keys go back to the grid.
        With a catalog open, its shop categories are read first (a tab of their own)."""
        if self.state.ctx is None:
            self._open_settings(None)
            return
        catalog = self.state.ctx.catalog
        labels = next((f.labels for f in self.state.families if f.name == CATEGORY_FAMILY), ())
        self.window.jobs.start(
            lambda _: shop_session.taxonomy_rows(catalog, labels),
            name="read shop categories",
            on_result=lambda found: self._open_settings(TaxonomyEditor(*found)),
            on_error=self._settings_without_taxonomy,
        )

    def _settings_without_taxonomy(self, message: str) -> None:
        """The shop categories could not be read: say why, and open the rest."""
        self.window.show_problem(message)
        self._open_settings(None)

    def _open_settings(self, taxonomy: TaxonomyEditor | None) -> None:
        w = self.window
        dialog = SettingsDialog(
            self.state.catalog_location,
            self.state.bundle_location,
            w,
            (self.settings.catalog, self.settings.bundle),
            taxonomy,
        )
        dialog.accepted.connect(lambda: self._settings_chosen(dialog))
        dialog.finished.connect(lambda _: w.focus_grid())
        dialog.finished.connect(lambda _: dialog.deleteLater())
        self.settings_dialog = dialog
        dialog.open()

    def _settings_chosen(self, dialog: SettingsDialog) -> None:
        """OK without a change changes nothing (no reopen, nothing saved). Shop categories
        edited are saved in the open catalog first, then it may be reopened."""
        w, state = self.window, self.state
        catalog, bundle = dialog.values()
        unchanged = (catalog, bundle) == (state.catalog_location, state.bundle_location)

        def then(saved: int = 0) -> None:
            if saved:
                w.statusBar().showMessage(f"Saved {saved} shop category row(s).", 8000)
            elif unchanged:
                w.statusBar().showMessage("Settings unchanged; the open catalog stays open.", 5000)
            if not unchanged or state.ctx is None:
                self.apply_settings(catalog, bundle, now=dialog.apply_now.isChecked())

        changes = dialog.taxonomy_changes
        if not changes or state.ctx is None:
            then()
            return
        open_catalog = state.ctx.catalog
        w.jobs.start(
            lambda _: shop_session.save_overrides(open_catalog, changes),
            name="save shop categories",
            on_result=then,
            on_error=w.show_problem,
        )

    def apply_settings(self, catalog: str, bundle: str, now: bool = True) -> None:
        """Keep the choice; reopen at once, or say it waits for the next start."""
        w = self.window
        self.settings.catalog, self.settings.bundle = catalog, bundle
        self.settings.sync()
        where = f"catalog {catalog or '(default)'} with bundle {bundle or '(default)'}"
        if now:
            self.open_requested.emit(catalog, bundle)
            w.statusBar().showMessage(f"Opening the {where}…")
        else:
            w.statusBar().showMessage(
                f"Saved: Vitrina will open the {where} at the next start.", 10000
            )

    # --- export ----------------------------------------------------------------------
    def choose_export(self, fmt: str) -> None:
        if self.state.ctx is None:
            self.window.show_problem("No catalog is open; there is nothing to export.")
            return
        target, _ = QFileDialog.getSaveFileName(
            self.window, f"Export {fmt.upper()}", f"vitrina.{fmt}", f"{fmt.upper()} (*.{fmt})"
        )
        if target:
            self.export_to(fmt, Path(target))

    def export_to(self, fmt: str, target: Path) -> None:
        """CSV or JSON of the catalog, written in the background (as `vitrina export`)."""
        w = self.window
        if self.state.ctx is None:
            w.show_problem("No catalog is open; there is nothing to export.")
            return
        catalog, accepted = self.state.ctx.catalog, self.accepted_only.isChecked()
        w.statusBar().showMessage(f"Exporting {fmt.upper()}…")
        w.jobs.start(
            lambda _: catalog_session.export_table(catalog, fmt, accepted, target),
            name="export",
            on_result=lambda _: w.statusBar().showMessage(
                f"Exported the catalog to {target}.", 8000
            ),
            on_error=w.show_problem,
        )

    def export_xmp(self) -> None:
        w = self.window
        if self.state.ctx is None:
            w.show_problem("No catalog is open; there is nothing to export.")
            return
        catalog = self.state.ctx.catalog
        w.statusBar().showMessage("Writing XMP sidecars…")
        w.jobs.start(
            lambda _: catalog_session.write_sidecars(catalog),
            name="XMP sidecars",
            on_result=self._xmp_done,
            on_error=w.show_problem,
        )

    def _xmp_done(self, report: XmpReport) -> None:
        w = self.window
        text = f"Wrote {len(report.written):,} XMP sidecar(s) beside the photos."
        if report.failures:
            failures: Iterable[tuple[Path, str]] = (
                (Path(p), reason) for p, reason in report.failures
            )
            self.failures.add(failures)
            self.failures_dock.show()
            text += f" {len(report.failures)} could not be written (see Import failures)."
        w.statusBar().showMessage(text, 10000)
