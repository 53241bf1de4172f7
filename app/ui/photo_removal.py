"""Edit → Remove from catalog: the selected photos leave the catalog, never the disk.

The window asks first and names the accepted tags that would go with the photos. The
removal is a step on the undo stack: Ctrl+Z puts the photos back with every tag,
suggestion and similar item, so the edits made before it stay undoable too. Both ways
are queued behind the tag edits still being written, so an edit made just before is
never lost or applied to a removed photo.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand
from PySide6.QtWidgets import QMessageBox

if TYPE_CHECKING:
    from app.core.catalog import RemovedPhotos
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
        "The files stay on disk, and Edit → Undo (Ctrl+Z) puts the photos back while "
        "this window is open."
    )


class PhotoRemoval(QObject):
    """``removed(ids)`` fires once the photos are out of the catalog and the grid reloads;
    ``restored(ids)`` once an undo has put them back (under their ids now)."""

    removed = Signal(list)
    restored = Signal(list)

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
        if w.job_running:
            w.statusBar().showMessage(
                "Photos cannot be removed while an import, re-tag or learning runs: wait for "
                "it to finish, or cancel it (Esc).",
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
        w.statusBar().showMessage(f"Removing {len(ids):,} photo(s)…")
        w.controller.undo_stack.push(RemoveCommand(self, ids, row))

    def done(self, removed: list[int], row: int) -> None:
        w = self.window
        w.statusBar().showMessage(
            f"Removed {len(removed):,} photo(s) from the catalog; the files stay on disk. "
            "Ctrl+Z puts them back.",
            10000,
        )
        w.reload_grid_at(max(row, 0))
        self._refresh()
        self.removed.emit(removed)

    def put_back(self, removed: RemovedPhotos, back: dict[int, int]) -> None:
        """An undone removal. Photos imported again since keep their new entries; if any
        stayed out or came back under a new id, older edits could name the wrong photo,
        so the history ends there (the message says so)."""
        w = self.window
        text = f"Put {len(back):,} photo(s) back in the catalog with their tags."
        stayed_out = [photo["path"] for photo in removed.photos if photo["id"] not in back]
        if stayed_out:
            text += (
                f" {len(stayed_out):,} were imported again since and keep their new entries"
                f" (e.g. {Path(stayed_out[0]).name}); their earlier tags were not put back."
            )
        if stayed_out or any(old != new for old, new in back.items()):
            w.controller.undo_stack.clear()
            text += " Earlier edits can no longer be undone."
        w.statusBar().showMessage(text, 10000)
        if back:
            w.reload_grid_on(min(back.values()))
        self._refresh()
        self.restored.emit(sorted(back.values()))

    def _refresh(self) -> None:
        w = self.window
        w.refresh_stats()
        w.refresh_shares()
        w.recount_other_bundle()

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


class RemoveCommand(QUndoCommand):
    """A removal on the undo stack: redo takes the photos out, undo puts them back."""

    def __init__(self, removal: PhotoRemoval, ids: list[int], row: int) -> None:
        super().__init__(f"remove {len(ids):,} photo(s) from the catalog")
        window = removal.window
        assert window.ctx is not None and window.controller.writer is not None
        self._ctx, self._writer = window.ctx, window.controller.writer
        self._removal, self._ids, self._row = removal, ids, row
        self._removed: RemovedPhotos | None = None  # set on the writer's thread

    def redo(self) -> None:
        if self._removed is not None:  # an undo that failed left the photos out
            return

        def take_out() -> list[int]:
            self._removed = self._ctx.remove_photos(self._ids)
            return self._removed.ids

        self._writer.run(
            take_out,
            name=self.text(),
            on_result=lambda ids: self._removal.done(ids, self._row),
            on_error=self._removal.window.show_problem,
        )

    def undo(self) -> None:
        def put_back() -> tuple[RemovedPhotos, dict[int, int]] | None:
            removed = self._removed
            if removed is None:  # the removal itself failed: nothing to put back
                return None
            back = self._ctx.restore_photos(removed)
            self._removed = None
            return removed, back

        self._writer.run(
            put_back,
            name=f"undo {self.text()}",
            on_result=lambda result: result and self._removal.put_back(*result),
            on_error=self._put_back_failed,
        )

    def _put_back_failed(self, message: str) -> None:
        """The photos are still out and their rows still held here, so Ctrl+Z can try
        again: the stack steps forward over this command (its redo does nothing)."""
        stack = self._removal.window.controller.undo_stack
        if stack.command(stack.index()) is self:
            stack.redo()
        self._removal.window.show_problem(
            f"Could not put {len(self._ids):,} removed photo(s) back: {message} "
            "Nothing is lost; Ctrl+Z tries again."
        )
