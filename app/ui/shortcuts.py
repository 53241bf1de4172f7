"""The keyboard shortcuts, in one table: the window binds them and Help lists them."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

REVIEW_KEYS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        "accept_next",
        ("A", "Return", "Enter"),
        "Accept the confident suggestions and go to the next photo",
    ),
    ("next", ("J", "Right"), "Next photo"),
    ("previous", ("K", "Left"), "Previous photo"),
    ("family_down", ("Down",), "Focus the next tag family"),
    ("family_up", ("Up",), "Focus the previous tag family"),
    ("accept_one", ("Space",), "Accept the focused family's suggestion (also an uncertain one)"),
    ("reject", ("R",), "Reject the focused family's suggestion"),
    ("change", ("C",), "Change the focused family's label (searchable list)"),
    ("pick1", ("1",), "Set the focused family to its 1st suggestion"),
    ("pick2", ("2",), "Set the focused family to its 2nd suggestion"),
    ("pick3", ("3",), "Set the focused family to its 3rd suggestion"),
    ("add_tag", ("T",), "Add a free-form tag"),
    ("next_uncertain", ("U",), "Go to the next photo with an uncertain suggestion"),
    (
        "group",
        ("G",),
        "Make one shop product of the photo and its possible duplicate (or of the selection)",
    ),
    ("ungroup", ("Shift+G",), "Take the selected photos out of their product"),
    ("dismiss", ("D",), "Not a duplicate: dismiss the photo's possible-duplicate flag"),
)

OTHER_KEYS: tuple[tuple[str, str], ...] = (
    ("Ctrl+Z / Ctrl+Shift+Z", "Undo / redo the last tag edit"),
    ("Ctrl+A", "Select all photos in the grid (then A, C or T act on all of them)"),
    ("Shift+click, Ctrl+click", "Select several photos for a bulk edit"),
    ("Delete", "Remove the selected photos from the catalog (asks first; files stay on disk)"),
    ("Ctrl+O / Ctrl+Shift+O", "Import photos / a folder"),
    ("Esc", "Cancel the running import"),
    ("Ctrl+F", "Search tags and file names; Enter or Esc goes back to the photos"),
    ("Ctrl+Shift+F", "Clear all filters and go back to the photos"),
    ("F1", "Show this list"),
)


def help_html() -> str:
    rows = [
        f"<tr><td><b>{' / '.join(keys)}</b></td><td>{text}</td></tr>"
        for _, keys, text in REVIEW_KEYS
    ]
    rows += [f"<tr><td><b>{keys}</b></td><td>{text}</td></tr>" for keys, text in OTHER_KEYS]
    return (
        "<p>With several photos selected, <b>A</b>, <b>C</b> and <b>T</b> apply to all of them.</p>"
        "<table cellspacing='4'>" + "".join(rows) + "</table>"
    )


def show_shortcuts(parent: QWidget) -> None:
    box = QMessageBox(parent)
    box.setWindowTitle("Keyboard shortcuts")
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(help_html())
    box.exec()
