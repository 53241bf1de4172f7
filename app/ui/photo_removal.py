"""Edit → Remove from catalog: the selected photos leave the catalog, never the disk.

Removal cannot be undone, so the window asks first and names the accepted tags that
would go with the photos; the undo history ends there. The removal is queued behind the
tag edits still being written, so an edit made just before it is never lost or applied
to a removed photo.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow


def removal_question(count: int, accepted: int, name: str = "") -> str:
    """What the user is asked: how many photos, what goes with them, what stays."""
    what = name if count == 1 and name else f"{count:,} photos"
    if accepted:
        tags = f"Their {accepted:,} accepted tag(s) go with them"
        if count == 1:
            tags = f"Its {accepted:,} accepted tag(s) go with it"
        tags += "; to keep them, export first (File → Export CSV…, with Export accepted tags only)."
    else:
        tags = "No accepted tags go with them." if count > 1 else "It has no accepted tags."
    return (
        f"Remove {what} from the catalog?\n\n{tags}\n\n"
        "The files stay on disk. This cannot be undone."
    )


class PhotoRemoval(QObject):
    """``removed(ids)`` fires once the photos are out of the catalog and the grid reloads."""

    removed = Signal(list)

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.confirm = self._confirm  # tests answer in its place

    def remove_selected(self) -> None:
        """Ask about the selected photos (the current one if none is selected)."""
        w = self.window
        ids = w.controller.selected_ids()
        if w.ctx is None or not ids or w.controller.writer is None:
            return
        if w.importer.running:
            w.statusBar().showMessage(
                "Photos cannot be removed while an import or re-tag runs: wait for it to "
                "finish, or cancel it (Esc).",
                10000,
            )
            return
        rows = [i.row() for i in w.grid.selectionModel().selectedIndexes()]
        row = min(rows) if rows else w.grid.currentIndex().row()
        item = w.model.item(row)
        name = Path(item.path).name if len(ids) == 1 and item else ""
        catalog = w.ctx.catalog
        # Counted behind the edits still being written, so an accept made just before
        # (A, then Delete) is in the count.
        w.controller.writer.run(
            lambda: catalog.accepted_tag_count(ids),
            name="count accepted tags",
            on_result=lambda accepted: self._ask(ids, accepted, row, name),
            on_error=w.show_problem,
        )

    def _ask(self, ids: list[int], accepted: int, row: int, name: str) -> None:
        w = self.window
        if w.ctx is None or w.controller.writer is None:
            return
        if not self.confirm(removal_question(len(ids), accepted, name)):
            return
        ctx = w.ctx
        w.statusBar().showMessage(f"Removing {len(ids):,} photo(s)…")
        w.controller.writer.run(
            lambda: ctx.remove_photos(ids),
            name="remove photos",
            on_result=lambda removed: self._done(removed, row),
            on_error=w.show_problem,
        )

    def _done(self, removed: list[int], row: int) -> None:
        """Edits on the undo stack may name removed photos, and undoing one half-way would
        leave it half undone, so the history starts again (the message says so)."""
        w = self.window
        text = f"Removed {len(removed):,} photo(s) from the catalog; the files stay on disk."
        if w.controller.undo_stack.count():
            w.controller.undo_stack.clear()
            text += " Earlier edits can no longer be undone."
        w.statusBar().showMessage(text, 10000)
        w.reload_grid_at(max(row, 0))
        w.refresh_stats()
        w.refresh_shares()
        w.recount_other_bundle()
        self.removed.emit(removed)

    def _confirm(self, question: str) -> bool:
        title, _, rest = question.partition("\n\n")
        box = QMessageBox(
            QMessageBox.Icon.Warning, "Remove from catalog", title, parent=self.window
        )
        box.setInformativeText(rest)
        remove = box.addButton("Remove", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        self.window.grid.setFocus()
        return box.clickedButton() is remove
