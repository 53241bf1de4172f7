"""Keys for near-duplicates, products and the uncertain photos: G groups the photo with its
look-alike (or the selected photos) into one shop product, Shift+G takes photos out of
their product, D says "not a duplicate", U goes to the next photo with the uncertain mark.

The work runs as background jobs on the window's pool (app.ui.shop_session); the grid is
reloaded after a decision so its marks follow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, Signal

from app.ui import shop_session
from app.ui.catalog_model import GridItem, PhotoRole
from app.ui.window_state import WindowHelper

if TYPE_CHECKING:
    from PySide6.QtWidgets import QListView

    from app.core.catalog import Catalog, PhotoFilter
    from app.ui.review_controller import ReviewController
    from app.ui.window_state import WindowHost, WindowState


class ProductActions(WindowHelper):
    """``decided(text)`` after a group, ungroup or dismiss was written: the window reloads
    the grid so its marks and the duplicates filter follow (tests wait on it too)."""

    decided = Signal(str)

    def __init__(
        self,
        state: WindowState,
        host: WindowHost,
        controller: ReviewController,
        grid: QListView,
        photo_filter: Callable[[], PhotoFilter],
    ) -> None:
        super().__init__(state, host)
        self.controller, self.grid, self.photo_filter = controller, grid, photo_filter
        grid.selectionModel().currentChanged.connect(self._say_look_alike)

    def _ready(self) -> bool:
        if self.state.ctx is None:
            self.window.show_problem("No catalog is open; open one from the File menu.")
            return False
        return True

    def _done(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 8000)
        self.decided.emit(text)

    def group(self) -> None:
        """G: one product of the selected photos, or of the photo and its look-alike."""
        if not self._ready():
            return
        ids = self.controller.selected_ids()
        if not ids or self.state.ctx is None:
            return
        catalog = self.state.ctx.catalog

        def shown(result: shop_session.Grouped | None) -> None:
            if result is None:
                self.window.show_problem(
                    f"Photo {ids[0]} has no possible duplicate to group it with; select the "
                    "photos of one product (Ctrl+click) and press G."
                )
                return
            listed = ", ".join(map(str, result.members))
            self._done(f"One product now: photos {listed} (exported with all their images).")

        self.window.jobs.start(
            lambda _: shop_session.group(catalog, ids),
            name="group photos",
            on_result=shown,
            on_error=self.window.show_problem,
        )

    def ungroup(self) -> None:
        """Shift+G: the selected photos leave their products."""
        self._decide_selected(
            "ungroup photos",
            lambda catalog, ids: catalog.ungroup_photos(ids),
            lambda n: f"{n} photo(s) taken out of their product.",
        )

    def dismiss(self) -> None:
        """D: the selected photos are not duplicates of their look-alikes."""
        self._decide_selected(
            "dismiss duplicates",
            lambda catalog, ids: catalog.dismiss_near_duplicates(ids),
            lambda n: (
                f"{n} possible-duplicate flag(s) dismissed: not the same product."
                if n
                else "No possible duplicate to dismiss here."
            ),
        )

    def _decide_selected(
        self, name: str, write: Callable[[Catalog, list[int]], int], said: Callable[[int], str]
    ) -> None:
        """Write a decision on the selected photos in the background, then say how many
        it changed (``said``) and have the grid reloaded."""
        if not self._ready():
            return
        ids, catalog = self.controller.selected_ids(), self.state.ctx.catalog
        self.window.jobs.start(
            lambda _: write(catalog, ids),
            name=name,
            on_result=lambda n: self._done(said(n)),
            on_error=self.window.show_problem,
        )

    def next_uncertain(self) -> None:
        """U: the next photo with the uncertain mark, in the grid's order (from the top again
        after the last one)."""
        if not self._ready():
            return
        w = self.window
        catalog, flt = self.state.ctx.catalog, self.photo_filter()
        row = self.grid.currentIndex().row()

        def go(found: int) -> None:
            if found < 0:
                w.statusBar().showMessage("No photo here has an uncertain suggestion left.", 5000)
            else:
                self.controller.select_row(found)

        w.jobs.start(
            lambda _: shop_session.next_uncertain_row(catalog, flt, row),
            name="next uncertain photo",
            on_result=go,
            on_error=w.show_problem,
        )

    def _say_look_alike(self, current: QModelIndex, _previous: QModelIndex) -> None:
        item: GridItem | None = current.data(PhotoRole) if current.isValid() else None
        if item is not None and item.duplicate_of is not None:
            self.window.statusBar().showMessage(
                f"Photo {item.id} may be a duplicate of photo {item.duplicate_of}: "
                "G makes them one product, D says they are not.",
                8000,
            )
