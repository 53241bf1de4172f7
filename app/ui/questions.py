"""The window's "are you sure" before a step that throws something away, asked one way."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget


def confirm_destructive(
    parent: QWidget, title: str, question: str, action: str, icon: QMessageBox.Icon
) -> bool:
    """Ask ``question`` (its first paragraph the headline, the rest the details) with an
    ``action`` button beside Cancel; Cancel is the default, so Enter never destroys.
    True if ``action`` was chosen."""
    headline, _, rest = question.partition("\n\n")
    box = QMessageBox(icon, title, headline, parent=parent)
    box.setInformativeText(rest)
    chosen = box.addButton(action, QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is chosen
