"""What an import could not take, each with its reason (kept until cleared): photo files,
and rows of a tag file (shown as ``file:line``)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)


class FailuresPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel("No failed files.")
        self.table = QTableWidget(0, 2)
        self.table.setObjectName("failuresTable")
        self.table.setHorizontalHeaderLabels(["File", "Reason"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setColumnWidth(0, 260)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        self.table.verticalHeader().hide()
        clear = QPushButton("Clear")
        clear.clicked.connect(self.clear)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table)

    def add(self, failures: Iterable[tuple[Path, str]]) -> None:
        for path, reason in failures:
            self._append(Path(path).name, str(path), reason)
        self._count_changed()

    def add_lines(self, source: Path, failures: Iterable[tuple[int, str]]) -> None:
        """Rows of a tag file that were skipped, each under ``name:line``."""
        for line, reason in failures:
            self._append(f"{source.name}:{line}", f"{source}:{line}", reason)
        self._count_changed()

    def _append(self, name: str, where: str, reason: str) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        cell = QTableWidgetItem(name)
        cell.setToolTip(where)
        text = QTableWidgetItem(reason)
        text.setToolTip(reason)
        self.table.setItem(row, 0, cell)
        self.table.setItem(row, 1, text)

    def _count_changed(self) -> None:
        self.summary.setText(f"{self.table.rowCount()} item(s) could not be imported.")

    def clear(self) -> None:
        self.table.setRowCount(0)
        self.summary.setText("No failed files.")

    def rows(self) -> list[tuple[str, str]]:
        return [
            (self.table.item(r, 0).toolTip(), self.table.item(r, 1).text())
            for r in range(self.table.rowCount())
        ]
