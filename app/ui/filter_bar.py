"""Find: a search box over tags and paths; filters by family, label, review state, uncertainty
and possible duplicates; the grid's order (catalog order, or the least certain first)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLineEdit, QVBoxLayout, QWidget

from app.core.catalog.states import ReviewState

if TYPE_CHECKING:
    from app.core.catalog import PhotoFilter


ANY = "any"
STATES = tuple(ReviewState)
# Keys that end typing in the search box; the box takes them before the window's
# shortcuts (Enter = accept confident, Esc = cancel import) can act on photos.
LEAVE_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape)


class FilterBar(QWidget):
    """``changed`` fires when the user changes what the grid should show; ``typing_done``
    when Enter or Escape ends typing in the search box (the search stays), so the window
    can give the review keys back to the grid."""

    changed = Signal()
    typing_done = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._labels: dict[str, tuple[str, ...]] = {}
        self.search = QLineEdit()
        self.search.setObjectName("searchBox")
        self.search.setPlaceholderText("Search tags and file names (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.family = QComboBox()
        self.family.setObjectName("familyFilter")
        self.label = QComboBox()
        self.label.setObjectName("labelFilter")
        self.label.setMinimumContentsLength(10)
        self.state = QComboBox()
        self.state.setObjectName("stateFilter")
        self.state.addItem("any state", None)
        for state in STATES:
            self.state.addItem(state, state)
        self.uncertain = QCheckBox("uncertain only")
        self.uncertain.setObjectName("uncertainFilter")
        self.duplicates = QCheckBox("possible duplicates")
        self.duplicates.setObjectName("duplicatesFilter")
        self.duplicates.setToolTip(
            "Photos flagged at import as looking like another photo, and the photos they look "
            "like (G: one product, D: not a duplicate)"
        )
        self.order = QComboBox()
        self.order.setObjectName("gridOrder")
        self.order.addItem("catalog order", "catalog")
        self.order.addItem("least certain first", "uncertain")
        self.order.setToolTip(
            "Least certain first: photos not reviewed yet, by the lowest confidence of their "
            "suggestions (what teaches the catalog most), then the reviewed ones. U goes to "
            "the next uncertain photo."
        )
        self._typing = QTimer(self)
        self._typing.setSingleShot(True)
        self._typing.setInterval(200)
        self._typing.timeout.connect(self.changed)
        self.search.textChanged.connect(lambda _: self._typing.start())
        self.search.installEventFilter(self)
        self.family.currentIndexChanged.connect(self._family_changed)
        self.label.currentIndexChanged.connect(lambda _: self.changed.emit())
        self.state.currentIndexChanged.connect(lambda _: self.changed.emit())
        self.uncertain.toggled.connect(lambda _: self.changed.emit())
        self.duplicates.toggled.connect(lambda _: self.changed.emit())
        self.order.currentIndexChanged.connect(lambda _: self.changed.emit())
        filters = QHBoxLayout()
        filters.addWidget(self.family, 1)
        filters.addWidget(self.label, 1)
        filters.addWidget(self.state, 1)
        filters.addWidget(self.uncertain)
        more = QHBoxLayout()
        more.addWidget(self.duplicates)
        more.addStretch(1)
        more.addWidget(self.order)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.search)
        layout.addLayout(filters)
        layout.addLayout(more)
        self.set_families({})

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Enter or Escape: search at once (no wait for the typing pause), leave the box."""
        if watched is not self.search or not isinstance(event, QKeyEvent):
            return super().eventFilter(watched, event)
        if event.key() not in LEAVE_KEYS:
            return super().eventFilter(watched, event)
        if event.type() == QEvent.Type.ShortcutOverride:
            event.accept()  # the key is the box's, not a window shortcut's
            return True
        if event.type() == QEvent.Type.KeyPress:
            if self._typing.isActive():
                self._typing.stop()
                self.changed.emit()
            self.typing_done.emit()
            return True
        return super().eventFilter(watched, event)

    def set_families(self, labels: Mapping[str, Sequence[str]]) -> None:
        """Offer the families and labels suggestions are decided with (kept empty without
        a bundle); a family and label chosen before stay chosen if they still exist
        (learning adds labels, forgetting takes the catalog's own away)."""
        family, label = self.family.currentData(), self.label.currentData()
        self._labels = {name: tuple(values) for name, values in labels.items()}
        self.family.blockSignals(True)
        self.family.clear()
        self.family.addItem("any family", None)
        for name in self._labels:
            self.family.addItem(name, name)
        self.family.setCurrentIndex(max(0, self.family.findData(family)))
        self.family.blockSignals(False)
        self._fill_labels()
        self.label.blockSignals(True)
        self.label.setCurrentIndex(max(0, self.label.findData(label)))
        self.label.blockSignals(False)

    def _family_changed(self, _: int) -> None:
        self._fill_labels()
        self.changed.emit()

    def _fill_labels(self) -> None:
        family = self.family.currentData()
        self.label.blockSignals(True)
        self.label.clear()
        self.label.addItem("any label", None)
        labels = (
            self._labels.get(family, ())
            if family
            else sorted({label for values in self._labels.values() for label in values})
        )
        for label in labels:
            self.label.addItem(label, label)
        self.label.blockSignals(False)

    def photo_filter(self, thresholds: Mapping[str, float]) -> PhotoFilter:
        from app.core.catalog import PhotoFilter

        return PhotoFilter(
            text=self.search.text().strip() or None,
            family=self.family.currentData(),
            label=self.label.currentData(),
            review_state=self.state.currentData(),
            uncertain_only=self.uncertain.isChecked(),
            thresholds=dict(thresholds),
            near_duplicates=self.duplicates.isChecked(),
            order=self.order.currentData(),
        )

    @property
    def active(self) -> bool:
        """True when some filter narrows the grid."""
        return bool(
            self.search.text().strip()
            or self.family.currentData()
            or self.label.currentData()
            or self.state.currentData()
            or self.uncertain.isChecked()
            or self.duplicates.isChecked()
        )

    def clear(self) -> None:
        """Every filter off; the order stays (it hides nothing)."""
        widgets = (self.search, self.family, self.label, self.state, self.uncertain)
        for widget in (*widgets, self.duplicates):
            widget.blockSignals(True)
        self.search.clear()
        self.family.setCurrentIndex(0)
        self._fill_labels()
        self.state.setCurrentIndex(0)
        self.uncertain.setChecked(False)
        self.duplicates.setChecked(False)
        for widget in (*widgets, self.duplicates):
            widget.blockSignals(False)
        self.changed.emit()
