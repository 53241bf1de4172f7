"""The window's status bar: a message never runs into the permanent widgets (import
progress, photo counts), and what does not fit is one hover away."""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtCore import QEvent, QRect, Qt
from PySide6.QtGui import QHelpEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizeGrip, QStatusBar, QStyle, QStyleOption, QToolTip, QWidget

MARGIN = 6  # Qt's own left margin for the message
GAP = 16  # between the message and the first permanent widget


class StatusBar(QStatusBar):
    """Qt clips a long message mid-letter, flush against the first permanent widget, so
    the counts read as part of it; this one ends it with "…" a gap before them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._notice: tuple[str, tuple[str, ...]] = ("", ())
        self.messageChanged.connect(self._forget_details)

    def show_notice(self, what: str, details: Sequence[str], timeout: int = 0) -> None:
        """Show "WHAT, with a note — hover here to read it.". Notes (an index rebuilt for
        another bundle, with its path and both bundle keys) are too long for a status bar,
        so they are its tooltip; by default the line stays until the next message."""
        n = len(details)
        some = "a note" if n == 1 else f"{n} notes"
        text = f"{what}, with {some} — hover here to read {'it' if n == 1 else 'them'}."
        self.showMessage(text, timeout)
        self._notice = (text, tuple(details))

    def _forget_details(self, message: str) -> None:
        if message != self._notice[0]:
            self._notice = ("", ())

    def hover_text(self) -> str:
        """The tooltip: the notice's explanation, or a message that was cut, in full."""
        message = self.currentMessage()
        text, details = self._notice
        if message and message == text and details:
            return "\n\n".join(details)
        return message if self.shown_text() != message else ""

    def shown_text(self) -> str:
        """The message as drawn: elided to the room left of the permanent widgets."""
        return self.fontMetrics().elidedText(
            self.currentMessage(), Qt.TextElideMode.ElideRight, self.message_rect().width()
        )

    def message_rect(self) -> QRect:
        """From the left edge to a gap before the first permanent widget (while a message
        shows, Qt hides the normal ones, so the visible children are the permanent ones)."""
        left, right = MARGIN, self.width() - 2 * MARGIN
        for widget in self._permanent_widgets():
            if self.isRightToLeft():
                left = max(left, widget.geometry().right() + GAP)
            else:
                right = min(right, widget.x() - GAP)
        return QRect(left, 0, max(0, right - left), self.height())

    def _permanent_widgets(self) -> list[QWidget]:
        children = self.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly)
        # A tooltip is a child too, but a window of its own.
        return [
            w
            for w in children
            if w.isVisible() and not w.isWindow() and not isinstance(w, QSizeGrip)
        ]

    def paintEvent(self, event: QPaintEvent) -> None:
        """As QStatusBar paints, with the message elided to ``message_rect``."""
        if not self.currentMessage():
            super().paintEvent(event)
            return
        painter = QPainter(self)
        style = self.style()
        panel = QStyleOption()
        panel.initFrom(self)
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelStatusBar, panel, painter, self)
        for widget in self._permanent_widgets():
            frame = QStyleOption()
            frame.rect = widget.geometry().adjusted(-2, -1, 2, 1)
            frame.palette = self.palette()
            style.drawPrimitive(
                QStyle.PrimitiveElement.PE_FrameStatusBarItem, frame, painter, widget
            )
        painter.setPen(self.palette().windowText().color())
        align = Qt.AlignmentFlag.AlignLeading | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(
            self.message_rect(), int(align) | int(Qt.TextFlag.TextSingleLine), self.shown_text()
        )

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            text = self.hover_text()
            if text and self.message_rect().contains(event.pos()):
                # Rich text, so Qt wraps a long explanation instead of one screen-wide line.
                paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n\n"))
                QToolTip.showText(event.globalPos(), paragraphs, self)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)
