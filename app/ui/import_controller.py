"""Runs app.core.importer's imports and re-tags in the background; reports progress.

Progress is throttled to a few updates a second so a fast import never floods the
event loop; cancel is checked by the importer between files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from app.ui.workers import JobControl, SingleJob, throttled

if TYPE_CHECKING:
    from app.core.context import AppContext
    from app.core.importer import Cancel, ImportReport, Progress

# One decode thread beside inference: with the intra-op threads (catalog_session) this
# leaves a core to the event loop.
DECODE_WORKERS = 1


@dataclass(frozen=True)
class JobKind:
    """What a job does to photos, as the progress line and the summary say it."""

    name: str
    doing: str
    done: str


IMPORT = JobKind("import", "Importing", "Imported")
RETAG = JobKind("re-tag", "Re-tagging", "Re-tagged")


def summary(report: ImportReport, verb: str = IMPORT.done) -> str:
    """One line for the status bar: what happened to every file."""
    parts = [f"{verb} {len(report.added):,} photo(s)"]
    if report.duplicates:
        parts.append(f"{len(report.duplicates):,} already in the catalog")
    if report.near_duplicates:
        parts.append(f"{len(report.near_duplicates):,} possible duplicate(s) (≈ on the tile)")
    if report.moved:
        parts.append(f"{len(report.moved):,} found at a new path (tags kept)")
    if report.failures:
        parts.append(f"{len(report.failures):,} could not be read")
    if report.cancelled:
        parts.append("cancelled")
    return ", ".join(parts) + f" in {report.elapsed:.1f} s."


class ImportController(SingleJob):
    """One import or re-tag at a time: ``started()``, ``progressed(done, total)`` while it
    runs, ``finished(report)`` at the end."""

    started = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.kind = IMPORT  # the current or last job's

    def start(self, ctx: AppContext, paths: Sequence[Path]) -> bool:
        """Import files and folders; False while another job runs."""
        chosen = [Path(p) for p in paths]

        def work(progress: Progress, cancel: Cancel) -> ImportReport:
            from app.core.importer import import_paths

            return import_paths(chosen, ctx, progress, cancel, decode_workers=DECODE_WORKERS)

        return self._start_job(work, IMPORT)

    def start_retag(self, ctx: AppContext) -> bool:
        """Tag again every photo the current bundle has not tagged (e.g. after a bundle
        update): new suggestions and embedding; accepted tags stay. False while busy."""

        def work(progress: Progress, cancel: Cancel) -> ImportReport:
            from app.core.importer import retag_photos

            missing = ctx.catalog.photos_missing_embedding(ctx.tagger.embedding_key)
            return retag_photos(missing, ctx, progress, cancel, decode_workers=DECODE_WORKERS)

        return self._start_job(work, RETAG)

    def _start_job(self, work: Callable[[Progress, Cancel], ImportReport], kind: JobKind) -> bool:
        if self.running:
            return False
        self.kind = kind

        def job(control: JobControl) -> ImportReport:
            step = throttled(control)
            return work(lambda done, total, _path: step(done, total), lambda: control.cancelled)

        self._start(job, kind.name)
        self.started.emit()
        return True
