"""Per-family threshold sliders, the share of the catalog each setting tags confidently,
and what each threshold was set on (the bundle's validation, held-out sources, or this
catalog's reviews once it learned from them).

Moving a slider changes what counts as confident at once (the panel emits the new
overrides); the share is asked of the catalog in the background by the window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QGridLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from app.ui.calibration_text import details, set_on_line

if TYPE_CHECKING:
    from app.core.bundle import Family


STEPS = 100
NOTE_STYLE = "color: #555; font-size: 11px;"


class ThresholdPanel(QWidget):
    """``changed`` carries the user's overrides (only families moved off the bundle's value)."""

    changed = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._families: list[Family] = []
        self._sliders: dict[str, QSlider] = {}
        self._values: dict[str, QLabel] = {}
        self._shares: dict[str, QLabel] = {}
        self._notes: dict[str, QLabel] = {}
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(120)
        self._debounce.timeout.connect(lambda: self.changed.emit(self.overrides()))
        self._grid = QGridLayout()
        self._note = QLabel("Thresholds need a model bundle (File → Choose bundle…).")
        self._note.setWordWrap(True)
        reset = QPushButton("Reset to calibrated")
        reset.setToolTip(
            "Use the calibrated thresholds: this catalog's where it learned them from its "
            "reviews, else the bundle's"
        )
        reset.clicked.connect(self.reset)
        layout = QVBoxLayout(self)
        layout.addWidget(self._note)
        layout.addLayout(self._grid)
        layout.addWidget(reset, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(1)

    def set_families(self, families: Sequence[Family], overrides: Mapping[str, float]) -> None:
        self._families = list(families)
        while self._grid.count():
            widget = self._grid.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        self._sliders.clear()
        self._values.clear()
        self._shares.clear()
        self._notes.clear()
        self._note.setVisible(not families)
        for row, family in enumerate(families):
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setObjectName(f"threshold_{family.name}")
            slider.setRange(0, STEPS)
            slider.setValue(round(overrides.get(family.name, family.threshold) * STEPS))
            slider.setToolTip(f"Calibrated threshold: {family.threshold:.2f}")
            value = QLabel()
            share = QLabel("…")
            share.setMinimumWidth(110)
            note = QLabel()
            note.setObjectName(f"set_on_{family.name}")
            note.setWordWrap(True)
            note.setStyleSheet(NOTE_STYLE)
            note.setToolTip(details(family))
            self._sliders[family.name], self._values[family.name] = slider, value
            self._shares[family.name], self._notes[family.name] = share, note
            slider.valueChanged.connect(lambda _=0, name=family.name: self._moved(name))
            self._grid.addWidget(QLabel(f"<b>{family.name}</b>"), 2 * row, 0)
            self._grid.addWidget(slider, 2 * row, 1)
            self._grid.addWidget(value, 2 * row, 2)
            self._grid.addWidget(share, 2 * row, 3)
            self._grid.addWidget(note, 2 * row + 1, 1, 1, 3)
            self._show_value(family.name)

    def _moved(self, name: str) -> None:
        self._show_value(name)
        self._debounce.start()

    def _show_value(self, name: str) -> None:
        self._values[name].setText(f"{self._sliders[name].value() / STEPS:.2f}")
        family = next(f for f in self._families if f.name == name)
        self._notes[name].setText(set_on_line(family, self._override(family)))

    def _override(self, family: Family) -> float | None:
        """The slider's value where the user moved it off the calibrated threshold."""
        value = self._sliders[family.name].value()
        return None if value == round(family.threshold * STEPS) else value / STEPS

    def overrides(self) -> dict[str, float]:
        moved = {family.name: self._override(family) for family in self._families}
        return {name: value for name, value in moved.items() if value is not None}

    def set_value(self, family: str, value: float) -> None:
        self._sliders[family].setValue(round(value * STEPS))

    def reset(self) -> None:
        for family in self._families:
            self._sliders[family.name].setValue(round(family.threshold * STEPS))

    def show_shares(self, shares: Mapping[str, float], photos: int) -> None:
        """``shares``: family -> share of predicted photos whose top label is confident."""
        for name, label in self._shares.items():
            share = shares.get(name)
            label.setText("no photos yet" if share is None else f"{share:.0%} confident")
            label.setToolTip(f"of {photos:,} photos in the catalog")
