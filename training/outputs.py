"""Output folders of training commands: never delete what the user did not ask to replace.

A ``--out`` folder may hold a previous bundle, which is replaced only once the new one is
complete (written beside it, then swapped in by renames); any other non-empty folder is
refused before the run starts, so hours of training never end in a deleted folder.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.core.errors import VitrinaError

BUNDLE_FORMAT = "vitrina-bundle"


class OutputFolderError(VitrinaError):
    """The output folder holds something that is not ours to replace."""


def is_bundle(folder: Path) -> bool:
    """A folder whose manifest.json says it is a Vitrina bundle (or set)."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(manifest, dict) and manifest.get("format") == BUNDLE_FORMAT


def check_bundle_output(out: Path) -> None:
    """Refuse ``out`` unless it is missing, empty, or a bundle (which a run may replace)."""
    if out.is_file():
        raise OutputFolderError(f"{out}: is a file; give a folder for the bundle with --out.")
    if out.is_dir() and any(out.iterdir()) and not is_bundle(out):
        raise OutputFolderError(
            f"{out}: the folder is not empty and holds no Vitrina bundle, so it is not "
            "replaced; give a new or empty folder (or a previous bundle's) with --out."
        )


@contextmanager
def replacing(out: Path) -> Iterator[Path]:
    """A fresh folder beside ``out`` to write into; on success it takes ``out``'s place
    (the old one is removed only after the swap), on failure it is removed."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        os.rename(out, old)
    os.rename(staging, out)
    shutil.rmtree(old, ignore_errors=True)
