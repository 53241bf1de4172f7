"""The grid's Qt model: catalog photos matching a filter, loaded in windows in the background.

``rowCount`` is the match count; rows are fetched a page at a time (offset/limit) by a
background job when first painted, so 100,000 photos cost one count query up front
and a page per screenful. A generation number drops answers to an older filter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)

from app.core.catalog.states import ReviewState
from app.ui.workers import JobControl, WorkerPool

PAGE = 256
PhotoRole = Qt.ItemDataRole.UserRole + 1
IdRole = Qt.ItemDataRole.UserRole + 2

Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class GridItem:
    """What a grid cell shows of one photo."""

    id: int
    path: str
    sha256: str
    review_state: str
    uncertain: bool
    duplicate_of: int | None = None  # the earlier photo it may be a duplicate of

    @property
    def name(self) -> str:
        return self.path.replace("\\", "/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class GridSource:
    """The background reads the model needs; the window binds them to the catalog."""

    count: Callable[[object], int]
    page: Callable[[object, int, int], Sequence[GridItem]]
    ids: Callable[[object], Sequence[int]]


class CatalogModel(QAbstractListModel):
    """Photos of the catalog under ``filter``, in catalog order."""

    reloaded = Signal()
    error = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._source: GridSource | None = None
        self._filter: object = None
        self._count = 0
        self._pages: dict[int, list[GridItem]] = {}
        self._loading: set[int] = set()
        self._ids: list[int] | None = None
        self._generation = 0
        self._workers = WorkerPool(2, self)

    # --- Qt model -----------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._count

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        item = self.item(index.row())
        if item is None:
            return None
        if role == PhotoRole:
            return item
        if role == IdRole:
            return item.id
        if role == Qt.ItemDataRole.DisplayRole:
            return item.name
        if role == Qt.ItemDataRole.ToolTipRole:
            state = item.review_state + (", uncertain" if item.uncertain else "")
            if item.duplicate_of is not None:
                state += f", possible duplicate of photo {item.duplicate_of}"
            return f"{item.path}\n{state}"
        return None

    # --- loading ------------------------------------------------------------------
    def set_source(self, source: GridSource | None, photo_filter: object = None) -> None:
        self._source = source
        self._filter = photo_filter
        self.reload()

    def set_filter(self, photo_filter: object) -> None:
        self._filter = photo_filter
        self.reload()

    @property
    def photo_filter(self) -> object:
        return self._filter

    def reload(self) -> None:
        """Count again and drop loaded pages (after a filter change or an import)."""
        self._generation += 1
        gen = self._generation
        source, flt = self._source, self._filter
        if source is None:
            self._apply_count(gen, 0)
            return

        def job(_: JobControl) -> int:
            return source.count(flt)

        self._workers.start(
            job,
            name="count photos",
            on_result=lambda n: self._apply_count(gen, n),
            on_error=self.error.emit,
        )

    def _apply_count(self, gen: int, count: int) -> None:
        if gen != self._generation:
            return
        self.beginResetModel()
        self._count = count
        self._pages.clear()
        self._loading.clear()
        self._ids = None
        self.endResetModel()
        self.reloaded.emit()

    def refresh(self) -> None:
        """Pick up rows added at the end (during an import) without losing the selection."""
        gen = self._generation
        source, flt = self._source, self._filter
        if source is None:
            return

        def job(_: JobControl) -> int:
            return source.count(flt)

        self._workers.start(job, name="count photos", on_result=lambda n: self._grow(gen, n))

    def _grow(self, gen: int, count: int) -> None:
        if gen != self._generation or count == self._count:
            return
        if count < self._count:
            self.reload()
            return
        last_page = (self._count - 1) // PAGE if self._count else 0
        self._pages.pop(last_page, None)
        self.beginInsertRows(QModelIndex(), self._count, count - 1)
        self._count = count
        self._ids = None
        self.endInsertRows()

    def item(self, row: int) -> GridItem | None:
        """The row's photo, or ``None`` while its page is loading (a placeholder is painted)."""
        if not 0 <= row < self._count:
            return None
        page_no, offset = divmod(row, PAGE)
        page = self._pages.get(page_no)
        if page is None:
            self._load_page(page_no)
            return None
        return page[offset] if offset < len(page) else None

    def _load_page(self, page_no: int) -> None:
        if page_no in self._loading or self._source is None:
            return
        self._loading.add(page_no)
        gen, source, flt = self._generation, self._source, self._filter

        def job(_: JobControl) -> list[GridItem]:
            return list(source.page(flt, page_no * PAGE, PAGE))

        self._workers.start(
            job,
            name="load photos",
            on_result=lambda rows: self._page_loaded(gen, page_no, rows),
            on_error=lambda message: self._page_failed(page_no, message),
        )

    def _page_loaded(self, gen: int, page_no: int, rows: list[GridItem]) -> None:
        if gen != self._generation:
            return
        self._loading.discard(page_no)
        self._pages[page_no] = rows
        first = page_no * PAGE
        last = min(first + len(rows), self._count) - 1
        if last >= first:
            self.dataChanged.emit(self.index(first), self.index(last))

    def _page_failed(self, page_no: int, message: str) -> None:
        """Keep the page marked as loading so painting does not retry it in a loop."""
        self.error.emit(message)

    def rows_with_sha(self, sha256: str) -> list[int]:
        return [
            page_no * PAGE + i
            for page_no, rows in self._pages.items()
            for i, item in enumerate(rows)
            if item.sha256 == sha256
        ]

    def update_item(self, photo_id: int, review_state: str, uncertain: bool | None) -> None:
        """Show a photo's new review state at once (after an edit) without a reload.

        ``uncertain`` None keeps the mark as it was; a reviewed photo carries none.
        """
        for page_no, rows in self._pages.items():
            for i, item in enumerate(rows):
                if item.id == photo_id:
                    mark = item.uncertain if uncertain is None else uncertain
                    mark = mark and review_state != ReviewState.REVIEWED
                    rows[i] = replace(item, review_state=review_state, uncertain=mark)
                    index = self.index(page_no * PAGE + i)
                    self.dataChanged.emit(index, index)

    def row_of(self, photo_id: int, found: Callable[[int], None]) -> None:
        """Call ``found(row)`` with the photo's row (-1 when the filter hides it)."""
        for page_no, rows in self._pages.items():
            for i, item in enumerate(rows):
                if item.id == photo_id:
                    found(page_no * PAGE + i)
                    return
        if self._ids is not None:
            found(self._ids.index(photo_id) if photo_id in self._ids else -1)
            return
        gen, source, flt = self._generation, self._source, self._filter
        if source is None:
            found(-1)
            return

        def job(_: JobControl) -> list[int]:
            return list(source.ids(flt))

        def done(ids: list[int]) -> None:
            if gen != self._generation:
                return
            self._ids = ids
            found(ids.index(photo_id) if photo_id in ids else -1)

        self._workers.start(job, name="find photo", on_result=done, on_error=self.error.emit)

    def shutdown(self) -> None:
        self._workers.wait(3000)
