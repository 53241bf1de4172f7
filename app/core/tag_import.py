"""Read tags back from the CSV or JSON that :mod:`app.core.export` writes, and apply them.

A spreadsheet round trip (export, edit, import) must not lose or invent tags: the
formula escaping is undone, rows are matched by content hash and then by path, and a
bad row is reported with its line number instead of stopping the import.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.errors import VitrinaError
from app.core.export import needs_escape

if TYPE_CHECKING:
    from app.core.catalog import Catalog, PhotoRow

FREE_TAG_SEPARATOR = ";"
SHA256 = re.compile(r"[0-9a-f]{64}")
_SPACE = re.compile(r"[ \t\n\r]*")
FIX_HINT = "Fix the file (or export it again with `vitrina export`) and import it again."


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

    @property
    def ok(self) -> bool:
        return not self.unmatched and not self.bad


# --- reading --------------------------------------------------------------------------


def read_tag_file(path: Path | str) -> list[TagRecord]:
    """The records of a CSV or JSON tag file (JSON when the name or first character says so).

    Raises VitrinaError naming the file and line when the file cannot be read or parsed;
    a row that parses but makes no sense comes back with ``problem`` set.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise VitrinaError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise VitrinaError(
            f"{path}: line {line}: is not UTF-8 text. Save it as UTF-8 (CSV UTF-8 in a "
            "spreadsheet) and import it again."
        ) from None
    if path.suffix.lower() == ".json" or text.lstrip()[:1] in ("[", "{"):
        return parse_json(text, str(path))
    return parse_csv(text, str(path))


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
    if problems:
        return TagRecord(line, problem=f"line {line}: {'; '.join(problems)}.")
    return TagRecord(
        line,
        path,
        sha256.lower(),
        {family: value for family, value in tags.items() if value and value.strip()},
        tuple(dict.fromkeys(tag for tag in free if tag.strip())),
    )


def _delimiter(text: str) -> str:
    """Comma as exported; semicolon or tab when a spreadsheet saved it that way."""
    header = text.split("\n", 1)[0]
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
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    records: list[TagRecord] = []
    try:
        header = next(reader, None)
        if header is None:
            raise VitrinaError(f"{source}: is empty; there are no tags to import.")
        positions, families = _columns(header, source)
        line = reader.line_num + 1
        for row in reader:
            records.extend(_csv_record(line, row, positions, families))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise VitrinaError(f"{source}: line {reader.line_num}: {exc}. {FIX_HINT}") from None
    return records


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
    free = cells.get("free_tags", "").split(FREE_TAG_SEPARATOR)
    yield _record(
        line,
        cells.get("path", "").strip(),
        cells.get("sha256", "").strip(),
        {family: cells[family] for family in families},
        [tag.strip(" ") for tag in free],  # export joins with '; '; keep tabs and the like
    )


def parse_json(text: str, source: str = "JSON") -> list[TagRecord]:
    """Records of the JSON ``vitrina export --format json`` writes: a list of photo objects."""
    records = []
    for line, item in _json_items(text, source):
        if not isinstance(item, dict):
            records.append(TagRecord(line, problem=f"line {line}: is not a photo object."))
            continue
        records.append(
            _record(
                line, item.get("path"), item.get("sha256"), item.get("tags"), item.get("free_tags")
            )
        )
    return records


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


def _find(catalog: Catalog, record: TagRecord) -> PhotoRow | None:
    from app.core.catalog import PhotoNotFoundError

    if record.sha256:
        photo = catalog.find_by_hash(record.sha256)
        if photo is not None:
            return photo
    if record.path and not record.path.strip().isdigit():  # digits would resolve as an id
        try:
            return catalog.resolve(record.path)
        except PhotoNotFoundError:
            return None
    return None


def _label_problem(record: TagRecord, families: Mapping[str, Sequence[str]] | None) -> str:
    if families is None:
        return ""
    for family, value in record.tags.items():
        if family not in families:
            return f"line {record.line}: {family!r} is not a family of the bundle."
        if value not in families[family]:
            return f"line {record.line}: {value!r} is not a label of family {family!r}."
    return ""


def apply_tag_records(
    catalog: Catalog,
    records: Iterable[TagRecord],
    actor: str | None = None,
    families: Mapping[str, Sequence[str]] | None = None,
) -> TagImportReport:
    """Set each record's family labels and add its free tags as ``actor``'s decisions.

    Nothing is removed: a tag missing from the file stays. ``families`` (name -> labels),
    when given, refuses labels the bundle does not know. Unmatched and bad rows are
    reported and the rest go on.
    """
    report = TagImportReport()
    for record in records:
        problem = record.problem or _label_problem(record, families)
        if problem:
            report.bad.append((record.line, problem))
            continue
        photo = _find(catalog, record)
        if photo is None:
            report.unmatched.append(
                (
                    record.line,
                    f"line {record.line}: no photo in the catalog has sha256 "
                    f"{record.sha256 or '(none)'} or path {record.path or '(none)'}.",
                )
            )
            continue
        try:
            changes = [catalog.set_tag(photo.id, f, v, actor) for f, v in record.tags.items()]
            changes += [catalog.add_free_tag(photo.id, tag, actor) for tag in record.free_tags]
        except VitrinaError as exc:
            report.bad.append((record.line, f"line {record.line}: {exc}"))
            continue
        written = sum(change is not None for change in changes)
        report.written += written
        report.unchanged += len(changes) - written
        if written:
            report.photos.add(photo.id)
    return report
