"""What the window has open and decides with, in one place its helpers read.

The open catalog (its AppContext), where it and the bundle came from, the families
suggestions are decided with and the user's thresholds. Each has one holder: the
thresholds are the AppContext's (the importer decides with them too), so nothing copies
them by hand. Helpers get this object, the widgets they drive and a :class:`WindowHost`,
never the window itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject, Signal

if TYPE_CHECKING:
    from PySide6.QtWidgets import QStatusBar

    from app.core.bundle import Family
    from app.core.context import AppContext
    from app.ui.about_dialog import BundleInfo
    from app.ui.catalog_session import OpenedCatalog
    from app.ui.workers import WorkerPool


class WindowState(QObject):
    """``families_changed`` after learning or forgetting; ``thresholds_changed`` after
    the user moved a threshold."""

    families_changed = Signal()
    thresholds_changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctx: AppContext | None = None
        self.families: tuple[Family, ...] = ()
        self.catalog_name = ""
        # What open_catalog was given (a --db/--bundle start beats the settings): the
        # Settings dialog shows it, so OK without a change keeps this catalog open.
        self.catalog_location = ""
        self.bundle_location = ""
        self.bundle_info: BundleInfo | None = None
        self.bundle_problem = ""

    @property
    def thresholds(self) -> dict[str, float]:
        """The user's thresholds per family (only those moved off the bundle's value)."""
        return self.ctx.thresholds if self.ctx is not None else {}

    @property
    def has_bundle(self) -> bool:
        """The catalog is open with a bundle (tagging, similar items, learning)."""
        return self.ctx is not None and self.bundle_info is not None

    def opened(self, opened: OpenedCatalog, saved: Mapping[str, float]) -> None:
        """A catalog opened: its context, families and bundle; of the ``saved`` thresholds
        those of its families."""
        self.ctx = opened.ctx
        self.families = opened.families
        known = {f.name for f in self.families}
        self.ctx.thresholds = {k: v for k, v in saved.items() if k in known}
        self.catalog_name, self.bundle_info = opened.catalog_name, opened.bundle
        self.bundle_problem = opened.bundle_problem

    def closed(self) -> None:
        """The catalog closed (another opens next: its names stay until then)."""
        self.ctx = None

    def open_failed(self) -> None:
        """No catalog open: nothing to name in the title or About."""
        self.ctx = None
        self.catalog_name, self.bundle_info, self.bundle_problem = "", None, ""

    def set_thresholds(self, thresholds: Mapping[str, float]) -> None:
        """The user moved a threshold: imports, the grid's marks and the review decide
        with the new ones (a new dict, so a job reading the old one is not changed under it)."""
        if self.ctx is not None:
            self.ctx.thresholds = dict(thresholds)
        self.thresholds_changed.emit()

    def set_families(self, families: Sequence[Family]) -> None:
        """Learning or forgetting changed the families suggestions are decided with."""
        self.families = tuple(families)
        self.families_changed.emit()


class WindowHelper(QObject):
    """One of the window's helpers: it reads the state and reports through the host (the
    window, its parent)."""

    def __init__(self, state: WindowState, host: WindowHost) -> None:
        super().__init__(host)
        self.state, self.window = state, host


class WindowHost(Protocol):
    """What the window's helpers ask of the window (a QWidget, their dialogs' parent): its
    job pool, the status bar, a problem said aloud and the keys given back to the grid."""

    jobs: WorkerPool

    def statusBar(self) -> QStatusBar: ...

    def show_problem(self, message: str) -> None: ...

    def focus_grid(self) -> None: ...
