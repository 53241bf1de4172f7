"""Keyboard-first review: what the current photo is, what the keys do to it, and undo.

Reads (review, preview, similar items) run as background jobs and are dropped if the
user has moved on; edits are undoable commands whose writes run on the TagWriter's
thread. A multi-selection turns accept/change/tag into bulk edits of the selection.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QObject, QTimer, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QInputDialog, QListView, QWidget

from app.ui import catalog_session, tag_edits
from app.ui.catalog_model import CatalogModel, GridItem, IdRole, PhotoRole
from app.ui.edit_commands import EditCommand, TagWriter
from app.ui.label_picker import LabelPicker
from app.ui.preview_pane import PreviewPane
from app.ui.review_data import PhotoReview
from app.ui.review_panel import ReviewPanel
from app.ui.similar_strip import SimilarStrip
from app.ui.thumbnail_cache import ThumbnailCache
from app.ui.workers import WorkerPool

if TYPE_CHECKING:
    from app.core.context import AppContext
    from app.ui.window_state import WindowState

LOAD_DELAY_MS = 40


def unreadable_text(reason: str) -> str:
    """The preview of a photo that cannot be shown: why, and the way back for a moved one."""
    return (
        f"This photo cannot be shown: {reason}\n\nIts tags are safe in the catalog. If its "
        "folder was moved or renamed, drop the folder onto the window: Vitrina finds the "
        "photos by their content and keeps their tags."
    )


class ReviewController(QObject):
    """Drives the review panel, preview and similar strip from the grid's current photo."""

    status = Signal(str)
    problem = Signal(str)
    review_shown = Signal(object)  # PhotoReview
    similar_shown = Signal(list)  # Neighbour list
    jumped = Signal(int)  # photo id now current
    clear_filters_requested = Signal()  # a jump to a photo the filter hides

    def __init__(
        self,
        grid: QListView,
        model: CatalogModel,
        panel: ReviewPanel,
        preview: PreviewPane,
        strip: SimilarStrip,
        preview_cache: ThumbnailCache,
        state: WindowState,
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self.grid, self.model, self.panel = grid, model, panel
        self.preview, self.strip, self.preview_cache = preview, strip, preview_cache
        self.state = state
        self.window = parent  # the dialogs' parent
        self.writer: TagWriter | None = None
        self.undo_stack = QUndoStack(self)
        self.current_id: int | None = None
        self._outside: Path | None = None  # an outside photo shown on the strip
        self._current_sha = ""
        self._reads = WorkerPool(2, self)
        self._pending_jump: int | None = None
        self._load_timer = QTimer(self)
        self._load_timer.setSingleShot(True)
        self._load_timer.setInterval(LOAD_DELAY_MS)
        self._load_timer.timeout.connect(self._load_current)
        preview_cache.ready.connect(self._preview_ready)
        preview_cache.failed.connect(self._preview_failed)
        panel.runner_up_chosen.connect(lambda family, label: self.set_label(family, label))
        strip.jump_requested.connect(self.jump_to)
        strip.outside_photo.connect(self.show_outside_neighbours)
        model.reloaded.connect(self._after_reload)
        model.dataChanged.connect(self._rows_loaded)
        state.thresholds_changed.connect(self.reload_current)
        self.ask_label: Callable[
            [Mapping[str, Sequence[str]], str | None, str, str | None], tuple[str, str] | None
        ]
        self.ask_label = self._ask_label
        self.ask_text: Callable[[str], str | None] = self._ask_text

    # --- binding ---------------------------------------------------------------------
    @property
    def ctx(self) -> AppContext | None:
        return self.state.ctx

    def bind(self) -> None:
        """The state's catalog opened or closed: edits go to its writer, undo starts empty."""
        ctx = self.state.ctx
        self.undo_stack.clear()
        if self.writer is not None:
            self.writer.wait(5000)
        self.writer = TagWriter(ctx.catalog, self) if ctx is not None else None
        if self.writer is not None:
            self.writer.written.connect(self._written)
            self.writer.failed.connect(self._write_failed)
        self.clear_current()

    def clear_current(self, why: str = "") -> None:
        """No photo is current (none open, the last one was removed, or the filter hides
        every photo); ``why`` says so in the panel and the preview."""
        self.current_id = None
        self._outside = None
        self._current_sha = ""
        self.panel.show_review(None, why)
        self.preview.show_caption("")
        self.preview.show_pixmap(None, why)
        self.strip.show_message("")

    @property
    def current_sha(self) -> str:
        """The photo the preview shows, or is loading."""
        return self._current_sha

    @property
    def ready(self) -> bool:
        return self.ctx is not None and self.writer is not None

    # --- current photo ---------------------------------------------------------------
    def current_changed(self, current: QModelIndex, _previous: QModelIndex | None = None) -> None:
        item: GridItem | None = current.data(PhotoRole) if current.isValid() else None
        photo_id = current.data(IdRole) if current.isValid() else None
        if photo_id is None:
            return
        if photo_id != self.current_id:
            self.current_id = photo_id
            self._outside = None
            self.panel.show_message("")
        if item is not None:
            self._show_preview(item.sha256, item.path)
        self._load_timer.start()

    def _rows_loaded(self, top: QModelIndex, bottom: QModelIndex, _roles: object = None) -> None:
        """The current row's page arrived after it became current: show it now."""
        current = self.grid.currentIndex()
        if top.row() <= current.row() <= bottom.row() and current.data(IdRole) != self.current_id:
            self.current_changed(current)

    def reload_current(self) -> None:
        if self.current_id is not None:
            self._load_timer.start()

    def _load_current(self) -> None:
        ctx, photo_id = self.ctx, self.current_id
        if ctx is None or photo_id is None:
            return
        families, overrides = self.state.families, dict(self.state.thresholds)
        self._reads.start(
            lambda _: catalog_session.load_review(ctx.catalog, photo_id, families, overrides),
            name="load photo",
            on_result=self._review_loaded,
            on_error=self._read_failed,
        )
        if not self.state.has_bundle:
            if self._outside is None:
                self.strip.show_message(
                    "Similar items need a model bundle (File → Choose bundle…)."
                )
            return
        self._reads.start(
            lambda _: catalog_session.similar_to_photo(ctx, photo_id),
            name="similar items",
            on_result=partial(self._similar_loaded, photo_id),
            on_error=self.strip.show_message,
        )

    def _review_loaded(self, review: PhotoReview) -> None:
        if review.photo.id != self.current_id:
            return
        self.panel.show_review(review)
        self.model.update_item(review.photo.id, review.photo.review_state, review.uncertain)
        # Again even for the same photo: its path may have changed (a moved folder), and a
        # pixmap already made comes back at once.
        self._show_preview(review.photo.sha256, review.photo.path)
        photo = review.photo  # the true size: a small photo is shown enlarged to fit
        self.preview.show_caption(f"{Path(photo.path).name} · {photo.width} × {photo.height} px")
        self.review_shown.emit(review)

    def _read_failed(self, message: str) -> None:
        self.panel.show_message(message)
        self.problem.emit(message)

    def _show_preview(self, sha: str, path: str) -> None:
        self._current_sha = sha
        name = Path(path).name
        self.preview.show_caption(name)
        self.preview.setToolTip(path)
        pixmap = self.preview_cache.pixmap(sha, path)
        reason = self.preview_cache.reason(sha)
        self.preview.show_pixmap(pixmap, unreadable_text(reason) if reason else "Loading…")

    def _preview_ready(self, sha: str) -> None:
        if sha == self._current_sha:
            self.preview.show_pixmap(self.preview_cache.pixmap(sha, ""))

    def _preview_failed(self, sha: str, reason: str) -> None:
        if sha == self._current_sha:
            self.preview.show_pixmap(None, unreadable_text(reason))

    def _similar_loaded(self, photo_id: int, neighbours: list) -> None:
        # An outside photo dropped on the strip keeps it until another photo is chosen.
        if photo_id != self.current_id or self._outside is not None:
            return
        self.strip.show_neighbours(f"Similar items ({len(neighbours)})", neighbours)
        self.similar_shown.emit(neighbours)

    def show_outside_neighbours(self, path: Path) -> None:
        """Neighbours of a photo from outside the catalog (dropped on the strip, or File →
        Find similar to a photo…): decoded and tagged in the background, not imported."""
        ctx = self.ctx
        if ctx is None:
            self.problem.emit("No catalog is open; open one from the File menu.")
            return
        self._outside = path
        self.strip.show_message(f"Looking for photos like {path.name}…")
        self._reads.start(
            lambda _: catalog_session.similar_to_file(ctx, path),
            name="similar to outside photo",
            on_result=lambda found: self._outside_loaded(path, found),
            on_error=lambda message: self._outside_failed(path, message),
        )

    def _outside_loaded(self, path: Path, neighbours: list) -> None:
        if path != self._outside:  # another photo was chosen or dropped since
            return
        self.strip.show_neighbours(f"Similar to {path.name} (not imported)", neighbours)
        self.similar_shown.emit(neighbours)

    def _outside_failed(self, path: Path, message: str) -> None:
        """The strip says why (an unreadable file, no bundle) instead of "Looking…"."""
        if path == self._outside:
            self.strip.show_message(message)
        self.problem.emit(message)

    # --- navigation ------------------------------------------------------------------
    def step(self, delta: int) -> None:
        rows = self.model.rowCount()
        if not rows:
            return
        selected = sorted(i.row() for i in self.grid.selectionModel().selectedIndexes())
        current = self.grid.currentIndex().row()
        if delta > 0 and len(selected) > 1:
            current = selected[-1]
        target = current + delta if current >= 0 else 0
        if not 0 <= target < rows:
            self.status.emit(
                "That was the last photo." if delta > 0 else "This is the first photo."
            )
            return
        self.select_row(target)

    def select_row(self, row: int) -> None:
        index = self.model.index(row)
        flags = (
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Current
        )
        self.grid.selectionModel().setCurrentIndex(index, flags)
        self.grid.scrollTo(index)

    def jump_to(self, photo_id: int) -> None:
        def found(row: int) -> None:
            if row >= 0:
                self.select_row(row)
                self.grid.setFocus()
                self.jumped.emit(photo_id)
                return
            self._pending_jump = photo_id
            self.status.emit("The photo was hidden by the filter; the filter was cleared.")
            self.clear_filters_requested.emit()

        self.model.row_of(photo_id, found)

    def _after_reload(self) -> None:
        if self._pending_jump is not None:
            photo_id, self._pending_jump = self._pending_jump, None
            self.model.row_of(photo_id, partial(self._select_found, photo_id))

    def _select_found(self, photo_id: int, row: int) -> None:
        if row >= 0:
            self.select_row(row)
            self.jumped.emit(photo_id)

    # --- edits -----------------------------------------------------------------------
    def selected_ids(self) -> list[int]:
        ids = [i.data(IdRole) for i in self.grid.selectionModel().selectedIndexes()]
        ids = [i for i in ids if i is not None]
        if not ids and self.current_id is not None:
            ids = [self.current_id]
        return ids

    def _push(self, text: str, edit: Callable, photo_ids: list[int]) -> bool:
        if self.writer is None:
            self.problem.emit("No catalog is open; open one from the File menu.")
            return False
        self.undo_stack.push(EditCommand(text, self.writer, edit, photo_ids))
        return True

    def accept_confident_and_next(self) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        overrides = dict(self.state.thresholds)
        text = "accept confident" if len(ids) == 1 else f"accept confident on {len(ids)} photos"
        if self._push(text, lambda cat: tag_edits.accept_confident(cat, ids, overrides), ids):
            self.step(1)

    def _focused(self) -> tuple[int, str, str, int | None] | None:
        """(photo id, family, top label, seen version) of the focused family row."""
        review = self.panel.review
        family = self.panel.focused_family
        if review is None or family is None or review.photo.id != self.current_id:
            return None
        label = family.accepted or (family.decision.top.label if family.decision else "")
        return review.photo.id, family.family, label, family.seen_version

    def accept_focused(self) -> None:
        self._edit_focused("accept")

    def reject_focused(self) -> None:
        self._edit_focused("reject")

    def _edit_focused(self, action: str) -> None:
        """Accept or reject the focused family row's label (nothing if it has none)."""
        focused = self._focused()
        if focused is None or not focused[2]:
            return
        photo_id, family, label, version = focused
        self._slot_edit(action, [photo_id], family, label, version)

    def pick(self, rank: int) -> None:
        family = self.panel.focused_family
        if family is None or family.decision is None or rank > len(family.decision.ranked):
            return
        self.set_label(family.family, family.decision.ranked[rank - 1].label)

    def set_label(self, family: str, label: str, photo_ids: list[int] | None = None) -> None:
        ids = photo_ids or ([self.current_id] if self.current_id is not None else [])
        version = None
        review = self.panel.review
        if len(ids) == 1 and review is not None and review.photo.id == ids[0]:
            slot = review.family(family)
            version = slot.seen_version if slot else None
        self._slot_edit("set", ids, family, label, version)

    def _slot_edit(
        self, action: str, ids: list[int], family: str | None, value: str, version: int | None
    ) -> None:
        if not ids:
            return
        seen = {ids[0]: version} if len(ids) == 1 and version is not None else None
        where = f"{len(ids)} photos" if len(ids) > 1 else "photo"
        text = f"{action} {family + ' = ' if family else 'tag '}{value} on {where}"
        self._push(
            text, lambda cat: tag_edits.change_slot(cat, action, ids, family, value, seen), ids
        )
        self.status.emit(text[0].upper() + text[1:] + ".")

    def change(self) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        labels = self._family_labels()
        if not labels:
            self.problem.emit(
                "There are no tag families to choose from: load a model bundle first."
            )
            return
        review = self.panel.review  # the focused family, if it is of the photo to change
        one = len(ids) == 1 and review is not None and review.photo.id == ids[0]
        focused = self.panel.focused_family if one else None
        family = focused.family if focused is not None else None
        current = focused.current_label if focused is not None else None
        title = "Change tag" if len(ids) == 1 else f"Set a tag on {len(ids)} photos"
        choice = self.ask_label(labels, family, title, current)
        if choice is not None:
            self.set_label(choice[0], choice[1], ids)

    def add_tag(self) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        text = self.ask_text("Add a tag" if len(ids) == 1 else f"Add a tag to {len(ids)} photos")
        if text and text.strip():
            self._slot_edit("add", ids, None, text.strip(), None)

    def _family_labels(self) -> dict[str, tuple[str, ...]]:
        labels = {f.name: f.labels for f in self.state.families}
        review = self.panel.review
        if not labels and review is not None:
            labels = {f.family: f.labels for f in review.families if f.labels}
        return labels

    def _ask_label(
        self,
        labels: Mapping[str, Sequence[str]],
        family: str | None,
        title: str,
        current: str | None,
    ) -> tuple[str, str] | None:
        dialog = LabelPicker(labels, family, title, self.window, current)
        try:
            return dialog.choice() if dialog.exec() else None
        finally:
            dialog.deleteLater()
            self._keys_back_to_grid()

    def _ask_text(self, title: str) -> str | None:
        text, ok = QInputDialog.getText(self.window, title, "Free-form tag:")
        self._keys_back_to_grid()
        return text if ok else None

    def _keys_back_to_grid(self) -> None:
        """After a dialog the next key must reach the review again, not the closed dialog."""
        self.window.activateWindow()
        self.grid.setFocus()

    # --- write results ---------------------------------------------------------------
    def _written(self, photo_ids: list) -> None:
        if self.current_id in photo_ids:
            self.reload_current()
        others = [pid for pid in photo_ids if pid != self.current_id]
        if others and self.ctx is not None:
            catalog = self.ctx.catalog
            self._reads.start(
                lambda _: [catalog.get_photo(pid) for pid in others],
                name="refresh photos",
                on_result=self._refresh_rows,
            )

    def _refresh_rows(self, rows: list) -> None:
        for row in rows:
            self.model.update_item(row.id, row.review_state, None)

    def _write_failed(self, message: str, photo_ids: list) -> None:
        """A refused edit: say why, and show the catalog's current state of the photo."""
        self.panel.show_message(message)
        self.problem.emit(message)
        if self.current_id in photo_ids:
            self.reload_current()
        self._written([pid for pid in photo_ids if pid != self.current_id])

    def busy(self) -> bool:
        return self.writer is not None and self.writer.busy

    def wait(self, msecs: int = 5000) -> None:
        if self.writer is not None:
            self.writer.wait(msecs)
        self._reads.wait(msecs)
