"""The window's settings in QSettings: catalog, bundle, thresholds, window layout.

Tests point QSettings at a temporary folder with :func:`use_settings_dir`, so they
never touch the user's real settings.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

ORGANISATION = "Vitrina"
APPLICATION = "Vitrina"


def use_settings_dir(directory: Path) -> None:
    """Store settings as an INI file under ``directory`` (tests, portable installs)."""
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(directory))


class Settings:
    """Typed access to the few settings the window keeps."""

    def __init__(self) -> None:
        self._q = QSettings(
            QSettings.defaultFormat(), QSettings.Scope.UserScope, ORGANISATION, APPLICATION
        )

    def _text(self, key: str) -> str:
        value = self._q.value(key, "")
        return str(value) if value else ""

    @property
    def catalog(self) -> str:
        """Catalog path or SQLAlchemy URL; empty means the default catalog."""
        return self._text("catalog/location")

    @catalog.setter
    def catalog(self, value: str) -> None:
        self._q.setValue("catalog/location", value)

    @property
    def bundle(self) -> str:
        """Bundle folder; empty means the default bundle (models_onnx/default)."""
        return self._text("bundle/path")

    @bundle.setter
    def bundle(self, value: str) -> None:
        self._q.setValue("bundle/path", value)

    def thresholds(self) -> dict[str, float]:
        """User overrides of the bundle's per-family thresholds."""
        self._q.beginGroup("thresholds")
        try:
            return {key: float(self._q.value(key)) for key in self._q.childKeys()}
        finally:
            self._q.endGroup()

    def set_thresholds(self, values: dict[str, float]) -> None:
        self._q.remove("thresholds")
        for family, value in values.items():
            self._q.setValue(f"thresholds/{family}", float(value))

    def layout(self, name: str) -> QByteArray | None:
        value = self._q.value(f"window/{name}")
        return value if isinstance(value, QByteArray) else None

    def set_layout(self, name: str, value: QByteArray) -> None:
        self._q.setValue(f"window/{name}", value)

    def sync(self) -> None:
        self._q.sync()
