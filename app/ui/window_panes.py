"""The window's central widget: banner over grid | preview + similar | review + thresholds.

Also the grid view itself, set up so 100,000 thumbnails scroll smoothly. The splitter
positions are saved with the settings and restored at the next start.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGroupBox,
    QListView,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.ui.catalog_model import CatalogModel
from app.ui.settings import Settings
from app.ui.thumbnail_cache import ThumbnailCache
from app.ui.thumbnail_delegate import ThumbnailDelegate


class PhotoGrid(QListView):
    """Thumbnails in a uniform icon grid, laid out in batches; repainted as thumbnails arrive."""

    def __init__(self, model: CatalogModel, thumbs: ThumbnailCache) -> None:
        super().__init__()
        self.setObjectName("grid")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(500)
        self.setSpacing(2)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setDragEnabled(False)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setModel(model)
        self.setItemDelegate(ThumbnailDelegate(thumbs, self))
        self._model = model
        thumbs.ready.connect(self._thumb_ready)
        thumbs.failed.connect(lambda sha, _reason: self._thumb_ready(sha))  # "cannot read"

    def _thumb_ready(self, sha: str) -> None:
        for row in self._model.rows_with_sha(sha):
            self.update(self._model.index(row))


class WindowPanes(QWidget):
    """The three panes in splitters under the banner; ``save``/``restore`` keep their sizes."""

    def __init__(
        self,
        banner: QWidget,
        left: tuple[QWidget, QWidget],
        middle: tuple[QWidget, QWidget],
        review: QWidget,
        thresholds: QWidget,
    ) -> None:
        super().__init__()
        column = QWidget()
        column_box = QVBoxLayout(column)
        column_box.setContentsMargins(6, 6, 0, 6)
        column_box.addWidget(left[0])
        column_box.addWidget(left[1], 1)
        self.preview_split = self._splitter(Qt.Orientation.Vertical, "previewSplitter", *middle)
        self.preview_split.setCollapsible(1, False)
        self.threshold_box = QGroupBox("Thresholds: what counts as confident")
        # Scrolls rather than squeezes: each family's lines on what its threshold was set
        # on wrap, and a short box would draw them over each other.
        self.threshold_scroll = QScrollArea()
        self.threshold_scroll.setWidgetResizable(True)
        self.threshold_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.threshold_scroll.setWidget(thresholds)
        box_layout = QVBoxLayout(self.threshold_box)
        box_layout.setContentsMargins(4, 4, 4, 4)
        box_layout.addWidget(self.threshold_scroll)
        self.review_split = self._splitter(
            Qt.Orientation.Vertical, "reviewSplitter", review, self.threshold_box
        )
        self.main_split = self._splitter(
            Qt.Orientation.Horizontal, "mainSplitter", column, self.preview_split, self.review_split
        )
        for i, stretch in enumerate((3, 3, 2)):
            self.main_split.setStretchFactor(i, stretch)
        self.main_split.setSizes([560, 480, 380])
        box = QVBoxLayout(self)
        box.setContentsMargins(6, 6, 6, 0)
        box.addWidget(banner)
        box.addWidget(self.main_split, 1)

    def fit_thresholds(self) -> None:
        """Give the threshold box the height its rows need, from the review panel above
        (which keeps at least a third): learning adds lines to the rows."""
        inner = self.threshold_scroll.widget()
        width = self.threshold_scroll.viewport().width()
        need = inner.heightForWidth(width) if inner.hasHeightForWidth() else -1
        need = max(need, inner.minimumSizeHint().height())
        frame = self.threshold_box.height() - self.threshold_scroll.viewport().height()
        review, box = self.review_split.sizes()
        missing = need + frame - box
        if missing > 0:
            moved = min(missing, review - (review + box) // 3)
            if moved > 0:
                self.review_split.setSizes([review - moved, box + moved])

    @staticmethod
    def _splitter(orientation: Qt.Orientation, name: str, *widgets: QWidget) -> QSplitter:
        splitter = QSplitter(orientation)
        splitter.setObjectName(name)
        for widget in widgets:
            splitter.addWidget(widget)
        splitter.setStretchFactor(0, 1)
        return splitter

    def _splitters(self) -> tuple[tuple[str, QSplitter], ...]:
        return (
            ("main", self.main_split),
            ("preview", self.preview_split),
            ("review", self.review_split),
        )

    def restore(self, settings: Settings) -> None:
        for name, splitter in self._splitters():
            sizes = settings.layout(f"splitter_{name}")
            if sizes is not None:
                splitter.restoreState(sizes)

    def save(self, settings: Settings) -> None:
        for name, splitter in self._splitters():
            settings.set_layout(f"splitter_{name}", splitter.saveState())
