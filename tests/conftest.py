"""Shared fixtures: tiny bundles and a copy of the test photos."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
DATA_DIR = TESTS_DIR / "data"
sys.path.insert(0, str(TESTS_DIR))

from tinybundle import make_tiny_bundle, make_tiny_set  # noqa: E402

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest_plugins = ["catalog_fixtures", "cli_fixtures", "ui_helpers"]


@pytest.fixture
def tiny_bundle(tmp_path: Path) -> Path:
    """Folder of a one-graph bundle with families category + colour and an 8-d embedding."""
    return make_tiny_bundle(tmp_path / "bundle")


@pytest.fixture
def tiny_set_bundle(tmp_path: Path) -> Path:
    """Folder of a ``kind: set`` bundle: one member per family, members of different sizes."""
    return make_tiny_set(tmp_path / "set", sizes={"category": (24, 40), "colour": (32, 32)})


@pytest.fixture
def ctx(tmp_path: Path, tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch):
    """An AppContext on a fresh SQLite catalog with the tiny bundle."""
    from app.core.context import AppContext

    monkeypatch.setenv("VITRINA_HOME", str(tmp_path / "home"))
    context = AppContext.open(tmp_path / "catalog.sqlite", tiny_bundle)
    yield context
    context.close()


@pytest.fixture
def photos_dir(tmp_path: Path) -> Path:
    """A writable folder holding a copy of the eight CC0 photos in tests/data."""
    target = tmp_path / "photos"
    target.mkdir()
    for photo in sorted(DATA_DIR.glob("*.jpg")):
        shutil.copy2(photo, target / photo.name)
    return target


@pytest.fixture
def lock(monkeypatch: pytest.MonkeyPatch):
    """Make a file unreadable, also for root (who reads mode-0 files): reads raise EACCES,
    and os.access says so."""
    real_open = Path.open
    real_access = os.access
    locked: set[Path] = set()

    def guarded_open(self: Path, *args, **kwargs):
        if self.resolve() in locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    def guarded_access(path, mode: int, **kwargs) -> bool:
        return Path(path).resolve() not in locked and real_access(path, mode, **kwargs)

    def lock_file(path: Path) -> Path:
        path.chmod(0)
        if os.geteuid() == 0:
            locked.add(path.resolve())
            monkeypatch.setattr(Path, "open", guarded_open)
            monkeypatch.setattr(os, "access", guarded_access)
        return path

    return lock_file
