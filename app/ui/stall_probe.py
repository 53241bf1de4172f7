"""Measures how long the event loop stalls: a fast timer notes the gaps between its ticks.

Used by the responsiveness test and benchmark (a stall > 50 ms is a visible freeze).
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, QTimer


class StallProbe(QObject):
    """Ticks every ``interval_ms``; ``max_stall_ms`` is the longest extra wait seen."""

    def __init__(self, interval_ms: int = 5, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.interval_ms = interval_ms
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._last = 0.0
        self.max_stall_ms = 0.0
        self.ticks = 0

    def start(self) -> None:
        self.max_stall_ms = 0.0
        self.ticks = 0
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> float:
        self._timer.stop()
        return self.max_stall_ms

    def _tick(self) -> None:
        now = time.perf_counter()
        stall = (now - self._last) * 1000.0 - self.interval_ms
        self.max_stall_ms = max(self.max_stall_ms, stall)
        self._last = now
        self.ticks += 1
