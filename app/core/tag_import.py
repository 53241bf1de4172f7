"""Read tags back from the CSV or JSON that :mod:`app.core.export` writes, and apply them.

A spreadsheet round trip (export, edit, import) must not lose or invent tags: the
formula and free-tag escaping are undone, rows are matched by content hash and then by
path, labels are matched to the bundle's whatever their case and surrounding spaces, and
a bad row is reported with its line number instead of stopping the import. A row is
checked whole before anything of it is written.

A file is read twice, streaming: once to check it (file-level errors, the row bound) and
count its rows, then row by row to apply them; a million rows take the memory of one.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from app.core.errors import VitrinaError
from app.core.export import needs_escape, split_free_tags
from app.core.tag_input import NOT_A_PATH, family_label, tag_text_problem

if TYPE_CHECKING:
    from app.core.catalog import Catalog, PhotoRow

MAX_ROWS = 1_000_000  # ten times the largest catalog Vitrina is built for
MAX_JSON_BYTES = 256 * 2**20  # JSON is parsed whole; CSV streams
ROWS_PER_BATCH = 500  # rows looked up in one query and written together
SHA256 = re.compile(r"[0-9a-f]{64}")
_SPACE = re.compile(r"[ \t\n\r]*")
_UNDECODED = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8 (surrogateescape)
FIX_HINT = "Fix the file (or export it again with `vitrina export`) and import it again."
UTF8_HINT = "Save it as UTF-8 (CSV UTF-8 in a spreadsheet) and import it again."


@dataclass(frozen=True)
class TagRecord:
    """One photo's tags as a file states them; ``problem`` says why the row cannot be applied."""

    line: int
    path: str = ""
    sha256: str = ""
    tags: dict[str, str] = field(default_factory=dict)  # family -> accepted label
    free_tags: tuple[str, ...] = ()
    problem: str = ""


@dataclass
class TagImportReport:
    """What applying a tag file did; ``unmatched`` and ``bad`` are (line, reason) pairs."""

    photos: set[int] = field(default_factory=set)
    written: int = 0
    unchanged: int = 0
    unmatched: list[tuple[int, str]] = field(default_factory=list)
    bad: list[tuple[int, str]] = field(default_factory=list)
    rows: int = 0  # rows looked at (all of them unless cancelled)
    cancelled: bool = False
    # (family, label) -> rows naming a label the bundle lacks: the shop's own, learned later
    new_labels: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.unmatched and not self.bad


# --- reading --------------------------------------------------------------------------


@dataclass(frozen=True)
class TagFile:
    """A tag file checked end to end and its row count; :meth:`records` reads it again."""

    path: Path
    rows: int

    def records(self) -> Iterator[TagRecord]:
        return _records(self.path)


def open_tag_file(path: Path | str) -> TagFile:
    """Read a CSV or JSON tag file once, to check it before anything is applied.

    Raises VitrinaError naming the file and line when it cannot be read or parsed, or
    holds more than MAX_ROWS rows; a row that parses but makes no sense is not an error
    here (its record comes back with ``problem`` set).
    """
    path = Path(path)
    rows = 0
    for rows, _record in enumerate(_records(path), start=1):
        if rows > MAX_ROWS:
            raise VitrinaError(
                f"{path}: has more than {MAX_ROWS:,} rows, more than one import takes. "
                f"Split it into files of at most {MAX_ROWS:,} rows and import each."
            )
    return TagFile(path, rows)


def read_tag_file(path: Path | str) -> Iterator[TagRecord]:
    """The records of a tag file, streamed; the whole file is checked before the first."""
    return open_tag_file(path).records()


def _records(path: Path) -> Iterator[TagRecord]:
    """Records of a CSV or JSON file (JSON when the name or first character says so)."""
    try:
        with path.open("rb") as handle:
            start = handle.read(4096).removeprefix(b"\xef\xbb\xbf").lstrip()
            handle.seek(0)
            if path.suffix.lower() == ".json" or start[:1] in (b"[", b"{"):
                yield from _json_records(_json_text(handle, path), str(path))
            else:
                yield from _csv_records(_text_lines(handle, path), str(path))
    except OSError as exc:
        raise VitrinaError(
            f"{path}: cannot be read ({exc.strerror or exc}). Check the name and that you "
            "may read it, then import it again."
        ) from None


def _json_text(handle: BinaryIO, path: Path) -> str:
    size = os.fstat(handle.fileno()).st_size
    if size > MAX_JSON_BYTES:
        raise VitrinaError(
            f"{path}: is {size / 2**20:,.0f} MB; a JSON tag file is read whole and may hold "
            f"at most {MAX_JSON_BYTES // 2**20} MB. Export CSV instead (it is read row by "
            "row), or split the file."
        )
    data = handle.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise VitrinaError(f"{path}: line {line}: is not UTF-8 text. {UTF8_HINT}") from None


def _text_lines(handle: BinaryIO, path: Path) -> Iterator[str]:
    """The file's lines (any line ending, kept for the CSV reader), decoded one by one so
    that a byte that is not UTF-8 is named by its line."""
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", errors="surrogateescape", newline="")
    for number, line in enumerate(text, start=1):
        if _UNDECODED.search(line):
            raise VitrinaError(f"{path}: line {number}: is not UTF-8 text. {UTF8_HINT}")
        yield line


def unescape_cell(text: str) -> str:
    """Undo :func:`app.core.export.escape_cell`: drop the ``'`` put before a formula."""
    if text.startswith("'") and needs_escape(text[1:]):
        return text[1:]
    return text


def _record(line: int, path: object, sha256: object, tags: object, free: object) -> TagRecord:
    """A record, or one whose ``problem`` says which value is wrong."""
    problems = []
    path = "" if path is None else path
    sha256 = "" if sha256 is None else sha256
    if not isinstance(path, str):
        problems.append("path is not text")
    elif NOT_A_PATH.search(path):
        problems.append(f"path {path!r} holds a NUL or bytes that are not UTF-8; no file name can")
    if not isinstance(sha256, str) or (sha256 and not SHA256.fullmatch(sha256.lower())):
        problems.append("sha256 is not 64 hexadecimal digits")
    if not problems and not (path or sha256):
        problems.append("has neither a path nor a sha256 to find the photo by")
    tags = {} if tags is None else tags
    if not isinstance(tags, dict) or not all(
        key.strip() and isinstance(value, str | None) for key, value in tags.items()
    ):
        problems.append("tags are not family: label pairs")
        tags = {}
    free = [] if free is None else free
    if not isinstance(free, list | tuple) or not all(isinstance(v, str) for v in free):
        problems.append("free_tags is not a list of text")
        free = []
    free = [tag for tag in free if tag.strip()]
    problems += [f"free tag {problem}" for problem in filter(None, map(tag_text_problem, free))]
    if problems:
        return TagRecord(line, problem=f"line {line}: {'; '.join(problems)}.")
    return TagRecord(
        line,
        path,
        sha256.lower(),
        {family: value for family, value in tags.items() if value and value.strip()},
        tuple(dict.fromkeys(free)),
    )


def _delimiter(header: str) -> str:
    """Comma as exported; semicolon or tab when a spreadsheet saved it that way."""
    return max((",", ";", "\t"), key=lambda sep: (header.count(sep), sep == ","))


def _columns(header: list[str], source: str) -> tuple[dict[str, int], list[str]]:
    """Column positions by name, and the family columns (not suggestions or confidences)."""
    names = [unescape_cell(cell).strip() for cell in header]
    positions: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in positions:
            raise VitrinaError(f"{source}: line 1: column {name!r} appears twice. {FIX_HINT}")
        positions[name] = i
    if "path" not in positions and "sha256" not in positions:
        raise VitrinaError(
            f"{source}: line 1: the header has no 'path' or 'sha256' column, so no photo "
            f"can be found. {FIX_HINT}"
        )
    derived = {
        name
        for name in names
        for suffix in ("_suggestion", "_confidence")
        if name.endswith(suffix) and name.removesuffix(suffix) in positions
    }
    families = [n for n in names if n and n not in {"path", "sha256", "free_tags"} | derived]
    return positions, families


def parse_csv(text: str, source: str = "CSV") -> list[TagRecord]:
    """Records of the CSV ``vitrina export`` writes (a spreadsheet may have re-saved it)."""
    return list(_csv_records(io.StringIO(text, newline=""), source))


def _csv_records(lines: Iterable[str], source: str) -> Iterator[TagRecord]:
    lines = iter(lines)
    first = next(lines, None)
    if first is None:
        raise VitrinaError(f"{source}: is empty; there are no tags to import.")
    reader = csv.reader(itertools.chain([first], lines), delimiter=_delimiter(first))
    try:
        positions, families = _columns(next(reader), source)
        line = reader.line_num + 1
        for row in reader:
            yield from _csv_record(line, row, positions, families)
            line = reader.line_num + 1
    except csv.Error as exc:
        raise VitrinaError(f"{source}: line {reader.line_num}: {exc}. {FIX_HINT}") from None


def _csv_record(
    line: int, row: list[str], positions: dict[str, int], families: list[str]
) -> Iterator[TagRecord]:
    if not any(cell.strip() for cell in row):
        return
    if len(row) != len(positions):
        yield TagRecord(
            line, problem=f"line {line}: has {len(row)} cells but the header has {len(positions)}."
        )
        return
    cells = {name: unescape_cell(row[i]) for name, i in positions.items()}
    yield _record(
        line,
        cells.get("path", "").strip(),
        cells.get("sha256", "").strip(),
        {family: cells[family] for family in families},
        split_free_tags(cells.get("free_tags", "")),
    )


def parse_json(text: str, source: str = "JSON") -> list[TagRecord]:
    """Records of the JSON ``vitrina export --format json`` writes: a list of photo objects."""
    return list(_json_records(text, source))


def _json_records(text: str, source: str) -> Iterator[TagRecord]:
    for line, item in _json_items(text, source):
        if not isinstance(item, dict):
            yield TagRecord(line, problem=f"line {line}: is not a photo object.")
            continue
        yield _record(
            line, item.get("path"), item.get("sha256"), item.get("tags"), item.get("free_tags")
        )


def _json_items(text: str, source: str) -> Iterator[tuple[int, object]]:
    """Each element of the top-level list with the line it starts on."""
    decoder = json.JSONDecoder()
    lines = _LineCounter(text)

    def fail(pos: int, what: str) -> VitrinaError:
        return VitrinaError(f"{source}: line {lines.at(pos)}: {what}. {FIX_HINT}")

    pos = _SPACE.match(text).end()
    if text[pos : pos + 1] != "[":
        raise fail(pos, "expected a list of photos ('[' ...), as `vitrina export` writes")
    pos = _SPACE.match(text, pos + 1).end()
    if text[pos : pos + 1] == "]":
        pos = _SPACE.match(text, pos + 1).end()
    else:
        while True:
            try:
                item, end = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                raise fail(exc.pos, f"not valid JSON ({exc.msg})") from None
            except (ValueError, RecursionError) as exc:
                raise fail(pos, f"a value JSON cannot hold ({type(exc).__name__})") from None
            yield lines.at(pos), item
            pos = _SPACE.match(text, end).end()
            separator = text[pos : pos + 1]
            if separator not in (",", "]"):
                raise fail(pos, "expected ',' or ']' after a photo")
            pos = _SPACE.match(text, pos + 1).end()
            if separator == "]":
                break
    if pos != len(text):
        raise fail(pos, "unexpected text after the list of photos")


class _LineCounter:
    """Line numbers of increasing positions, counted once (a big file stays linear)."""

    def __init__(self, text: str) -> None:
        self.text, self.pos, self.line = text, 0, 1

    def at(self, pos: int) -> int:
        if pos < self.pos:
            return self.text.count("\n", 0, pos) + 1
        self.line += self.text.count("\n", self.pos, pos)
        self.pos = pos
        return self.line


# --- applying -------------------------------------------------------------------------


def _find(catalog: Catalog, record: TagRecord, by_hash: Mapping[str, PhotoRow]) -> PhotoRow | None:
    """The row's photo: by content hash (looked up for the whole chunk), else by path."""
    from app.core.catalog import PhotoNotFoundError

    photo = by_hash.get(record.sha256) if record.sha256 else None
    if photo is None and record.path and not record.path.strip().isdigit():  # not an id
        with contextlib.suppress(PhotoNotFoundError):
            photo = catalog.resolve(record.path)
    return photo


def _checked_tags(
    record: TagRecord, families: Mapping[str, Sequence[str]] | None
) -> tuple[dict[str, str], str]:
    """The record's labels as the bundle spells them ("Watch" -> "watch"), or why not."""
    if not record.tags:
        return {}, ""
    where = f"line {record.line}:"
    if families is None:
        return {}, (
            f"{where} family labels are checked against the model bundle, and none is "
            "loaded; load one (--bundle PATH, or File → Choose bundle…) and import again."
        )
    tags: dict[str, str] = {}
    for typed_family, typed_label in record.tags.items():
        try:
            family, label, _new = family_label(families, typed_family, typed_label)
        except VitrinaError as exc:
            return {}, f"{where} {exc}"
        if tags.setdefault(family, label) != label:
            return {}, f"{where} family {family!r} is given twice: {tags[family]!r}, {label!r}."
    return tags, ""


def apply_tag_records(
    catalog: Catalog,
    records: Iterable[TagRecord],
    actor: str | None = None,
    families: Mapping[str, Sequence[str]] | None = None,
    progress: Callable[[int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> TagImportReport:
    """Set each record's family labels and add its free tags as ``actor``'s decisions.

    Nothing is removed: a tag missing from the file stays. Family labels are checked
    against ``families`` (name -> the bundle's labels); without it a row that sets one is
    refused. Unmatched and bad rows are reported and the rest go on. ``progress(rows)``
    follows each row; ``cancel()`` is asked before each and stops cleanly (the rows read
    so far are written). Rows go ROWS_PER_BATCH at a time: their photos are looked up in
    one query, and each label or free tag they set is one transaction for all of them.
    """
    report = TagImportReport()
    records = iter(records)
    while chunk := list(itertools.islice(records, ROWS_PER_BATCH)):
        checked = [(record, *_checked_tags(record, families)) for record in chunk]
        by_hash = catalog.find_by_hashes(
            r.sha256 for r, _, problem in checked if r.sha256 and not (r.problem or problem)
        )
        batch = _Batch(catalog, actor, report, families or {})
        for record, tags, problem in checked:
            if cancel is not None and cancel():
                report.cancelled = True
                break
            _take(catalog, record, tags, record.problem or problem, by_hash, batch)
            report.rows += 1
            if progress is not None:
                progress(report.rows)
        batch.write()
        if report.cancelled:
            break
    return report


def _take(
    catalog: Catalog,
    record: TagRecord,
    tags: dict[str, str],
    problem: str,
    by_hash: Mapping[str, PhotoRow],
    batch: _Batch,
) -> None:
    """Report a bad or unmatched row, or put what it changes in the batch (every value is
    checked already; reading the photo's tags is cheaper than an edit that changes nothing)."""
    if problem:
        batch.report.bad.append((record.line, problem))
        return
    photo = _find(catalog, record, by_hash)
    if photo is None:
        batch.report.unmatched.append(
            (
                record.line,
                f"line {record.line}: no photo in the catalog has sha256 "
                f"{record.sha256 or '(none)'} or path {record.path or '(none)'}.",
            )
        )
        return
    wanted = [*tags.items(), *((None, tag) for tag in record.free_tags)]
    batch.add(record, photo.id, wanted)


@dataclass
class _Batch:
    """Rows to write: one transaction for them all, each row whole or not at all."""

    catalog: Catalog
    actor: str | None
    report: TagImportReport
    families: Mapping[str, Sequence[str]]
    rows: list[tuple[TagRecord, int, list[tuple[str | None, str]]]] = field(default_factory=list)

    def add(self, record: TagRecord, photo_id: int, edits: list[tuple[str | None, str]]) -> None:
        """The row's edits: (family, label) and (None, free tag); unchanged ones cost nothing."""
        self.rows.append((record, photo_id, edits))

    def write(self) -> None:
        """Write the rows; a row the catalog refuses is reported with the reason, unwritten."""
        if not self.rows:
            return
        try:
            results: list[int | str] = self.catalog.set_rows(
                [(photo_id, edits) for _, photo_id, edits in self.rows], self.actor
            )
        except VitrinaError as exc:  # the catalog could not be written at all: nothing was
            results = [str(exc)] * len(self.rows)
        for (record, photo_id, edits), result in zip(self.rows, results, strict=True):
            if isinstance(result, str):
                self.report.bad.append((record.line, f"line {record.line}: {result}"))
                continue
            self.report.written += result
            self.report.unchanged += len(edits) - result
            for family, label in edits:
                if family is not None and label not in self.families.get(family, (label,)):
                    self.report.new_labels[(family, label)] += 1
            if result:
                self.report.photos.add(photo_id)
        self.rows = []
