"""One tag family in the review panel: suggestion, confidence bar with threshold, tag state."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.core.catalog.states import TagStatus
from app.ui.review_data import FamilyReview

CONFIDENT = QColor("#2e8b3e")
UNCERTAIN = QColor("#d18a00")
TRACK = QColor("#dfe1e5")
THRESHOLD = QColor("#202124")


class ConfidenceBar(QWidget):
    """A bar filled to the confidence, with a tick where the family's threshold is."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.confidence = 0.0
        self.threshold = 0.5
        self.confident = False
        self.setMinimumWidth(80)

    def sizeHint(self) -> QSize:
        return QSize(160, 12)

    def set_values(self, confidence: float, threshold: float, confident: bool) -> None:
        self.confidence, self.threshold, self.confident = confidence, threshold, confident
        self.setToolTip(f"confidence {confidence:.0%}, threshold {threshold:.0%}")
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        track = QRectF(self.rect()).adjusted(0, 2, -1, -2)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(TRACK)
        painter.drawRoundedRect(track, 3, 3)
        filled = QRectF(track)
        filled.setWidth(track.width() * max(0.0, min(1.0, self.confidence)))
        painter.setBrush(CONFIDENT if self.confident else UNCERTAIN)
        painter.drawRoundedRect(filled, 3, 3)
        x = track.left() + track.width() * self.threshold
        painter.setPen(QPen(THRESHOLD, 2))
        painter.drawLine(int(x), 0, int(x), self.height())


class FamilyRow(QFrame):
    """Shows one ``FamilyReview``; runner-up buttons ask to set that label."""

    runner_up_chosen = Signal(str, str)  # family, label

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("familyRow")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.review: FamilyReview | None = None
        self.name = QLabel()
        self.name.setObjectName("familyName")
        self.value = QLabel()
        self.value.setObjectName("familyValue")
        self.value.setTextFormat(Qt.TextFormat.RichText)
        self.state = QLabel()
        self.state.setObjectName("familyState")
        self.bar = ConfidenceBar()
        self.percent = QLabel()
        self.percent.setMinimumWidth(36)
        self.percent.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.others = QHBoxLayout()
        self.others.setSpacing(4)

        top = QHBoxLayout()
        top.addWidget(self.name)
        top.addWidget(self.value, 1)
        top.addWidget(self.state)
        bar = QHBoxLayout()
        bar.addWidget(self.bar, 1)
        bar.addWidget(self.percent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addLayout(bar)
        layout.addLayout(self.others)

    def set_focused(self, focused: bool) -> None:
        self.setProperty("focused", focused)
        self.style().unpolish(self)
        self.style().polish(self)

    def show_review(self, review: FamilyReview) -> None:
        self.review = review
        self.name.setText(f"<b>{review.family}</b>")
        decision = review.decision
        if decision is not None:
            top = decision.top
            self.bar.set_values(top.confidence, decision.threshold, decision.confident)
            self.percent.setText(f"{top.confidence:.0%}")
        else:
            self.bar.set_values(0.0, 0.5, False)
            self.percent.setText("")
        self.bar.setVisible(decision is not None)
        self.value.setText(self._value_text(review))
        state, colour = self._state(review)
        self.state.setText(state)
        self.state.setStyleSheet(f"color: {colour}; font-weight: bold;")
        self._show_others(review)

    @staticmethod
    def _value_text(review: FamilyReview) -> str:
        if review.accepted:
            return f"<b>{review.accepted}</b>"
        if review.decision is None:
            return "<i>no suggestion</i>"
        top = review.decision.top.label
        if review.rejected:
            return f"<s>{review.rejected}</s>"
        return f"<b>{top}</b>" if review.decision.confident else f"{top}?"

    @staticmethod
    def _state(review: FamilyReview) -> tuple[str, str]:
        tag = review.tag
        if tag is not None and tag.status == TagStatus.ACCEPTED:
            changed = review.decision is not None and tag.value != review.decision.top.label
            return ("✓ set" if changed else "✓ accepted"), CONFIDENT.name()
        if tag is not None:
            return "✗ rejected", "#c0392b"
        if review.decision is None:
            return "", "#7a7f87"
        if review.decision.confident:
            return "confident", CONFIDENT.name()
        return "uncertain", UNCERTAIN.name()

    def _show_others(self, review: FamilyReview) -> None:
        while self.others.count():
            widget = self.others.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        if review.decision is None:
            return
        shown = review.accepted or ""
        for suggestion in review.decision.ranked:
            if suggestion.rank == 1 and not review.rejected and not shown:
                continue
            if suggestion.label == shown:
                continue
            button = QPushButton(
                f"{suggestion.rank} {suggestion.label} {suggestion.confidence:.0%}"
            )
            button.setObjectName("runnerUp")
            button.setFlat(True)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setToolTip(f"Set {review.family} to {suggestion.label} (key {suggestion.rank})")
            button.clicked.connect(
                lambda _=False, label=suggestion.label: self.runner_up_chosen.emit(
                    review.family, label
                )
            )
            self.others.addWidget(button)
        self.others.addStretch(1)
