"""A searchable chooser of a family's labels: type to filter, arrows to move, Enter to take."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QVBoxLayout,
    QWidget,
)


class LabelPicker(QDialog):
    """Pick a label of one family, or (``families`` with several) a family and a label.

    ``current`` (the photo's accepted label, else its top suggestion) is selected when
    the list opens, so Enter without typing keeps it instead of taking the first label.
    """

    def __init__(
        self,
        families: Mapping[str, Sequence[str]],
        family: str | None = None,
        title: str = "Change tag",
        parent: QWidget | None = None,
        current: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self._families = {k: tuple(v) for k, v in families.items()}
        self._current = current if family is not None else None
        self.family = QComboBox()
        self.family.setObjectName("pickerFamily")
        for name in self._families:
            self.family.addItem(name)
        if family is not None:
            self.family.setCurrentText(family)
        self.family.setVisible(family is None and len(self._families) > 1)
        self.search = QLineEdit()
        self.search.setObjectName("pickerSearch")
        self.search.setPlaceholderText("Type to filter labels")
        self.search.installEventFilter(self)
        self.list = QListWidget()
        self.list.setObjectName("pickerList")
        self.list.itemDoubleClicked.connect(lambda _: self.accept())
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        if family is not None:
            layout.addWidget(QLabel(f"<b>{family}</b>"))
        layout.addWidget(self.family)
        layout.addWidget(self.search)
        layout.addWidget(self.list)
        layout.addWidget(buttons)
        self.family.currentTextChanged.connect(lambda _: self._family_changed())
        self.search.textChanged.connect(lambda _: self._fill())
        self._fill()
        self.search.setFocus()

    def _family_changed(self) -> None:
        """Another family's labels: the current label belonged to the first one."""
        self._current = None
        self._fill()

    def _fill(self) -> None:
        """Typing narrows the list and selects the first match; with nothing typed the
        current label stays selected."""
        text = self.search.text().strip().lower()
        self.list.clear()
        labels = [
            label
            for label in self._families.get(self.family.currentText(), ())
            if text in label.lower()
        ]
        self.list.addItems(labels)
        if labels:
            keep = not text and self._current in labels
            self.list.setCurrentRow(labels.index(self._current) if keep else 0)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Up/Down in the search box move through the list, so hands stay on the keys."""
        if watched is self.search and event.type() == QEvent.Type.KeyPress:
            key = event.key() if isinstance(event, QKeyEvent) else None
            if key in (Qt.Key.Key_Up, Qt.Key.Key_Down):
                step = -1 if key == Qt.Key.Key_Up else 1
                row = max(0, min(self.list.count() - 1, self.list.currentRow() + step))
                self.list.setCurrentRow(row)
                return True
        return super().eventFilter(watched, event)

    def choice(self) -> tuple[str, str] | None:
        item = self.list.currentItem()
        if item is None:
            return None
        return self.family.currentText(), item.text()
