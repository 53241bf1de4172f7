"""The status bar's offer to learn once enough new reviews piled up: a line with two
links, never a popup, so it never takes the keys from the review."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget


class LearningOffer(QWidget):
    """``learn_requested`` on *Learn now*; ``later_requested`` on *Later*."""

    learn_requested = Signal()
    later_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("learningOffer")
        self.text = QLabel()
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.text.linkActivated.connect(self._link)
        self.text.setToolTip(
            "Learning adapts the suggestions and thresholds to this catalog's photos from "
            "its accepted, corrected and rejected tags (Tools → Learn from reviews…)."
        )
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text)
        self.hide()

    def show_count(self, reviews: int) -> None:
        self.text.setText(
            f"{reviews:,} new reviews to learn from — <a href='learn'>Learn now</a> · "
            "<a href='later'>Later</a>"
        )
        self.show()

    def _link(self, link: str) -> None:
        self.hide()
        (self.learn_requested if link == "learn" else self.later_requested).emit()
