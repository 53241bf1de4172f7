"""How the window reports errors: a clear sentence for the user, the traceback in the log.

``install_excepthook`` routes any uncaught exception on the window's thread to a
dialog instead of a traceback on the console (or a silent crash).
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from app.core import paths
from app.core.errors import VitrinaError

log = logging.getLogger("vitrina")


def log_file() -> Path:
    return paths.data_dir() / "vitrina.log"


def setup_logging() -> Path:
    """Log to a file in the data folder; it is where "details are in the log" points."""
    target = log_file()
    root = logging.getLogger()
    if not any(getattr(h, "baseFilename", None) == str(target) for h in root.handlers):
        handler = logging.FileHandler(target, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
    return target


def user_message(exc: BaseException) -> str:
    """The sentence to show: a VitrinaError's own message, else a generic one."""
    if isinstance(exc, VitrinaError):
        return str(exc)
    return (
        f"Something went wrong: {type(exc).__name__}: {exc}. Your catalog is safe; "
        f"details are in {log_file()}."
    )


class ErrorReporter(QObject):
    """Shows errors to the user; the excepthook posts here so dialogs open on the UI thread."""

    reported = Signal(str)

    def __init__(self, parent_widget: QWidget | None = None) -> None:
        super().__init__(parent_widget)
        self._parent = parent_widget
        self._open = False
        self.reported.connect(self._show)
        self.quiet = False  # tests: record, do not open modal dialogs
        self.messages: list[str] = []

    def report(self, exc: BaseException) -> None:
        self.reported.emit(user_message(exc))

    def _show(self, text: str) -> None:
        self.messages.append(text)
        if self.quiet or self._open:
            return
        self._open = True
        try:
            QMessageBox.warning(self._parent, "Vitrina", text)
        finally:
            self._open = False

    def excepthook(
        self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        log.error("uncaught exception:\n%s", "".join(traceback.format_exception(kind, exc, tb)))
        # A dialog opened from inside a failing slot can re-enter it; open it later.
        QTimer.singleShot(0, lambda: self.report(exc))


def install_excepthook(reporter: ErrorReporter) -> None:
    sys.excepthook = reporter.excepthook
