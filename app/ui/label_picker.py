"""A searchable chooser of a family's labels: type to filter, arrows to move, Enter to take.

Typing a label the family lacks offers it as a new one: a shop's own names (colour
"khaki", pattern "paisley") enter the catalog this way, and once they have enough
examples, learning from reviews suggests them too.
"""

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
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

LABEL = Qt.ItemDataRole.UserRole  # an item's label (the typed text for a new one)


def new_label_item(typed: str) -> QListWidgetItem:
    """The list's last item when ``typed`` is no label of the family: take it as a new
    one, or (text no tag can hold) why not."""
    from app.core.learning import MIN_NEW_LABEL
    from app.core.tag_input import tag_text_problem

    problem = tag_text_problem(typed)
    if problem is not None:
        item = QListWidgetItem(f"Cannot be a label: {problem}")
        item.setFlags(Qt.ItemFlag.NoItemFlags)
        return item
    item = QListWidgetItem(f"+ new label “{typed}”")
    item.setData(LABEL, typed)
    item.setToolTip(
        f"A label of this catalog's own. Once it is set on {MIN_NEW_LABEL} photos, "
        "Tools → Learn from reviews… suggests it too."
    )
    return item


class LabelPicker(QDialog):
    """Pick a label of one family, or (``families`` with several) a family and a label.

    ``current`` (the photo's accepted label, else its top suggestion) is selected when
    the list opens, so Enter without typing keeps it instead of taking the first label.
    Typed text that is no label is offered last, as a new label (first if nothing matches).
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
        typed = self.search.text().strip()
        text = typed.casefold()
        self.list.clear()
        family = self._families.get(self.family.currentText(), ())
        labels = [label for label in family if text in label.casefold()]
        for label in labels:
            item = QListWidgetItem(label)
            item.setData(LABEL, label)
            self.list.addItem(item)
        if typed and all(label.casefold() != text for label in family):
            self.list.addItem(new_label_item(typed))
        if labels:
            keep = not text and self._current in labels
            self.list.setCurrentRow(labels.index(self._current) if keep else 0)
        elif self.list.count() and self.list.item(0).data(LABEL):
            self.list.setCurrentRow(0)

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
        if item is None or not item.data(LABEL):
            return None
        return self.family.currentText(), str(item.data(LABEL))
