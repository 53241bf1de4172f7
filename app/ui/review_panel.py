"""The review panel: one row per tag family, free-form tags, and the keys that drive it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from app.ui.family_row import FamilyRow
from app.ui.review_data import FamilyReview, PhotoReview

KEY_HINTS = (
    "<b>A</b>/<b>Enter</b> accept confident &amp; next · <b>J</b>/<b>→</b> next · "
    "<b>K</b>/<b>←</b> previous · <b>↑</b>/<b>↓</b> family · <b>Space</b> accept · "
    "<b>R</b> reject · <b>C</b> change · <b>1</b>–<b>3</b> pick · <b>T</b> tag · "
    "<b>Ctrl+Z</b> undo"
)


class ReviewPanel(QWidget):
    """Shows a ``PhotoReview``; the window turns keys into edits of ``focused_family``."""

    runner_up_chosen = Signal(str, str)  # family, label

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.review: PhotoReview | None = None
        self._rows: list[FamilyRow] = []
        self._focus = 0
        self.title = QLabel("No photo selected")
        self.title.setObjectName("reviewTitle")
        self.title.setWordWrap(True)
        self.message = QLabel()
        self.message.setObjectName("reviewMessage")
        self.message.setWordWrap(True)
        self.message.hide()
        self._rows_box = QVBoxLayout()
        self._rows_box.setSpacing(6)
        self.free_tags = QLabel()
        self.free_tags.setObjectName("freeTags")
        self.free_tags.setWordWrap(True)
        hints = QLabel(KEY_HINTS)
        hints.setObjectName("keyHints")
        hints.setWordWrap(True)
        body = QWidget()
        inner = QVBoxLayout(body)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.addLayout(self._rows_box)
        inner.addWidget(self.free_tags)
        inner.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.message)
        layout.addWidget(scroll, 1)
        layout.addWidget(hints)

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def show_review(self, review: PhotoReview | None, busy_text: str = "") -> None:
        same_photo = (
            review is not None
            and self.review is not None
            and (review.photo.id == self.review.photo.id)
        )
        self.review = review
        if review is None:
            self.title.setText(busy_text or "No photo selected")
            self._set_rows([])
            self.free_tags.setText("")
            return
        state = review.photo.review_state
        self.title.setText(
            f"<b>{review.photo.path.replace(chr(92), '/').rsplit('/', 1)[-1]}</b> · {state}"
        )
        self._set_rows(list(review.families))
        if not same_photo:
            self._focus = 0
        if not review.families:
            self.free_tags.setText(
                "No suggestions for this photo (it was imported without a bundle)."
            )
        self._show_free_tags(review)
        self._refocus()

    def _show_free_tags(self, review: PhotoReview) -> None:
        tags = ", ".join(t.value for t in review.free_tags)
        text = f"<b>Tags:</b> {tags}" if tags else "<b>Tags:</b> <i>none — press T to add</i>"
        self.free_tags.setText(text)

    def _set_rows(self, families: list[FamilyReview]) -> None:
        while len(self._rows) > len(families):
            row = self._rows.pop()
            row.setParent(None)
            row.deleteLater()
        while len(self._rows) < len(families):
            row = FamilyRow()
            row.runner_up_chosen.connect(self.runner_up_chosen)
            self._rows_box.addWidget(row)
            self._rows.append(row)
        for row, family in zip(self._rows, families, strict=True):
            row.show_review(family)

    @property
    def focused_family(self) -> FamilyReview | None:
        if self.review is None or not self.review.families:
            return None
        return self.review.families[min(self._focus, len(self.review.families) - 1)]

    def move_focus(self, step: int) -> None:
        if self._rows:
            self._focus = (self._focus + step) % len(self._rows)
            self._refocus()

    def _refocus(self) -> None:
        for i, row in enumerate(self._rows):
            row.set_focused(i == self._focus)
