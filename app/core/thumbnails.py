"""Thumbnails cached on disk by content hash, decoded through app.core.decode (Qt-free).

The cache key is the photo's sha256, so a moved file keeps its thumbnail and two
copies of one photo share it. Files are written atomically; the folder is disposable.
"""

from __future__ import annotations

import io
from pathlib import Path

from app.core import paths
from app.core.decode import open_photo
from app.core.export import write_atomic

THUMB_SIZE = 512
"""Longest side of a cached thumbnail: big enough for the review preview, small on disk."""


def thumbs_dir() -> Path:
    folder = paths.cache_dir() / "thumbs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def thumbnail_path(sha256: str) -> Path:
    return thumbs_dir() / f"{sha256}.jpg"


def make_thumbnail(source: Path, sha256: str, size: int = THUMB_SIZE) -> Path:
    """Return the cached thumbnail of ``source``, making it first if needed.

    Raises ``DecodeError`` when the photo cannot be read (the caller shows a placeholder).
    """
    target = thumbnail_path(sha256)
    if target.exists():
        return target
    image = open_photo(Path(source), min_size=size).image
    image.thumbnail((size, size))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85, optimize=True)
    write_atomic(target, buffer.getvalue())
    return target
