"""Edit → Remove from catalog: the selected photos leave the catalog, never the disk.

The window asks first and names the accepted tags that would go with the photos. The
removal is a step on the undo stack: Ctrl+Z puts the photos back with every tag,
suggestion and similar item, so the edits made before it stay undoable too. Both ways
are queued behind the tag edits still being written, so an edit made just before is
never lost or applied to a removed photo.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtGui import QUndoCommand
from PySide6.QtWidgets import QListView, QMessageBox

from app.ui.questions import confirm_destructive
from app.ui.window_state import WindowHelper

if TYPE_CHECKING:
    from app.core.catalog import RemovedPhotos
    from app.ui.catalog_model import CatalogModel
    from app.ui.review_controller import ReviewController
    from app.ui.window_state import WindowHost, WindowState


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


class PhotoRemoval(WindowHelper):
    """``removed(ids)`` fires once the photos are out of the catalog, after
    ``reload_at_row(row)`` asked the grid to reload (the photo now at ``row`` current);
    ``restored(ids)`` once an undo has put them back (under their ids now), after
    ``reload_on_photo(id)``. Counts follow both."""

    removed = Signal(list)
    restored = Signal(list)
    reload_at_row = Signal(int)
    reload_on_photo = Signal(int)

    def __init__(
        self,
        state: WindowState,
        host: WindowHost,
        controller: ReviewController,
        grid: QListView,
        model: CatalogModel,
        job_running: Callable[[], bool],
    ) -> None:
        super().__init__(state, host)
        self.controller, self.grid, self.model = controller, grid, model
        self.job_running = job_running
        self.confirm = self._confirm  # tests answer in its place

    def remove_selected(self) -> None:
        """Ask about the selected photos (the current one if none is selected)."""
        w, c = self.window, self.controller
        ids = c.selected_ids()
        if self.state.ctx is None or not ids or c.writer is None:
            return
        if self.job_running():
            w.statusBar().showMessage(
                "Photos cannot be removed while an import, re-tag or learning runs: wait for "
                "it to finish, or cancel it (Esc).",
                10000,
            )
            return
        rows = [i.row() for i in self.grid.selectionModel().selectedIndexes()]
        row = min(rows) if rows else self.grid.currentIndex().row()
        item = self.model.item(row)
        name = Path(item.path).name if len(ids) == 1 and item else ""
        catalog = self.state.ctx.catalog
        # Counted behind the edits still being written, so an accept made just before
        # (A, then Delete) is in the count.
        c.writer.run(
            lambda: catalog.accepted_tag_count(ids),
            name="count accepted tags",
            on_result=lambda accepted: self._ask(ids, accepted, row, name),
            on_error=w.show_problem,
        )

    def _ask(self, ids: list[int], accepted: int, row: int, name: str) -> None:
        if self.state.ctx is None or self.controller.writer is None:
            return
        if not self.confirm(removal_question(len(ids), accepted, name)):
            return
        self.window.statusBar().showMessage(f"Removing {len(ids):,} photo(s)…")
        self.controller.undo_stack.push(RemoveCommand(self, ids, row))

    def done(self, removed: list[int], row: int) -> None:
        self.window.statusBar().showMessage(
            f"Removed {len(removed):,} photo(s) from the catalog; the files stay on disk. "
            "Ctrl+Z puts them back.",
            10000,
        )
        self.reload_at_row.emit(max(row, 0))
        self.removed.emit(removed)

    def put_back(self, removed: RemovedPhotos, back: dict[int, int]) -> None:
        """An undone removal. Photos imported again since keep their new entries; if any
        stayed out or came back under a new id, older edits could name the wrong photo,
        so the history ends there (the message says so)."""
        text = f"Put {len(back):,} photo(s) back in the catalog with their tags."
        stayed_out = [photo["path"] for photo in removed.photos if photo["id"] not in back]
        if stayed_out:
            text += (
                f" {len(stayed_out):,} were imported again since and keep their new entries"
                f" (e.g. {Path(stayed_out[0]).name}); their earlier tags were not put back."
            )
        if stayed_out or any(old != new for old, new in back.items()):
            self.controller.undo_stack.clear()
            text += " Earlier edits can no longer be undone."
        self.window.statusBar().showMessage(text, 10000)
        if back:
            self.reload_on_photo.emit(min(back.values()))
        self.restored.emit(sorted(back.values()))

    def _confirm(self, question: str) -> bool:
        remove = confirm_destructive(
            self.window, "Remove from catalog", question, "Remove", QMessageBox.Icon.Warning
        )
        self.grid.setFocus()
        return remove


class RemoveCommand(QUndoCommand):
    """A removal on the undo stack: redo takes the photos out, undo puts them back."""

    def __init__(self, removal: PhotoRemoval, ids: list[int], row: int) -> None:
        super().__init__(f"remove {len(ids):,} photo(s) from the catalog")
        ctx, writer = removal.state.ctx, removal.controller.writer
        assert ctx is not None and writer is not None
        self._ctx, self._writer = ctx, writer
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
        stack = self._removal.controller.undo_stack
        if stack.command(stack.index()) is self:
            stack.redo()
        self._removal.window.show_problem(
            f"Could not put {len(self._ids):,} removed photo(s) back: {message} "
            "Nothing is lost; Ctrl+Z tries again."
        )
