"""CSV, JSON and XMP-sidecar exports of the catalog's tags (CLI and window share them).

CSV cells that a spreadsheet would run as a formula are escaped; every file is written
atomically, and XMP sidecars merge with the keywords already in them.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.catalog.rows import ExportRow
from app.core.errors import VitrinaError

if TYPE_CHECKING:
    from app.core.catalog import Catalog

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

NS_X = "adobe:ns:meta/"
NS_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
NS_DC = "http://purl.org/dc/elements/1.1/"
SIDECAR_SUFFIX = ".xmp"


def keywords(row: ExportRow) -> list[str]:
    """Accepted family labels, then free tags, each once: the photo's XMP keywords."""
    return list(dict.fromkeys([*row.accepted.values(), *row.free_tags]))


@dataclass
class XmpReport:
    """Sidecars written, and the photos whose sidecar could not be (with the reason)."""

    written: list[Path] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)


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
        cells.append("; ".join(row.free_tags))
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
                }
                for family, top in row.top.items()
            }
        photos.append(photo)
    return json.dumps(photos, indent=2, ensure_ascii=False) + "\n"


# --- XMP ----------------------------------------------------------------------------


def sidecar_path(photo: Path, out_dir: Path | None = None) -> Path:
    """``<photo name>.xmp`` beside the photo (``shirt.jpg.xmp``), or in ``out_dir``.

    Keeping the photo's suffix in the name stops ``shirt.jpg`` and ``shirt.png`` from
    sharing one sidecar (the darktable/digiKam convention).
    """
    folder = out_dir if out_dir is not None else photo.parent
    return folder / (photo.name + SIDECAR_SUFFIX)


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _register_prefixes(data: bytes) -> None:
    """Keep the prefixes a sidecar already uses, so a rewrite does not turn them into ns0."""
    ET.register_namespace("x", NS_X)
    ET.register_namespace("rdf", NS_RDF)
    ET.register_namespace("dc", NS_DC)
    for _, (prefix, uri) in ET.iterparse(io.BytesIO(data), events=("start-ns",)):
        with contextlib.suppress(ValueError):
            ET.register_namespace(prefix, uri)


def _empty_xmp() -> ET.Element:
    root = ET.Element(_q(NS_X, "xmpmeta"))
    rdf = ET.SubElement(root, _q(NS_RDF, "RDF"))
    ET.SubElement(rdf, _q(NS_RDF, "Description"), {_q(NS_RDF, "about"): ""})
    return root


def merge_keywords(existing: bytes | None, keywords: list[str], source: str = "") -> bytes:
    """An XMP packet whose ``dc:subject`` bag holds the old keywords plus ``keywords``.

    Everything else in ``existing`` is kept. Raises ``VitrinaError`` when ``existing``
    is not an XMP packet, so a sidecar another tool wrote is never clobbered.
    """
    if existing:
        try:
            root = ET.fromstring(existing)
        except ET.ParseError as exc:
            raise VitrinaError(
                f"{source}: the existing sidecar is not valid XML ({exc}); "
                "fix or remove it, then export again."
            ) from None
        _register_prefixes(existing)
    else:
        _register_prefixes(b"<x/>")
        root = _empty_xmp()
    rdf = root if root.tag == _q(NS_RDF, "RDF") else root.find(_q(NS_RDF, "RDF"))
    if rdf is None:
        raise VitrinaError(
            f"{source}: the existing sidecar has no rdf:RDF element; "
            "fix or remove it, then export again."
        )
    subject = _subject(rdf)
    bag = subject.find(_q(NS_RDF, "Bag"))
    if bag is None:
        bag = ET.SubElement(subject, _q(NS_RDF, "Bag"))
    present = [li.text or "" for li in bag.findall(_q(NS_RDF, "li"))]
    for word in keywords:
        if word not in present:
            ET.SubElement(bag, _q(NS_RDF, "li")).text = word
            present.append(word)
    if existing:
        depth, unit = _layout(root, subject)
        ET.indent(subject, space=unit, level=depth)
    else:
        ET.indent(root, space=" ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


def _subject(rdf: ET.Element) -> ET.Element:
    """The first ``dc:subject``, created in the first ``rdf:Description`` where missing."""
    descriptions = rdf.findall(_q(NS_RDF, "Description"))
    for description in descriptions:
        subject = description.find(_q(NS_DC, "subject"))
        if subject is not None:
            return subject
    if descriptions:
        description = descriptions[0]
    else:
        description = ET.SubElement(rdf, _q(NS_RDF, "Description"), {_q(NS_RDF, "about"): ""})
    return ET.SubElement(description, _q(NS_DC, "subject"))


def _layout(root: ET.Element, target: ET.Element) -> tuple[int, str]:
    """The depth of ``target`` and the indent unit the file uses, to indent what we add alike."""
    parents = {child: parent for parent in root.iter() for child in parent}
    depth, node = 0, target
    while node in parents:
        node = parents[node]
        depth += 1
    parent = parents.get(target)
    before = ""
    if parent is not None:
        siblings = list(parent)
        index = siblings.index(target)
        before = (siblings[index - 1].tail if index else parent.text) or ""
    indent = before.rsplit("\n", 1)[-1]
    if depth and indent and len(indent) % depth == 0:
        return depth, indent[: len(indent) // depth]
    return depth, " "


def write_sidecar(photo: Path, keywords: list[str], out_dir: Path | None = None) -> Path:
    """Merge ``keywords`` into the photo's sidecar, written atomically; returns its path."""
    target = sidecar_path(photo, out_dir)
    existing = target.read_bytes() if target.exists() else None
    write_atomic(target, merge_keywords(existing, keywords, source=str(target)))
    return target


def write_sidecars(
    rows: Iterable[ExportRow],
    out_dir: Path | None = None,
    progress: Callable[[int, str], None] | None = None,
) -> XmpReport:
    """One sidecar per photo with accepted tags; a failure is reported and the rest go on."""
    report = XmpReport()
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    done = 0
    for row in rows:
        words = keywords(row)
        if not words:
            continue
        path = row.photo.path
        try:
            report.written.append(write_sidecar(Path(path), words, out_dir))
        except VitrinaError as exc:
            report.failures.append((path, str(exc)))
        except OSError as exc:
            report.failures.append((path, f"{path}: sidecar not written ({exc.strerror or exc})."))
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
