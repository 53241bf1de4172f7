"""File → Settings…: which catalog (a file or a database URL) and which model bundle to use.

Both are kept in the settings; the user decides whether they apply now (the catalog is
reopened) or at the next start, and the dialog says which will happen.
"""

from __future__ import annotations

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
    QVBoxLayout,
    QWidget,
)

CATALOG_HELP = (
    "A catalog file (created if missing), or a SQLAlchemy URL such as "
    "<code>postgresql+psycopg://user@host/vitrina</code> for a shared catalog. "
    "Empty: the default catalog in the data folder."
)
BUNDLE_HELP = "A model bundle folder (with manifest.json). Empty: models_onnx/default."


class SettingsDialog(QDialog):
    """Edit catalog and bundle; ``values()`` and ``apply_now`` tell the window what to do."""

    def __init__(self, catalog: str, bundle: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(560)
        self.catalog = QLineEdit(catalog)
        self.catalog.setObjectName("settingsCatalog")
        self.catalog.setPlaceholderText("default catalog")
        self.bundle = QLineEdit(bundle)
        self.bundle.setObjectName("settingsBundle")
        self.bundle.setPlaceholderText("models_onnx/default")
        self.apply_now = QCheckBox("Reopen now (otherwise they apply at the next start)")
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
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.apply_now)
        layout.addWidget(buttons)
        self.catalog.setFocus()

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
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Open or create a catalog",
            self.catalog.text(),
            "Catalog (*.sqlite *.db);;All files (*)",
            options=QFileDialog.Option.DontConfirmOverwrite,
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
