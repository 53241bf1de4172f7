"""File → Settings…: which catalog (a file or a database URL) and which model bundle to use;
with a catalog open, its shop categories too (app.ui.taxonomy_editor).

The dialog starts from the catalog and bundle open now (a ``--db``/``--bundle`` start
included), so OK without a change changes nothing. A change is kept in the settings;
the user decides whether it applies now (the catalog is reopened) or at the next start.
"""

from __future__ import annotations

import html

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import VitrinaError
from app.core.paths import default_bundle_path, default_catalog_path
from app.ui.taxonomy_editor import TaxonomyEditor

CATALOG_HELP = (
    "A catalog file (created if missing), or a SQLAlchemy URL such as "
    "<code>postgresql+psycopg://user@host/vitrina</code> for a shared catalog. "
    "Empty: the default catalog in the data folder."
)
BUNDLE_HELP = "A model bundle folder (with manifest.json). Empty: models_onnx/default."


def saved_note(catalog: str, bundle: str, saved: tuple[str, str]) -> str:
    """Said when the settings hold other values than the ones open (a --db start, or a
    change kept for the next start), so the user knows what a plain start opens."""
    if (catalog, bundle) == saved:
        return ""
    names = (saved[0] or "the default catalog", saved[1] or "the default bundle")
    return (
        "Open now is not what the settings hold (a <code>--db</code> or <code>--bundle</code> "
        f"start, or a change kept for the next start): a plain start opens "
        f"{html.escape(names[0])} with {html.escape(names[1])}. OK after a change saves the "
        "values above."
    )


class SettingsDialog(QDialog):
    """Edit catalog and bundle; ``values()`` and ``apply_now`` tell the window what to do.

    ``catalog`` and ``bundle`` are what is open now; ``saved`` what the settings hold.
    """

    def __init__(
        self,
        catalog: str,
        bundle: str,
        parent: QWidget | None = None,
        saved: tuple[str, str] | None = None,
        taxonomy: TaxonomyEditor | None = None,
    ) -> None:
        super().__init__(parent)
        self.taxonomy = taxonomy
        self.taxonomy_changes: dict[str, tuple[str | None, str | None]] = {}
        self.setWindowTitle("Settings")
        self.setMinimumWidth(560)
        self.catalog = QLineEdit(catalog)
        self.catalog.setObjectName("settingsCatalog")
        self.catalog.setPlaceholderText(f"the default: {default_catalog_path()}")
        self.bundle = QLineEdit(bundle)
        self.bundle.setObjectName("settingsBundle")
        self.bundle.setPlaceholderText(f"the default: {default_bundle_path()}")
        self.apply_now = QCheckBox("Reopen now with the changes (otherwise at the next start)")
        self.apply_now.setChecked(True)
        form = QFormLayout()
        form.addRow("Catalog:", self._with_button(self.catalog, "File…", self._browse_catalog))
        form.addRow("", self._help(CATALOG_HELP))
        form.addRow("Bundle:", self._with_button(self.bundle, "Folder…", self._browse_bundle))
        form.addRow("", self._help(BUNDLE_HELP))
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        general = QWidget()
        layout = QVBoxLayout(general)
        layout.addLayout(form)
        note = saved_note(catalog, bundle, saved or (catalog, bundle))
        if note:
            layout.addWidget(self._help(note))
        layout.addWidget(self.apply_now)
        layout.addStretch(1)
        self.problem = QLabel()
        self.problem.setObjectName("settingsProblem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #c0392b;")
        self.problem.hide()
        outer = QVBoxLayout(self)
        if taxonomy is None:
            outer.addWidget(general)
        else:  # a catalog is open: its shop categories on a second tab
            self.resize(900, 600)
            self.tabs = QTabWidget()
            self.tabs.addTab(general, "Catalog and bundle")
            self.tabs.addTab(taxonomy, "Shop categories")
            outer.addWidget(self.tabs)
        outer.addWidget(self.problem)
        outer.addWidget(buttons)
        self.catalog.setFocus()

    def accept(self) -> None:
        """OK: a shop category that is not one keeps the dialog open, saying which."""
        if self.taxonomy is not None:
            try:
                self.taxonomy_changes = self.taxonomy.changes()
            except VitrinaError as exc:
                self.problem.setText(str(exc))
                self.problem.show()
                return
        super().accept()

    @staticmethod
    def _help(text: str) -> QLabel:
        label = QLabel(text)
        label.setWordWrap(True)
        label.setObjectName("settingsHelp")
        return label

    @staticmethod
    def _with_button(edit: QLineEdit, text: str, slot: object) -> QWidget:
        row = QWidget()
        box = QHBoxLayout(row)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(edit, 1)
        button = QPushButton(text)
        button.setAutoDefault(False)
        button.clicked.connect(slot)
        box.addWidget(button)
        return row

    def _browse_catalog(self) -> None:
        """An existing catalog file; a new one's name can be typed (File → New catalog…)."""
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a catalog", "", "Catalog (*.sqlite *.db);;All files (*)"
        )
        if path:
            self.catalog.setText(path)

    def _browse_bundle(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a model bundle folder")
        if folder:
            self.bundle.setText(folder)

    def values(self) -> tuple[str, str]:
        """(catalog, bundle) as typed, without surrounding spaces."""
        return self.catalog.text().strip(), self.bundle.text().strip()
