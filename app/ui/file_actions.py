"""The File menu's work: choosing photos, tag files, catalogs and bundles; importing tags;
exporting. Dialogs run here; the work runs as background jobs on the window's pool.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.ui import catalog_session
from app.ui.settings_dialog import SettingsDialog

if TYPE_CHECKING:
    from app.core.export import XmpReport
    from app.core.tag_import import TagImportReport
    from app.ui.main_window import MainWindow

PHOTO_FILES = "Photos (*.jpg *.jpeg *.png *.webp *.bmp *.tif *.tiff);;All files (*)"
TAG_FILES = "Tag files (*.csv *.json);;All files (*)"


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


class FileActions(QObject):
    """``tags_imported(report)`` fires after a tag file was applied and the grid refreshed."""

    tags_imported = Signal(object)

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.summary_box: QMessageBox | None = None

    # --- photos ----------------------------------------------------------------------
    def choose_photos(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self.window, "Import photos", "", PHOTO_FILES)
        if files:
            self.window.import_paths([Path(f) for f in files])

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Import a folder of photos")
        if folder:
            self.window.import_paths([Path(folder)])

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
        if w.ctx is None:
            w.show_problem("No catalog is open, so no tags can be imported. Open one first.")
            return False
        catalog = w.ctx.catalog
        families = {f.name: f.labels for f in w.families} or None
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
            w.failures.add_lines(path, skipped)
            w.failures_dock.show()
        text = tag_import_summary(path.name, report)
        w.statusBar().showMessage(text, 15000)
        w.catalog_changed()
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
        path, _ = QFileDialog.getSaveFileName(
            self.window,
            "Open or create a catalog",
            self.window.settings.catalog or "",
            "Catalog (*.sqlite *.db)",
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        if path:
            self.apply_settings(path, self.window.settings.bundle)

    def choose_bundle(self) -> None:
        settings = self.window.settings
        folder = QFileDialog.getExistingDirectory(
            self.window, "Choose a model bundle folder", settings.bundle
        )
        if folder:
            self.apply_settings(settings.catalog, folder)

    def edit_settings(self) -> None:
        settings = self.window.settings
        dialog = SettingsDialog(settings.catalog, settings.bundle, self.window)
        if dialog.exec():
            self.apply_settings(*dialog.values(), now=dialog.apply_now.isChecked())

    def apply_settings(self, catalog: str, bundle: str, now: bool = True) -> None:
        """Keep the choice; reopen at once, or say it waits for the next start."""
        w = self.window
        w.settings.catalog, w.settings.bundle = catalog, bundle
        w.settings.sync()
        where = f"catalog {catalog or '(default)'} with bundle {bundle or '(default)'}"
        if now:
            w.open_catalog(catalog, bundle)
            w.statusBar().showMessage(f"Opening the {where}…")
        else:
            w.statusBar().showMessage(
                f"Saved: Vitrina will open the {where} at the next start.", 10000
            )

    # --- export ----------------------------------------------------------------------
    def choose_export(self, fmt: str) -> None:
        if self.window.ctx is None:
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
        if w.ctx is None:
            w.show_problem("No catalog is open; there is nothing to export.")
            return
        catalog, accepted = w.ctx.catalog, w.menus.accepted_only.isChecked()
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
        if w.ctx is None:
            w.show_problem("No catalog is open; there is nothing to export.")
            return
        catalog = w.ctx.catalog
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
            w.failures.add(failures)
            w.failures_dock.show()
            text += f" {len(report.failures)} could not be written (see Import failures)."
        w.statusBar().showMessage(text, 10000)
