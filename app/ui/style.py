"""The window's small style sheet (kept in resources/vitrina.qss)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication

QSS = Path(__file__).resolve().parents[2] / "resources" / "vitrina.qss"


def apply_style(app: QApplication) -> None:
    app.setStyle("Fusion")
    if QSS.exists():
        app.setStyleSheet(QSS.read_text(encoding="utf-8"))
