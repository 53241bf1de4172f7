"""Progress of the window's job over the catalog in the status bar (import, re-tag,
learning): count, rate, cancel, and a link to the failures."""

from __future__ import annotations

import time

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget


class ImportProgress(QWidget):
    """Fed by the window with ``update(done, total)``; ``cancel_requested`` on Cancel."""

    cancel_requested = Signal()
    failures_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(220)
        self.bar.setTextVisible(False)
        self.cancel = QPushButton("Cancel")
        self.cancel.setToolTip("Stop; the photos already done stay done (Esc)")
        self.cancel.clicked.connect(self.cancel_requested)
        self.failures = QPushButton()
        self.failures.setFlat(True)
        self.failures.setStyleSheet("color: #c0392b; text-decoration: underline;")
        self.failures.clicked.connect(self.failures_requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel)
        layout.addWidget(self.failures)
        self._started, self._doing = 0.0, "Importing"
        self.set_failures(0)
        self.hide()

    def start(self, doing: str = "Importing", first: str = "Looking for photos…") -> None:
        """A job began; ``first`` says what it does before the first progress report."""
        self._started, self._doing = time.monotonic(), doing
        self.bar.setRange(0, 0)
        self.label.setText(first)
        self.cancel.setEnabled(True)
        self.set_failures(0)
        self.show()

    def update_progress(self, done: int, total: int) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-6)
        rate = done / elapsed
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(done)
        left = f" · {(total - done) / rate:.0f} s left" if rate > 0 and done < total else ""
        self.label.setText(f"{self._doing} {done:,} / {total:,} · {rate:.1f} photos/s{left}")

    def show_steps(self, text: str, done: int, total: int) -> None:
        """Progress of a job that is not counted in photos (``total`` 0: busy)."""
        self.bar.setRange(0, total)
        self.bar.setValue(done)
        self.label.setText(text)

    def set_failures(self, count: int) -> None:
        self.failures.setText(f"{count} failed — show")
        self.failures.setVisible(count > 0)

    def cancelling(self, text: str = "Cancelling after the current photo…") -> None:
        self.cancel.setEnabled(False)
        self.label.setText(text)

    def finish(self, summary: str) -> None:
        self.bar.setRange(0, 1)
        self.bar.setValue(1)
        self.cancel.setEnabled(False)
        self.label.setText(summary)
        self.bar.hide()
        self.cancel.hide()

    def reset_visibility(self) -> None:
        self.bar.show()
        self.cancel.show()
