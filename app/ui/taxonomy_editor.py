"""Settings → Shop categories: each category label's Google and Shopify category, from the
taxonomy map or this catalog's own; edit a cell to set the catalog's (a shop that sells only
women's dresses files "dress" deeper), clear it to go back to the map's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import VitrinaError
from app.core.taxonomy import check_google_id, check_shopify_path

if TYPE_CHECKING:
    from app.core.taxonomy import TaxonomyMap

LABEL, GOOGLE, GOOGLE_PATH, SHOPIFY, SOURCE = range(5)
COLUMNS = ("Label", "Google id", "Google category", "Shopify category", "From")
Change = tuple[str | None, str | None]


class TaxonomyEditor(QWidget):
    """A table of the labels' platform categories; ``changes()`` says what to save."""

    def __init__(
        self, rows: TaxonomyMap, labels: Sequence[str], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.rows = rows
        self.table = QTableWidget(len(labels), len(COLUMNS))
        self.table.setObjectName("taxonomyTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.table.horizontalHeader().setSectionResizeMode(SHOPIFY, QHeaderView.ResizeMode.Stretch)
        self._shown: dict[str, Change] = {}
        for r, label in enumerate(labels):
            row = rows.row(label)
            google = row.google.id if row and row.google else ""
            shopify = row.shopify.path if row and row.shopify else ""
            self._shown[label] = (google or None, shopify or None)
            if row is None:
                source = "none: the shop's own label"
            elif row.source == "catalog":
                source = "this catalog"
            else:
                source = "taxonomy map" + (" (missing: see tooltip)" if row.unverified else "")
            cells = (label, google, row.google.path or "" if row and row.google else "", shopify)
            for c, text in enumerate((*cells, source)):
                item = QTableWidgetItem(text)
                if c not in (GOOGLE, SHOPIFY):
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                if row is not None and (row.note or row.unverified):
                    item.setToolTip(" ".join(filter(None, (row.note, row.unverified))))
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        help_text = QLabel(
            f"Read from {rows.versions}. Edit the Google id or the Shopify category to set "
            "this catalog's own; clear a cell to go back to the map's. The shop exports leave "
            "out photos whose category has none."
        )
        help_text.setWordWrap(True)
        help_text.setObjectName("settingsHelp")
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(help_text)

    def changes(self) -> dict[str, Change]:
        """Label -> (Google id, Shopify path) this catalog should keep, for the rows edited;
        a value equal to the map's keeps no override. VitrinaError names a bad cell."""
        changed: dict[str, Change] = {}
        for r in range(self.table.rowCount()):
            label = self.table.item(r, LABEL).text()
            google = self.table.item(r, GOOGLE).text().strip() or None
            shopify = self.table.item(r, SHOPIFY).text().strip() or None
            if (google, shopify) == self._shown[label]:
                continue
            try:
                google = check_google_id(google) if google else None
                shopify = check_shopify_path(shopify) if shopify else None
            except VitrinaError as exc:
                raise VitrinaError(f"Shop categories, {label!r}: {exc}") from None
            mapped = self.rows.row(label)
            if mapped is not None and mapped.source == "map":
                if mapped.google and google == mapped.google.id:
                    google = None
                if mapped.shopify and shopify == mapped.shopify.path:
                    shopify = None
            changed[label] = (google, shopify)
        return changed
