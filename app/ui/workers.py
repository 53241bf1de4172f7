"""One small worker helper for all background work (import, thumbnails, similar, export).

A job is a plain function ``job(control) -> result`` that runs on a QThreadPool thread
and talks to the window only through signals; ``control`` lets it report progress
and see whether the user cancelled. Exceptions never escape the thread: a
``VitrinaError`` becomes its message, anything else is logged with its traceback.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from app.core.errors import VitrinaError

log = logging.getLogger(__name__)

REPORT_EVERY_S = 0.1


class WorkerSignals(QObject):
    """Signals of one job; they are delivered queued, on the window's thread."""

    progress = Signal(object)
    result = Signal(object)
    error = Signal(str)
    finished = Signal()


class JobControl:
    """What a running job may do: report progress and check for cancellation."""

    def __init__(self, signals: WorkerSignals) -> None:
        self._signals = signals
        self._cancel = threading.Event()

    def report(self, value: object) -> None:
        self._signals.progress.emit(value)

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()


Job = Callable[[JobControl], Any]


def throttled(control: JobControl, every_s: float = REPORT_EVERY_S) -> Callable[[int, int], None]:
    """``progress(done, total)`` that reports ``(done, total)`` a few times a second at most,
    and always the last step, so a fast job never floods the event loop."""
    last = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= every_s or done == total:
            last = now
            control.report((done, total))

    return progress


class Worker(QRunnable):
    """A QRunnable running one job; connect to ``signals`` before starting it."""

    def __init__(self, job: Job, name: str = "job") -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.name = name
        self.signals = WorkerSignals()
        self.control = JobControl(self.signals)
        self._job = job

    def cancel(self) -> None:
        self.control.cancel()

    def run(self) -> None:
        try:
            value = self._job(self.control)
        except VitrinaError as exc:
            self._emit(self.signals.error, str(exc))
        except Exception as exc:  # a bug in a job must not take the thread (or app) down
            log.exception("background job %s failed", self.name)
            self._emit(
                self.signals.error,
                f"{self.name} failed unexpectedly: {exc}. Details are in the log.",
            )
        else:
            self._emit(self.signals.result, value)
        finally:
            self._emit(self.signals.finished)

    def _emit(self, signal: Any, *args: object) -> None:
        """Emit unless the window is already gone (closing while a job runs)."""
        try:
            signal.emit(*args)
        except RuntimeError:
            log.debug("job %s finished after its receiver was deleted", self.name)


class WorkerPool(QObject):
    """Starts workers on a QThreadPool and keeps them alive until their ``finished``."""

    def __init__(self, max_threads: int | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        if max_threads:
            self.pool.setMaxThreadCount(max_threads)
        self._running: set[Worker] = set()

    def start(
        self,
        job: Job,
        *,
        name: str = "job",
        on_result: Callable[[Any], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        on_progress: Callable[[Any], None] | None = None,
        on_finished: Callable[[], None] | None = None,
    ) -> Worker:
        worker = Worker(job, name)
        sig = worker.signals
        if on_result:
            sig.result.connect(on_result)
        if on_error:
            sig.error.connect(on_error)
        if on_progress:
            sig.progress.connect(on_progress)
        if on_finished:
            sig.finished.connect(on_finished)
        sig.finished.connect(lambda w=worker: self._running.discard(w))
        self._running.add(worker)
        self.pool.start(worker)
        return worker

    @property
    def busy(self) -> bool:
        return bool(self._running)

    def cancel_all(self) -> None:
        for worker in list(self._running):
            worker.cancel()

    def wait(self, msecs: int = -1) -> bool:
        """Block until every job ends (used on close, after cancelling)."""
        return self.pool.waitForDone(msecs)


class SingleJob(QObject):
    """One long job at a time (an import, a learning run): ``progressed(done, total)`` while
    it runs, then ``finished(result)`` or ``failed(message)``."""

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

    def _start(self, job: Job, name: str) -> bool:
        """Start ``job`` (its progress values are ``(done, total)``); False while one runs."""
        if self._worker is not None:
            return False
        self._worker = self._workers.start(
            job,
            name=name,
            on_progress=lambda value: self.progressed.emit(*value),
            on_result=self._finished,
            on_error=self._failed,
        )
        return True

    def _finished(self, result: object) -> None:
        self._worker = None  # before the signal: its slots see no job running, may start one
        self.finished.emit(result)

    def _failed(self, message: str) -> None:
        self._worker = None
        self.failed.emit(message)

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel()

    def wait(self, msecs: int = -1) -> bool:
        return self._workers.wait(msecs)
