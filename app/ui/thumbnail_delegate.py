"""Paints a grid cell: thumbnail, file name, review-state badge, the uncertain mark and the
possible-duplicate mark."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QHelpEvent, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolTip,
    QWidget,
)

from app.core.catalog.states import ReviewState
from app.ui.catalog_model import GridItem, PhotoRole
from app.ui.thumbnail_cache import ThumbnailCache

BADGE_COLOURS = {
    ReviewState.NEW: QColor("#7a7f87"),
    ReviewState.SUGGESTED: QColor("#d18a00"),
    ReviewState.REVIEWED: QColor("#2e8b3e"),
}
UNCERTAIN_COLOUR = QColor("#c0392b")
DUPLICATE_COLOUR = QColor("#6c3fb5")  # the possible-duplicate mark
PLACEHOLDER = QColor("#e6e7ea")
CAPTION_HEIGHT = 20
PADDING = 6


class ThumbnailDelegate(QStyledItemDelegate):
    """Fixed-size cells, so the view lays out 100,000 rows without asking for each."""

    def __init__(self, thumbs: ThumbnailCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thumbs = thumbs
        self.cell = QSize(
            thumbs.size.width() + 2 * PADDING, thumbs.size.height() + CAPTION_HEIGHT + 2 * PADDING
        )

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        return self.cell

    def helpEvent(
        self,
        event: QHelpEvent,
        view: QAbstractItemView,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> bool:
        """Hovering a "cannot read" tile tells why (the file is gone, damaged, …)."""
        item: GridItem | None = index.data(PhotoRole)
        if event.type() == QEvent.Type.ToolTip and item and self.thumbs.is_broken(item.sha256):
            usual = index.data(Qt.ItemDataRole.ToolTipRole)
            QToolTip.showText(
                event.globalPos(), f"{usual}\n\n{self.thumbs.reason(item.sha256)}", view
            )
            return True
        return super().helpEvent(event, view, option, index)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = option.rect.adjusted(2, 2, -2, -2)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        palette = option.palette
        if selected:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.color(QPalette.ColorRole.Highlight))
            painter.drawRoundedRect(rect, 6, 6)
        item: GridItem | None = index.data(PhotoRole)
        image_rect = QRect(
            rect.x() + PADDING - 2,
            rect.y() + PADDING - 2,
            self.thumbs.size.width(),
            self.thumbs.size.height(),
        )
        self._paint_image(painter, image_rect, item)
        if item is not None:
            self._paint_caption(painter, rect, item, selected, palette)
            self._paint_badges(painter, image_rect, item)
        painter.restore()

    def _paint_image(self, painter: QPainter, target: QRect, item: GridItem | None) -> None:
        pixmap = self.thumbs.pixmap(item.sha256, item.path) if item else None
        if pixmap is None:
            painter.fillRect(target, PLACEHOLDER)
            if item is not None and self.thumbs.is_broken(item.sha256):
                painter.setPen(UNCERTAIN_COLOUR)
                painter.drawText(target, Qt.AlignmentFlag.AlignCenter, "cannot read")
            return
        size = pixmap.size().scaled(target.size(), Qt.AspectRatioMode.KeepAspectRatio)
        x = target.x() + (target.width() - size.width()) // 2
        y = target.y() + (target.height() - size.height()) // 2
        painter.drawPixmap(QRect(x, y, size.width(), size.height()), pixmap)

    def _paint_caption(
        self, painter: QPainter, rect: QRect, item: GridItem, selected: bool, palette: QPalette
    ) -> None:
        caption = QRect(
            rect.x() + 4, rect.bottom() - CAPTION_HEIGHT, rect.width() - 8, CAPTION_HEIGHT
        )
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.setPen(palette.color(role))
        name = painter.fontMetrics().elidedText(
            item.name, Qt.TextElideMode.ElideMiddle, caption.width()
        )
        painter.drawText(caption, Qt.AlignmentFlag.AlignCenter, name)

    def _paint_badges(self, painter: QPainter, image: QRect, item: GridItem) -> None:
        font = QFont(painter.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.8))
        font.setBold(True)
        painter.setFont(font)
        text = item.review_state
        width = painter.fontMetrics().horizontalAdvance(text) + 10
        badge = QRect(image.x() + 3, image.y() + 3, width, painter.fontMetrics().height() + 2)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(BADGE_COLOURS.get(text, BADGE_COLOURS[ReviewState.NEW]))
        painter.drawRoundedRect(badge, 6, 6)
        painter.setPen(QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)
        if item.uncertain:
            side = badge.height()
            mark = QRect(image.right() - side - 3, image.y() + 3, side, side)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(UNCERTAIN_COLOUR)
            painter.drawEllipse(mark)
            painter.setPen(QColor("white"))
            painter.drawText(mark, Qt.AlignmentFlag.AlignCenter, "?")
        if item.duplicate_of is not None:
            self._paint_look_alike(painter, image, item.duplicate_of, badge.height())

    @staticmethod
    def _paint_look_alike(painter: QPainter, image: QRect, original: int, height: int) -> None:
        """Bottom left: "≈ 12", this photo may repeat photo 12 (G groups, D dismisses)."""
        text = f"≈ {original}"
        width = painter.fontMetrics().horizontalAdvance(text) + 10
        mark = QRect(image.x() + 3, image.bottom() - height - 3, width, height)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(DUPLICATE_COLOUR)
        painter.drawRoundedRect(mark, 6, 6)
        painter.setPen(QColor("white"))
        painter.drawText(mark, Qt.AlignmentFlag.AlignCenter, text)
