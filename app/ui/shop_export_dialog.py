"""File → Export for shop…: the format, the web folder of the photos, a preview of the first
rows as the file will hold them, and how many photos are left out and why; Export… writes
the previewed file atomically. Building and writing run as background jobs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.shop_export import FORMATS, preview
from app.ui import shop_session
from app.ui.window_state import WindowHost

if TYPE_CHECKING:
    from app.core.context import AppContext
    from app.core.shop_export import ShopExport

PREVIEW_ROWS = 8
DEFAULT_NAMES = {"shopify": "products.csv", "google": "feed.tsv", "google-xml": "feed.xml"}
FILE_TYPES = {
    "shopify": "CSV (*.csv)",
    "google": "Tab-separated text (*.tsv *.txt)",
    "google-xml": "XML (*.xml)",
}


def summary_text(export: ShopExport) -> str:
    """What goes in and what does not, in a sentence or two."""
    text = f"{export.products:,} product(s) from {export.photos:,} photo(s)."
    reasons = export.reasons()
    if reasons:
        listed = "; ".join(f"{n:,}: {reason}" for reason, n in reasons.most_common())
        text += f" Left out: {len(export.left_out):,} photo(s) — {listed}."
    else:
        text += " No photo left out."
    if export.notes:
        text += f" {len(export.notes):,} value(s) kept out of a cell: " + "; ".join(
            export.notes[:3]
        )
    return text


class ShopHost(WindowHost, Protocol):
    """The window, as the dialog sees it: the open catalog besides the helpers' host."""

    @property
    def ctx(self) -> AppContext | None: ...


class ShopExportDialog(QDialog):
    """``previewed(export)`` after each preview; ``written(path)`` after Export… wrote."""

    previewed = Signal(object)
    written = Signal(object)

    def __init__(self, window: ShopHost, parent: QWidget | None = None) -> None:
        super().__init__(parent or window)
        self.window = window
        self.setWindowTitle("Export for shop")
        self.resize(900, 520)
        self.export: ShopExport | None = None
        self._generation = 0
        self.format = QComboBox()
        self.format.setObjectName("shopFormat")
        for key, name in FORMATS.items():
            self.format.addItem(name, key)
        self.image_url = QLineEdit()
        self.image_url.setObjectName("shopImageUrl")
        self.image_url.setPlaceholderText(
            "optional: the web folder the photos are uploaded to, e.g. "
            "https://cdn.example.com/shoots/2026-11/"
        )
        self.table = QTableWidget()
        self.table.setObjectName("shopPreview")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.summary = QLabel("Reading the catalog…")
        self.summary.setObjectName("shopSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.export_button = QPushButton("Export…")
        self.export_button.setDefault(True)
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self.choose_target)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.export_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Format:", self.format)
        form.addRow("Images at:", self.image_url)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel(f"The first {PREVIEW_ROWS} rows, as the file will hold them:"))
        layout.addWidget(self.table, 1)
        layout.addWidget(self.summary)
        layout.addWidget(buttons)
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.setInterval(300)
        self._soon.timeout.connect(self.refresh)
        self.format.currentIndexChanged.connect(lambda _: self.refresh())
        self.image_url.textChanged.connect(lambda _: self._soon.start())
        self.ask_target: Callable[[str], Path | None] = self._ask_target

    @property
    def fmt(self) -> str:
        return self.format.currentData()

    def refresh(self) -> None:
        """Build the export again in the background; an older answer is dropped."""
        ctx = self.window.ctx
        if ctx is None:
            self.summary.setText("No catalog is open; there is nothing to export.")
            return
        self._generation += 1
        generation, fmt = self._generation, self.fmt
        prefix = self.image_url.text().strip() or None
        self.export_button.setEnabled(False)
        self.summary.setText("Reading the catalog…")
        self.window.jobs.start(
            lambda _: shop_session.shop_export(ctx.catalog, fmt, prefix),
            name="shop export preview",
            on_result=lambda export: self._shown(generation, export),
            on_error=lambda message: self._failed(generation, message),
        )

    def _shown(self, generation: int, export: ShopExport) -> None:
        if generation != self._generation:
            return
        self.export = export
        header, rows = preview(export, PREVIEW_ROWS)
        self.table.clear()
        self.table.setColumnCount(len(header))
        self.table.setRowCount(len(rows))
        self.table.setHorizontalHeaderLabels(header)
        for r, row in enumerate(rows):
            for c, cell in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(cell))
        self.table.resizeColumnsToContents()
        self.summary.setStyleSheet("")
        self.summary.setText(summary_text(export))
        self.export_button.setEnabled(bool(export.products))
        self.previewed.emit(export)

    def _failed(self, generation: int, message: str) -> None:
        if generation != self._generation:
            return
        self.export = None
        self.table.setRowCount(0)
        self.summary.setStyleSheet("color: #c0392b;")
        self.summary.setText(message)

    def _ask_target(self, name: str) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(self, "Export for shop", name, FILE_TYPES[self.fmt])
        return Path(path) if path else None

    def choose_target(self) -> None:
        """Export…: where to write the previewed file; written in the background."""
        export = self.export
        if export is None:
            return
        target = self.ask_target(DEFAULT_NAMES[export.fmt])
        if target is None:
            return
        w = self.window
        w.statusBar().showMessage(f"Writing {target.name}…")
        w.jobs.start(
            lambda _: shop_session.write_shop_export(export, target),
            name="shop export",
            on_result=self._wrote,
            on_error=self._failed_write,
        )

    def _wrote(self, target: Path) -> None:
        export = self.export
        left = f"; {len(export.left_out):,} photo(s) left out" if export else ""
        self.window.statusBar().showMessage(f"Exported for shop to {target}{left}.", 10000)
        self.written.emit(target)

    def _failed_write(self, message: str) -> None:
        self.summary.setStyleSheet("color: #c0392b;")
        self.summary.setText(message)
        self.window.show_problem(message)


def open_shop_export(window: ShopHost) -> ShopExportDialog | None:
    """Window-modal but not blocking; the keys go back to the grid when it closes."""
    if window.ctx is None:
        window.show_problem("No catalog is open; there is nothing to export.")
        return None
    dialog = ShopExportDialog(window)
    dialog.finished.connect(lambda _: window.focus_grid())
    dialog.finished.connect(lambda _: dialog.deleteLater())
    dialog.open()
    dialog.refresh()
    return dialog
