"""Files dragged in from the desktop: the window and the similar strip both take them."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent


def local_files(event: QDropEvent | QDragEnterEvent | QDragMoveEvent) -> list[Path]:
    """The local files and folders a drag carries (none for text, web links, ...)."""
    mime = event.mimeData()
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


def accept_file_drags(event: QDragEnterEvent | QDragMoveEvent) -> None:
    """Show the drop cursor only over drags that carry local files."""
    if local_files(event):
        event.acceptProposedAction()
    else:
        event.ignore()
