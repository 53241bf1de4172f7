"""Runs app.core.importer.import_paths in the background and reports progress to the window.

Progress is throttled to a few updates a second so a fast import never floods the
event loop; cancel is checked by the importer between files.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from app.ui.workers import JobControl, Worker, WorkerPool

if TYPE_CHECKING:
    from app.core.context import AppContext
    from app.core.importer import ImportReport

REPORT_EVERY_S = 0.1
# One decode thread beside inference: with the intra-op threads (catalog_session) this
# leaves a core to the event loop.
DECODE_WORKERS = 1


def summary(report: ImportReport) -> str:
    """One line for the status bar: what happened to every file."""
    parts = [f"Imported {len(report.added):,} photo(s)"]
    if report.duplicates:
        parts.append(f"{len(report.duplicates):,} already in the catalog")
    if report.failures:
        parts.append(f"{len(report.failures):,} could not be read")
    if report.cancelled:
        parts.append("cancelled")
    return ", ".join(parts) + f" in {report.elapsed:.1f} s."


class ImportController(QObject):
    """``progressed(done, total)`` while running, ``finished(report)`` at the end."""

    started = Signal()
    progressed = Signal(int, int)
    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._workers = WorkerPool(1, self)
        self._worker: Worker | None = None

    @property
    def running(self) -> bool:
        return self._worker is not None

    def start(self, ctx: AppContext, paths: Sequence[Path]) -> bool:
        if self._worker is not None:
            return False
        chosen = [Path(p) for p in paths]

        def job(control: JobControl) -> ImportReport:
            from app.core.importer import import_paths

            last = 0.0

            def progress(done: int, total: int, _path: Path) -> None:
                nonlocal last
                now = time.monotonic()
                if now - last >= REPORT_EVERY_S or done == total:
                    last = now
                    control.report((done, total))

            return import_paths(
                chosen, ctx, progress, lambda: control.cancelled, decode_workers=DECODE_WORKERS
            )

        self._worker = self._workers.start(
            job,
            name="import",
            on_progress=lambda value: self.progressed.emit(*value),
            on_result=self.finished.emit,
            on_error=self.failed.emit,
            on_finished=self._done,
        )
        self.started.emit()
        return True

    def _done(self) -> None:
        self._worker = None

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel()

    def wait(self, msecs: int = -1) -> bool:
        return self._workers.wait(msecs)
