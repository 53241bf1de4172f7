"""The PySide6 window: Qt models, views and workers over app.core (no ML, no SQL here)."""
