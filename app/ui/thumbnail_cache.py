"""Thumbnails for the grid, the strip and the preview: memory LRU over the disk cache.

Requests are served newest first by at most two background jobs, so fast scrolling
through 100,000 photos only makes the thumbnails that are (still) on screen; stale
requests are dropped. Images are made (QImage) off the UI thread; pixmaps on it.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QImage, QPixmap

from app.ui.workers import JobControl, WorkerPool

MAX_PENDING = 256
MAX_JOBS = 2


def _load(source: str, sha256: str, size: QSize) -> QImage:
    from app.core.thumbnails import make_thumbnail

    image = QImage(str(make_thumbnail(Path(source), sha256)))
    if image.isNull():
        return image
    return image.scaled(
        size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    )


class ThumbnailCache(QObject):
    """``pixmap(sha, path)`` answers from memory or queues a job; ``ready`` says when made."""

    ready = Signal(str)
    failed = Signal(str, str)

    def __init__(self, size: QSize, capacity: int = 800, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.size = size
        self.capacity = capacity
        self._pixmaps: OrderedDict[str, QPixmap] = OrderedDict()
        self._broken: dict[str, str] = {}  # sha -> why it could not be made
        self._queue: OrderedDict[str, str] = OrderedDict()
        self._running: set[str] = set()
        self._workers = WorkerPool(MAX_JOBS, self)

    def pixmap(self, sha256: str, path: str) -> QPixmap | None:
        hit = self._pixmaps.get(sha256)
        if hit is not None:
            self._pixmaps.move_to_end(sha256)
            return hit
        if sha256 not in self._broken and sha256 not in self._running:
            self._queue[sha256] = path
            self._queue.move_to_end(sha256)
            while len(self._queue) > MAX_PENDING:
                self._queue.popitem(last=False)
            self._pump()
        return None

    def is_broken(self, sha256: str) -> bool:
        return sha256 in self._broken

    def reason(self, sha256: str) -> str:
        """Why the photo's thumbnail could not be made ("" when it could)."""
        return self._broken.get(sha256, "")

    def retry_broken(self) -> None:
        """Photos found at a new path (a moved folder) can be read again: forget failures."""
        self._broken.clear()

    def is_ready(self, sha256: str) -> bool:
        """Decoded and held, so ``pixmap`` returns it at once."""
        return sha256 in self._pixmaps

    def _pump(self) -> None:
        while self._queue and len(self._running) < MAX_JOBS:
            sha, path = self._queue.popitem(last=True)
            self._running.add(sha)
            size = QSize(self.size)

            def job(
                _: JobControl, p: str = path, s: str = sha, z: QSize = size
            ) -> tuple[str, QImage]:
                return s, _load(p, s, z)

            self._workers.start(
                job,
                name="thumbnail",
                on_result=self._done,
                on_error=lambda message, s=sha: self._fail(s, message),
            )

    def _done(self, result: tuple[str, QImage]) -> None:
        sha, image = result
        self._running.discard(sha)
        if image.isNull():
            self._fail(sha, "the thumbnail could not be read")
            return
        self._pixmaps[sha] = QPixmap.fromImage(image)
        while len(self._pixmaps) > self.capacity:
            self._pixmaps.popitem(last=False)
        self.ready.emit(sha)
        self._pump()

    def _fail(self, sha: str, message: str) -> None:
        self._running.discard(sha)
        self._broken[sha] = message
        self.failed.emit(sha, message)
        self._pump()

    def shutdown(self) -> None:
        self._queue.clear()
        self._workers.wait(3000)
