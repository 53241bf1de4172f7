"""Undoable tag edits: QUndoCommands whose catalog writes run in order on one background thread.

``redo`` queues the edit, ``undo`` queues its inverse; both run on the writer's single
thread, so an undo always runs after the edit it reverts. A failed write (a conflict,
a locked catalog) is reported through ``TagWriter.failed`` and its undo does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand

from app.ui.tag_edits import EditResult
from app.ui.workers import JobControl, WorkerPool

if TYPE_CHECKING:
    from app.core.catalog import Catalog

Edit = Callable[["Catalog"], EditResult]


class TagWriter(QObject):
    """Runs catalog writes one after another, off the UI thread."""

    written = Signal(list)  # photo ids whose tags changed
    failed = Signal(str, list)  # message, photo ids to reload

    def __init__(self, catalog: Catalog, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self._workers = WorkerPool(1, self)

    def submit(self, run: Callable[[Catalog], list[int]], photo_ids: list[int], name: str) -> None:
        catalog = self.catalog
        self.run(
            lambda: run(catalog),
            name,
            self.written.emit,
            lambda message: self.failed.emit(message, photo_ids),
        )

    def run(
        self,
        job: Callable[[], Any],
        name: str,
        on_result: Callable[[Any], None],
        on_error: Callable[[str], None],
    ) -> None:
        """A catalog write in order with the edits before it (removing photos, too)."""

        def work(_: JobControl) -> Any:
            return job()

        self._workers.start(work, name=name, on_result=on_result, on_error=on_error)

    @property
    def busy(self) -> bool:
        return self._workers.busy

    def wait(self, msecs: int = -1) -> bool:
        return self._workers.wait(msecs)


class EditCommand(QUndoCommand):
    """One user edit (on one photo or a selection) on the undo stack."""

    def __init__(self, text: str, writer: TagWriter, edit: Edit, photo_ids: list[int]) -> None:
        super().__init__(text)
        self._writer = writer
        self._edit = edit
        self._photo_ids = photo_ids
        self._result: EditResult | None = None
        self._again: Edit | None = None

    def redo(self) -> None:
        def run(catalog: Catalog) -> list[int]:
            edit, self._again = self._again or self._edit, None
            self._result = None
            self._result = edit(catalog)
            return self._result.photo_ids

        self._writer.submit(run, self._photo_ids, self.text())

    def undo(self) -> None:
        def run(catalog: Catalog) -> list[int]:
            result, self._result = self._result, None
            if result is None:
                return []
            result.undo(catalog)
            self._again = result.redo
            return result.photo_ids

        self._writer.submit(run, self._photo_ids, f"undo {self.text()}")
