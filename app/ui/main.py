"""Start the window: `vitrina` with no command, or `python -m app.ui.main`."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from PySide6.QtWidgets import QApplication

from app.ui.errors import install_excepthook, setup_logging
from app.ui.main_window import MainWindow
from app.ui.settings import APPLICATION, ORGANISATION, Settings
from app.ui.style import apply_style


def create_window(db: str | None = None, bundle: str | None = None) -> MainWindow:
    """The window, opening the catalog in the background (``db``/``bundle`` beat the settings).

    Needs a QApplication; tests and benchmarks call this directly.
    """
    settings = Settings()
    window = MainWindow(settings)
    install_excepthook(window.reporter)
    window.open_catalog(db or settings.catalog, bundle or settings.bundle)
    return window


def run(argv: Sequence[str] | None = None, db: str | None = None, bundle: str | None = None) -> int:
    """Open the window and run until it is closed; returns the exit code."""
    setup_logging()
    app = QApplication.instance() or QApplication(list(argv if argv is not None else sys.argv))
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    apply_style(app)
    window = create_window(db, bundle)
    window.show()
    return int(app.exec())


if __name__ == "__main__":
    raise SystemExit(run())
