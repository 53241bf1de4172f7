"""CSV, JSON and XMP-sidecar exports of the catalog's tags (CLI and window share them).

CSV cells that a spreadsheet would run as a formula are escaped; every file is written
atomically, and XMP sidecars merge with what is already in them (:mod:`app.core.xmp`).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.catalog.rows import ExportRow
from app.core.errors import VitrinaError
from app.core.xmp import merge_keywords

if TYPE_CHECKING:
    from app.core.catalog import Catalog

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
FREE_TAG_SEPARATOR = "; "
_FREE_TAG_TOKEN = re.compile(r"\\[\\;]|;|[^\\;]+|\\")

SIDECAR_SUFFIX = ".xmp"
STALE_TEMP_SECONDS = 60
_SIDECAR_TEMP = re.compile(r"\..+\.xmp\.[a-z0-9_]{8}\.tmp")  # tempfile.mkstemp's names


def keywords(row: ExportRow) -> list[str]:
    """Accepted family labels, then free tags, each once: the photo's XMP keywords."""
    return list(dict.fromkeys([*row.accepted.values(), *row.free_tags]))


@dataclass
class XmpReport:
    """Sidecars written, and the photos whose sidecar could not be (with the reason)."""

    written: list[Path] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    stale_removed: list[Path] = field(default_factory=list)  # temp files of killed runs


# --- writing files ----------------------------------------------------------------


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temp file beside ``path``, fsync it, then ``os.replace`` it.

    Readers see the old file or the new one, never half of one; when anything fails the
    temp file is removed and the old file is untouched. An existing file keeps its mode.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# --- CSV ----------------------------------------------------------------------------


def escape_cell(value: object) -> str:
    """Prefix ``'`` to text a spreadsheet would run as a formula (=, +, -, @, tab, CR).

    Text that already looks escaped gets a second quote, so reading it back is exact.
    """
    text = "" if value is None else str(value)
    return "'" + text if needs_escape(text) else text


def needs_escape(text: str) -> bool:
    """Whether a spreadsheet would run ``text`` as a formula, or it already looks escaped."""
    return text.startswith(FORMULA_PREFIXES) or (
        text.startswith("'") and text[1:].startswith(FORMULA_PREFIXES)
    )


def join_free_tags(tags: Iterable[str]) -> str:
    """A photo's free tags in one CSV cell, separated by ``; ``.

    A ``;`` or ``\\`` inside a tag gets a ``\\`` before it, so that a tag holding ``;``
    comes back as one tag (:func:`split_free_tags`) instead of two invented ones.
    """
    return FREE_TAG_SEPARATOR.join(tag.replace("\\", "\\\\").replace(";", "\\;") for tag in tags)


def split_free_tags(cell: str) -> list[str]:
    """The tags of a cell :func:`join_free_tags` wrote, or a person typed, spaces trimmed.

    Splits on each ``;`` without a ``\\`` before it; ``\\;`` is ``;`` and ``\\\\`` is
    ``\\``; any other backslash stays as typed (``C:\\shoots`` needs no doubling).
    """
    tags, current = [], []
    for token in _FREE_TAG_TOKEN.findall(cell):
        if token == ";":
            tags.append("".join(current))
            current = []
        else:
            current.append(token[1] if token in ("\\\\", "\\;") else token)
    tags.append("".join(current))
    return [tag.strip(" ") for tag in tags]  # keep tabs and the like: they are the tag's


def families_of(rows: Iterable[ExportRow]) -> list[str]:
    """Every family any row has a tag or suggestion in, sorted."""
    return sorted({family for row in rows for family in (*row.accepted, *row.top)})


def csv_text(
    rows: list[ExportRow], families: list[str] | None = None, accepted_only: bool = False
) -> str:
    """One row per photo: path, sha256, each family's accepted tag, free tags.

    Without ``accepted_only`` each family also gets its top suggestion and confidence.
    """
    families = families if families is not None else families_of(rows)
    header = ["path", "sha256"]
    for family in families:
        header.append(family)
        if not accepted_only:
            header += [f"{family}_suggestion", f"{family}_confidence"]
    header.append("free_tags")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([escape_cell(h) for h in header])
    for row in rows:
        cells: list[str] = [row.photo.path, row.photo.sha256]
        for family in families:
            cells.append(row.accepted.get(family, ""))
            if not accepted_only:
                top = row.top.get(family)
                cells += [top.label, f"{top.confidence:.4f}"] if top else ["", ""]
        cells.append(join_free_tags(row.free_tags))
        writer.writerow([escape_cell(cell) for cell in cells])
    return out.getvalue()


# --- JSON ---------------------------------------------------------------------------


def json_text(rows: list[ExportRow], accepted_only: bool = False) -> str:
    """A list of photos with accepted, rejected and free tags, and top suggestions."""
    photos = []
    for row in rows:
        photo: dict = {
            "id": row.photo.id,
            "path": row.photo.path,
            "sha256": row.photo.sha256,
            "width": row.photo.width,
            "height": row.photo.height,
            "review_state": row.photo.review_state,
            "tags": row.accepted,
            "free_tags": list(row.free_tags),
        }
        if not accepted_only:
            photo["rejected"] = row.rejected
            photo["suggestions"] = {
                family: {
                    "label": top.label,
                    "confidence": round(top.confidence, 6),
                    "threshold": top.threshold,
                    "confident": top.confident,
                    "bundle": top.bundle,
                    # The bundle alone, or corrected by what this catalog learned from its
                    # reviews (`vitrina learn`; the correction's id in the catalog).
                    "source": "bundle" if top.correction_id is None else "learned",
                    "correction": top.correction_id,
                }
                for family, top in row.top.items()
            }
        photos.append(photo)
    return json.dumps(photos, indent=2, ensure_ascii=False) + "\n"


# --- XMP ----------------------------------------------------------------------------


def sidecar_path(photo: Path, out_dir: Path | None = None) -> Path:
    """``<photo name>.xmp`` beside the photo (``shirt.jpg.xmp``), or under ``out_dir``.

    Keeping the photo's suffix in the name stops ``shirt.jpg`` and ``shirt.png`` from
    sharing one sidecar (the darktable/digiKam convention). Under ``out_dir`` the photo's
    folders are repeated (``/shoots/a/shirt.jpg`` -> ``OUT/shoots/a/shirt.jpg.xmp``), so
    two photos with one file name never share a sidecar, whatever a later run adds.
    """
    if out_dir is None:
        return photo.parent / (photo.name + SIDECAR_SUFFIX)
    drive = "".join(c for c in photo.drive if c.isalnum())  # C: -> C, on Windows
    parts = photo.parent.parts[1:] if photo.anchor else photo.parent.parts
    folders = [part for part in parts if part not in (".", "..")]
    return Path(out_dir, drive, *folders, photo.name + SIDECAR_SUFFIX)


def remove_stale_temp_files(folder: Path) -> list[Path]:
    """Delete the temp files of sidecars that a killed ``vitrina xmp`` left in ``folder``.

    Only names :func:`write_atomic` gives sidecars (``.shirt.jpg.xmp.k2j4h5g1.tmp``) older
    than STALE_TEMP_SECONDS: a run writing beside this one holds its own for milliseconds.
    """
    removed = []
    too_old = time.time() - STALE_TEMP_SECONDS
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if _SIDECAR_TEMP.fullmatch(entry.name) is None:
                continue
            with contextlib.suppress(OSError):
                if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < too_old:
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def write_sidecar(photo: Path, keywords: list[str], out_dir: Path | None = None) -> Path:
    """Merge ``keywords`` into the photo's sidecar, written atomically; returns its path."""
    target = sidecar_path(photo, out_dir)
    existing = target.read_bytes() if target.exists() else None
    data = merge_keywords(existing, keywords, source=str(target))
    if data != existing:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, data)
    return target


def write_sidecars(
    rows: Iterable[ExportRow],
    out_dir: Path | None = None,
    progress: Callable[[int, str], None] | None = None,
) -> XmpReport:
    """One sidecar per photo with accepted tags; a failure is reported and the rest go on."""
    report = XmpReport()
    swept: set[Path] = set()
    done = 0
    for row in rows:
        words = keywords(row)
        if not words:
            continue
        path = row.photo.path
        folder = sidecar_path(Path(path), out_dir).parent
        if folder not in swept:
            swept.add(folder)
            report.stale_removed += remove_stale_temp_files(folder)
        try:
            report.written.append(write_sidecar(Path(path), words, out_dir))
        except VitrinaError as exc:
            report.failures.append((path, str(exc)))
        except OSError as exc:
            report.failures.append(
                (
                    path,
                    f"{exc.filename or path}: sidecar not written ({exc.strerror or exc}); make "
                    "the folder writable, or write the sidecars elsewhere with --out-dir.",
                )
            )
        done += 1
        if progress is not None:
            progress(done, path)
    return report


# --- whole-catalog exports (CLI and window) -------------------------------------------


def export_catalog(
    catalog: Catalog, fmt: str, accepted_only: bool = False, target: Path | None = None
) -> str:
    """The catalog as CSV or JSON text; written atomically to ``target`` when given."""
    rows = list(catalog.export_rows(accepted_only))
    if fmt == "csv":
        text = csv_text(rows, accepted_only=accepted_only)
    elif fmt == "json":
        text = json_text(rows, accepted_only=accepted_only)
    else:
        raise VitrinaError(f"Unknown export format {fmt!r}; use csv or json.")
    if target is not None:
        try:
            write_atomic(Path(target), text.encode("utf-8"))
        except OSError as exc:
            raise VitrinaError(
                f"{target}: cannot write the export ({exc.strerror or exc}); "
                "choose a writable folder."
            ) from None
    return text


def write_catalog_sidecars(
    catalog: Catalog,
    out_dir: Path | None = None,
    progress: Callable[[int, str], None] | None = None,
) -> XmpReport:
    """XMP sidecars for every catalog photo with accepted tags."""
    return write_sidecars(catalog.export_rows(accepted_only=True), out_dir, progress)
