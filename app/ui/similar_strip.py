"""The strip of the k most similar catalog photos under the preview.

Clicking one asks the window to jump to it; dropping an outside photo on the strip
asks for that photo's neighbours without importing it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QListView, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from app.ui.file_drops import accept_file_drags, local_files
from app.ui.thumbnail_cache import ThumbnailCache
from app.ui.thumbnail_delegate import PLACEHOLDER, UNCERTAIN_COLOUR

if TYPE_CHECKING:
    from app.core.similar import Neighbour

IdRole = Qt.ItemDataRole.UserRole + 1


class SimilarList(QListWidget):
    """The horizontal list itself; takes drops of outside photos."""

    photo_dropped = Signal(Path)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setDragEnabled(False)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        accept_file_drags(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        accept_file_drags(event)

    def dropEvent(self, event: QDropEvent) -> None:
        files = [f for f in local_files(event) if f.is_file()]
        if not files:
            event.ignore()
            return
        event.acceptProposedAction()
        self.photo_dropped.emit(files[0])


class SimilarStrip(QWidget):
    """``jump_requested(photo_id)`` on click; ``outside_photo(path)`` on a drop."""

    jump_requested = Signal(int)
    outside_photo = Signal(Path)

    def __init__(self, thumbs: ThumbnailCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thumbs = thumbs
        self.title = QLabel("Similar items")
        self.title.setObjectName("stripTitle")
        self.title.setWordWrap(True)  # a long message must not widen the window
        self.list = SimilarList()
        self.list.setObjectName("similarList")
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setFlow(QListView.Flow.LeftToRight)
        self.list.setWrapping(False)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setIconSize(thumbs.size)
        self.list.setGridSize(QSize(thumbs.size.width() + 16, thumbs.size.height() + 28))
        self.list.setFixedHeight(thumbs.size.height() + 48)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.list.setToolTip(
            "Click to jump to a photo; drop an outside photo here to see its neighbours"
        )
        self.list.itemClicked.connect(self._clicked)
        self.list.photo_dropped.connect(self.outside_photo)
        thumbs.ready.connect(self._thumb_ready)
        thumbs.failed.connect(self._thumb_failed)
        self._unreadable = _unreadable_icon(thumbs.size)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.list)
        self._shas: dict[str, list[QListWidgetItem]] = {}

    def show_message(self, text: str) -> None:
        self.title.setText(text)
        self.list.clear()
        self._shas.clear()

    def show_neighbours(self, title: str, neighbours: Sequence[Neighbour]) -> None:
        self.title.setText(title)
        self.list.clear()
        self._shas.clear()
        for n in neighbours:
            item = QListWidgetItem(f"{n.similarity:.2f}")
            item.setData(IdRole, n.photo_id)
            item.setToolTip(f"{n.path}\nsimilarity {n.similarity:.3f}")
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter)
            pixmap = self.thumbs.pixmap(n.sha256, n.path)
            if pixmap is not None:
                item.setIcon(QIcon(pixmap))
            elif self.thumbs.is_broken(n.sha256):
                self._mark_unreadable(item, n.sha256)
            self._shas.setdefault(n.sha256, []).append(item)
            self.list.addItem(item)

    def _thumb_ready(self, sha: str) -> None:
        for item in self._shas.get(sha, []):
            pixmap = self.thumbs.pixmap(sha, "")
            if pixmap is not None:
                item.setIcon(QIcon(pixmap))

    def _thumb_failed(self, sha: str, _message: str) -> None:
        for item in self._shas.get(sha, []):
            self._mark_unreadable(item, sha)

    def _mark_unreadable(self, item: QListWidgetItem, sha: str) -> None:
        """A neighbour whose file is gone or damaged says so, and why on hover, instead
        of an empty tile; its tags and similar items are still in the catalog."""
        item.setIcon(self._unreadable)
        item.setToolTip(f"{item.toolTip()}\n\n{self.thumbs.reason(sha)}")

    def _clicked(self, item: QListWidgetItem) -> None:
        self.jump_requested.emit(int(item.data(IdRole)))

    def photo_ids(self) -> list[int]:
        return [int(self.list.item(i).data(IdRole)) for i in range(self.list.count())]


def _unreadable_icon(size: QSize) -> QIcon:
    pixmap = QPixmap(size)
    pixmap.fill(PLACEHOLDER)
    painter = QPainter(pixmap)
    painter.setPen(UNCERTAIN_COLOUR)
    painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, "cannot read")
    painter.end()
    return QIcon(pixmap)
