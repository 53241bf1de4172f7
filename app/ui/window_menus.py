"""The window's actions and menu bar: every command with its keys, in one place.

The window and its helpers own the slots; this module only names them, binds the keys
(from :mod:`app.ui.shortcuts`) and lays out the menus. :class:`MenuHost` says what it
takes of the window.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence

from app.ui.shop_export_dialog import ShopHost, open_shop_export
from app.ui.shortcuts import REVIEW_KEYS

if TYPE_CHECKING:
    from PySide6.QtWidgets import QDockWidget, QListView, QMenuBar

    from app.ui.file_actions import FileActions
    from app.ui.learning_actions import LearningActions
    from app.ui.photo_removal import PhotoRemoval
    from app.ui.product_actions import ProductActions
    from app.ui.review_controller import ReviewController
    from app.ui.review_panel import ReviewPanel


class MenuHost(ShopHost, Protocol):
    """The window as its menus see it: the helpers whose slots they bind, the widgets
    they reach, and the window's own commands."""

    controller: ReviewController
    files: FileActions
    review: ReviewPanel
    products: ProductActions
    removal: PhotoRemoval
    learning: LearningActions
    grid: QListView
    failures_dock: QDockWidget

    def addAction(self, action: QAction) -> None: ...

    def menuBar(self) -> QMenuBar: ...

    def review_key(self, slot: Callable[[], object]) -> None: ...

    def retag_catalog(self) -> bool: ...

    def cancel_import(self) -> None: ...

    def focus_search(self) -> None: ...

    def clear_filters(self) -> None: ...

    def toggle_thresholds(self) -> None: ...

    def show_shortcuts(self) -> None: ...

    def show_about(self) -> object: ...

    def close(self) -> bool: ...


def plain(text: str) -> str:
    """A menu text without its mnemonic marks, for the status bar ("&&" is a real "&")."""
    return re.sub(r"&(.)", r"\1", text)


class WindowMenus:
    """Creates the window's QActions (kept as attributes, for tests and enabling) and menus."""

    def __init__(self, window: MenuHost) -> None:
        self.window = window
        self._build_actions()
        self._build_menus()
        self._build_grid_menu()

    def _action(
        self, text: str, slot: Callable[[], object], keys: Sequence[str] = (), tip: str = ""
    ) -> QAction:
        action = QAction(text, self.window)
        action.setShortcuts([QKeySequence(k) for k in keys])
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.setStatusTip(tip or plain(text))
        action.triggered.connect(lambda _=False: slot())
        self.window.addAction(action)
        return action

    def _build_actions(self) -> None:
        w = self.window
        c, files = w.controller, w.files
        review_slots: dict[str, Callable[[], object]] = {
            "accept_next": c.accept_confident_and_next,
            "next": partial(c.step, 1),
            "previous": partial(c.step, -1),
            "family_down": partial(w.review.move_focus, 1),
            "family_up": partial(w.review.move_focus, -1),
            "accept_one": c.accept_focused,
            "reject": c.reject_focused,
            "change": c.change,
            "pick1": partial(c.pick, 1),
            "pick2": partial(c.pick, 2),
            "pick3": partial(c.pick, 3),
            "add_tag": c.add_tag,
            "next_uncertain": w.products.next_uncertain,
            "group": w.products.group,
            "ungroup": w.products.ungroup,
            "dismiss": w.products.dismiss,
        }
        self.review = {
            name: self._action(text, partial(w.review_key, review_slots[name]), keys)
            for name, keys, text in REVIEW_KEYS
        }
        self.undo = c.undo_stack.createUndoAction(w, "&Undo")
        self.undo.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo = c.undo_stack.createRedoAction(w, "&Redo")
        self.redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.remove = self._action(
            "Re&move from catalog…",
            partial(w.review_key, w.removal.remove_selected),
            ["Delete"],
            "Remove the selected photos and their tags from the catalog (the files stay)",
        )
        self.import_files = self._action("Import &photos…", files.choose_photos, ["Ctrl+O"])
        self.import_folder = self._action("Import &folder…", files.choose_folder, ["Ctrl+Shift+O"])
        self.import_tags = self._action(
            "Import &tags…",
            files.choose_tag_file,
            tip="Apply tags from a CSV or JSON file (an export edited in a spreadsheet)",
        )
        self.find_similar = self._action(
            "Find s&imilar to a photo…",
            files.choose_outside_photo,
            tip="The catalog's photos most like a photo from outside it (it is not imported)",
        )
        self.retag = self._action(
            "&Re-tag with this bundle",
            w.retag_catalog,
            tip="Tag again the photos another model bundle tagged: new suggestions and "
            "similar items; accepted tags stay",
        )
        self.cancel_import = self._action(
            "&Cancel import or learning",
            w.cancel_import,
            ["Esc"],
            "Stop the import, re-tag or learning that runs",
        )
        self.cancel_import.setEnabled(False)
        self.learn = self._action(
            "&Learn from reviews…",
            w.learning.learn,
            tip="Adapt suggestions and thresholds to this catalog from its accepted, corrected "
            "and rejected tags",
        )
        self.forget = self._action(
            "&Forget what was learned…",
            w.learning.forget,
            tip="Go back to the bundle's own suggestions and thresholds (asks first)",
        )
        self.open_catalog = self._action(
            "&Open catalog…", files.choose_catalog, tip="Open an existing catalog file"
        )
        self.new_catalog = self._action(
            "&New catalog…", files.create_catalog, tip="Start an empty catalog in a new file"
        )
        self.choose_bundle = self._action("Choose &bundle…", files.choose_bundle)
        self.settings = self._action(
            "&Settings…",
            files.edit_settings,
            ["Ctrl+,"],
            "Catalog (file or database URL) and model bundle",
        )
        self.export_csv = self._action("Export &CSV…", partial(files.choose_export, "csv"))
        self.export_json = self._action("Export &JSON…", partial(files.choose_export, "json"))
        self.export_xmp = self._action("Write &XMP sidecars", files.export_xmp)
        self.export_shop = self._action(
            "Export for s&hop…",
            partial(open_shop_export, w),
            tip="A Shopify product CSV or a Google Merchant Center feed, with a preview",
        )
        self.accepted_only = files.accepted_only
        self.find = self._action("&Find", w.focus_search, ["Ctrl+F"])
        self.clear_filters = self._action("&Clear filters", w.clear_filters, ["Ctrl+Shift+F"])
        self.thresholds = self._action("&Thresholds", w.toggle_thresholds)
        self.thresholds.setCheckable(True)
        self.thresholds.setChecked(True)
        self.help = self._action("&Keyboard shortcuts", w.show_shortcuts, ["F1"])
        self.about = self._action("&About Vitrina", w.show_about)
        self.quit = self._action("&Quit", w.close, ["Ctrl+Q"])

    def _build_menus(self) -> None:
        bar = self.window.menuBar()
        file_menu = bar.addMenu("&File")
        groups: tuple[tuple[QAction, ...], ...] = (
            (self.import_files, self.import_folder, self.import_tags),
            (self.find_similar,),
            (self.retag, self.cancel_import),
            (self.open_catalog, self.new_catalog, self.choose_bundle, self.settings),
            (self.export_csv, self.export_json, self.export_xmp, self.accepted_only),
            (self.export_shop,),
            (self.quit,),
        )
        for i, group in enumerate(groups):
            if i:
                file_menu.addSeparator()
            for action in group:
                file_menu.addAction(action)
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addAction(self.undo)
        edit_menu.addAction(self.redo)
        edit_menu.addSeparator()
        edit_menu.addAction(self.remove)
        review_menu = bar.addMenu("&Review")
        for action in self.review.values():
            review_menu.addAction(action)
        tools_menu = bar.addMenu("&Tools")
        tools_menu.addAction(self.learn)
        tools_menu.addAction(self.forget)
        view_menu = bar.addMenu("&View")
        view_menu.addAction(self.find)
        view_menu.addAction(self.clear_filters)
        view_menu.addSeparator()
        view_menu.addAction(self.thresholds)
        view_menu.addAction(self.window.failures_dock.toggleViewAction())
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.help)
        help_menu.addAction(self.about)

    def _build_grid_menu(self) -> None:
        """Right-click on photos: what the keys do to the selection (the item clicked is
        selected first, unless it is already part of the selection)."""
        grid = self.window.grid
        grid.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        separator = QAction(grid)
        separator.setSeparator(True)
        names = ("accept_next", "change", "add_tag", "group", "ungroup", "dismiss")
        review = [self.review[name] for name in names]
        grid.addActions([*review, separator, self.remove])
