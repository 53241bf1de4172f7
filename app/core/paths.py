"""Where Vitrina keeps its files, per platform (via platformdirs)."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_dir, user_data_dir

APP_NAME = "Vitrina"
REPO_ROOT = Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    """The folder holding the default catalog and its similarity index.

    ``VITRINA_HOME`` overrides it (tests, portable installs).
    """
    override = os.environ.get("VITRINA_HOME")
    path = Path(override) if override else Path(user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    """Disposable files (thumbnails); safe to delete."""
    override = os.environ.get("VITRINA_HOME")
    base = Path(override) / "cache" if override else Path(user_cache_dir(APP_NAME, appauthor=False))
    base.mkdir(parents=True, exist_ok=True)
    return base


def log_file() -> Path:
    """Where the window and the command line log what they did and what went wrong."""
    return data_dir() / "vitrina.log"


def default_catalog_path() -> Path:
    return data_dir() / "catalog.sqlite"


def index_dir_for(catalog_url: str) -> Path:
    """The similarity index lives next to a file catalog, or in the data dir for a server."""
    if catalog_url.startswith("sqlite:///") and catalog_url != "sqlite:///:memory:":
        db = Path(catalog_url.removeprefix("sqlite:///"))
        return db.with_name(db.stem + ".index")
    safe = "".join(c if c.isalnum() else "_" for c in catalog_url.split("@")[-1])[:80]
    return data_dir() / "indexes" / safe


def default_bundle_path() -> Path:
    """The bundle shipped in ``models_onnx/default``; ``VITRINA_BUNDLE`` overrides it."""
    override = os.environ.get("VITRINA_BUNDLE")
    return Path(override) if override else REPO_ROOT / "models_onnx" / "default"
