"""Tag files: export -> import round trip, row reporting, and fuzzing of the parsers."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core import export, tag_import
from app.core.catalog import Catalog
from app.core.errors import VitrinaError
from app.core.tag_import import (
    TagRecord,
    apply_tag_records,
    open_tag_file,
    parse_csv,
    parse_json,
    read_tag_file,
    unescape_cell,
)

FUZZ = settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
ODD_VALUES = [
    *("=SUM(A1:A9)", "+red", "-20% sale", "@home", "\tindent", "'quoted", "中文 ñ 👗"),
    *("size; fit", "a;;b", "ends;", "C:\\shoots", "back\\;slash", "\\"),
]


def sha(n: int) -> str:
    return f"{n:064x}"


def add_photos(catalog: Catalog, folder: Path, count: int) -> list[int]:
    return [catalog.add_photo(str(folder / f"p{n}.jpg"), sha(n), 10, 4, 4).id for n in range(count)]


def families_of(catalog: Catalog) -> dict[str, list[str]]:
    """Every family label the catalog holds, as the bundle would list them."""
    families: dict[str, list[str]] = {}
    for row in catalog.export_rows():
        for family, label in row.accepted.items():
            families.setdefault(family, []).append(label)
    return families


def tags_of(catalog: Catalog) -> dict[str, tuple[dict[str, str], tuple[str, ...]]]:
    return {
        row.photo.sha256: (row.accepted, tuple(sorted(row.free_tags)))
        for row in catalog.export_rows()
    }


@pytest.fixture
def tagged(tmp_path: Path) -> Catalog:
    catalog = Catalog.open(tmp_path / "source.db")
    ids = add_photos(catalog, tmp_path, 4)
    for i, value in enumerate(ODD_VALUES):
        catalog.set_tag(ids[i % 3], "category" if i % 2 else "colour", value, "ann")
        catalog.add_free_tag(ids[(i + 1) % 3], value, "ann")
    catalog.set_tag(ids[0], "material", "cotton, 100%", "ann")
    yield catalog
    catalog.close()


@pytest.mark.parametrize(("fmt", "accepted_only"), [("csv", False), ("csv", True), ("json", False)])
def test_round_trip(tagged: Catalog, tmp_path: Path, fmt: str, accepted_only: bool) -> None:
    target = tmp_path / f"tags.{fmt}"
    export.export_catalog(tagged, fmt, accepted_only, target)
    fresh = Catalog.open(tmp_path / "fresh.db")
    add_photos(fresh, tmp_path, 4)
    records = list(read_tag_file(target))
    assert all(not r.problem for r in records)
    families = families_of(tagged)
    report = apply_tag_records(fresh, records, actor="importer", families=families)
    assert report.ok and report.written > 0
    assert tags_of(fresh) == tags_of(tagged)
    again = apply_tag_records(fresh, read_tag_file(target), actor="importer", families=families)
    assert again.written == 0 and again.unchanged == report.written
    fresh.close()


def test_unescape_matches_escape() -> None:
    for value in [*ODD_VALUES, "plain", "", "'", "=x"]:
        assert unescape_cell(export.escape_cell(value)) == value


def test_rows_are_matched_by_hash_then_path(tmp_path: Path) -> None:
    catalog = Catalog.open(tmp_path / "c.db")
    add_photos(catalog, tmp_path, 2)
    text = (
        "path,sha256,colour,free_tags\n"
        f"/elsewhere/moved.jpg,{sha(0)},red,\n"  # line 2: by hash
        f"{tmp_path / 'p1.jpg'},{sha(99)},blue,a; b\n"  # line 3: hash unknown, by path
        f"/nowhere.jpg,{sha(42)},green,\n"  # line 4: unmatched
        "/x.jpg,not-a-hash,green,\n"  # line 5: bad
        "too,few\n"  # line 6: bad
        "\n"
        '"multi\nline.jpg",,black,\n'  # line 8: unmatched, spans two lines
        f",{sha(1)},white,\n"  # line 10: by hash, no path
    )
    records = parse_csv(text, "tags.csv")
    report = apply_tag_records(
        catalog, records, families={"colour": ["red", "blue", "white", "green"]}
    )
    assert [line for line, _ in report.unmatched] == [4, 8]  # black: a label of the shop's own
    assert [line for line, _ in report.bad] == [5, 6]
    assert all(reason.startswith(f"line {line}:") for line, reason in report.bad)
    tags = tags_of(catalog)
    assert tags[sha(0)] == ({"colour": "red"}, ())
    assert tags[sha(1)] == ({"colour": "white"}, ("a", "b"))
    catalog.close()


def test_spreadsheet_resaved_csv(tmp_path: Path) -> None:
    path = tmp_path / "edited.csv"
    path.write_bytes(f"\ufeffpath;sha256;colour\r\n/a.jpg;{sha(3)};'=red\r\n".encode())
    assert list(read_tag_file(path)) == [TagRecord(2, "/a.jpg", sha(3), {"colour": "=red"}, ())]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("", None),
        ("colour,size\nred,L\n", 1),
        ("path,path\n", 1),
        ('[\n {"path": "/a.jpg"},\n {"path": \n', 4),
        ('[\n {"path": "/a.jpg"}\n {"path": "/b.jpg"}]', 3),
        ('{"path": "/a.jpg"}', 1),
        ("[1]\n\nextra", 3),
        ("[" * 100_000, 1),
    ],
)
def test_file_level_problems_name_the_line(tmp_path: Path, text: str, line: int | None) -> None:
    path = tmp_path / "tags.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(VitrinaError) as info:
        read_tag_file(path)
    assert str(info.value).startswith(str(path))
    if line is not None:
        assert f"line {line}:" in str(info.value)


def test_json_rows_with_wrong_types_are_bad_rows() -> None:
    photos = [
        {"path": "/a.jpg", "tags": {"colour": "red"}, "free_tags": ["x"]},
        {"path": 5},
        {"sha256": "zz"},
        {"path": "/b.jpg", "tags": ["red"]},
        {"path": "/c.jpg", "free_tags": "x"},
        "photo",
        {},
    ]
    records = parse_json(json.dumps(photos, indent=1))
    assert not records[0].problem and records[0].line == 2
    assert [bool(r.problem) for r in records] == [False] + [True] * 6
    assert records[1].problem.startswith(f"line {records[1].line}: path is not text")


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "tags.csv"
    path.write_bytes(b"path,colour\n/a.jpg,red\n/b.jpg,caf\xe9\n")
    with pytest.raises(VitrinaError, match="line 3: is not UTF-8"):
        read_tag_file(path)


def test_free_tags_holding_the_separator_come_back_whole() -> None:
    tags = ["size; fit", "plain", "C:\\shoots", "ends\\", ";"]
    cell = export.join_free_tags(tags)
    assert cell == "size\\; fit; plain; C:\\\\shoots; ends\\\\; \\;"
    assert export.split_free_tags(cell) == tags
    assert export.split_free_tags("typed; C:\\shoots") == ["typed", "C:\\shoots"]


def import_csv(catalog: Catalog, text: str, families=None, **kw):
    return apply_tag_records(catalog, parse_csv(text, "tags.csv"), families=families, **kw)


def test_family_labels_need_the_bundle_to_check_them(tmp_path: Path) -> None:
    catalog = Catalog.open(tmp_path / "c.db")
    add_photos(catalog, tmp_path, 2)
    text = f"path,sha256,colour,free_tags\n,{sha(0)},no-such-colour,sale\n,{sha(1)},,sale\n"
    report = import_csv(catalog, text)
    assert [line for line, _ in report.bad] == [2]
    assert "model bundle" in report.bad[0][1] and "--bundle" in report.bad[0][1]
    assert tags_of(catalog) == {sha(0): ({}, ()), sha(1): ({}, ("sale",))}
    report = import_csv(catalog, text, families={"colour": ["red"]})
    assert report.ok and report.new_labels == {("colour", "no-such-colour"): 1}
    report = import_csv(catalog, text.replace("colour", "material"), families={"colour": ["red"]})
    assert "'material' is not a family of the bundle" in report.bad[0][1]
    catalog.close()


def test_a_shops_own_labels_are_kept_in_one_spelling(tmp_path: Path) -> None:
    """A label the bundle lacks ("Navy Blue") is the shop's own: the catalog learns to
    suggest it later, so it is kept, lower-case with single spaces, and counted."""
    catalog = Catalog.open(tmp_path / "c.db")
    add_photos(catalog, tmp_path, 3)
    rows = "".join(
        f"{sha(n)},{text}\n" for n, text in enumerate(["Navy Blue", " navy  blue", "RED"])
    )
    report = import_csv(catalog, "sha256,colour\n" + rows, families={"colour": ["red", "navy"]})
    assert report.ok and report.new_labels == {("colour", "navy blue"): 2}
    assert [a["colour"] for a, _ in tags_of(catalog).values()] == ["navy blue", "navy blue", "red"]
    catalog.close()


def test_labels_are_matched_whatever_their_case_and_spaces(tmp_path: Path) -> None:
    catalog = Catalog.open(tmp_path / "c.db")
    add_photos(catalog, tmp_path, 1)
    families = {"category": ["watch", "hat"], "pattern": ["striped", "plain"]}
    report = import_csv(catalog, f"sha256,Category ,pattern\n{sha(0)},Watch, striped \n", families)
    assert report.ok and report.written == 2
    assert tags_of(catalog)[sha(0)] == ({"category": "watch", "pattern": "striped"}, ())
    catalog.close()


@pytest.mark.parametrize("path", ["/photos/a\x00.jpg", "\x00", "/photos/\udcff.jpg"])
def test_a_path_no_file_can_have_is_a_bad_row(tmp_path: Path, path: str) -> None:
    catalog = Catalog.open(tmp_path / "c.db")
    add_photos(catalog, tmp_path, 1)
    records = parse_json(json.dumps([{"path": path, "free_tags": ["x"]}, {"sha256": sha(0)}]))
    report = apply_tag_records(catalog, records)
    assert [line for line, _ in report.bad] == [1]
    assert "NUL" in report.bad[0][1]
    catalog.close()


@pytest.mark.parametrize(
    ("free_tag", "why"),
    [
        ("x" * 201, "a tag holds at most 200"),
        ("bell\x07", "control character"),
        ("\udcff", "UTF-8"),
    ],
)
def test_a_row_is_checked_whole_before_any_of_it_is_written(
    tmp_path: Path, free_tag: str, why: str
) -> None:
    catalog = Catalog.open(tmp_path / "c.db")
    add_photos(catalog, tmp_path, 1)
    records = parse_json(
        json.dumps([{"sha256": sha(0), "tags": {"colour": "red"}, "free_tags": ["ok", free_tag]}])
    )
    report = apply_tag_records(catalog, records, families={"colour": ["red"]})
    assert len(report.bad) == 1 and why in report.bad[0][1]
    assert report.written == 0
    assert tags_of(catalog)[sha(0)] == ({}, ())
    assert catalog.audit() == []
    catalog.close()


def test_a_photo_named_twice_ends_as_the_later_row_says(tmp_path: Path) -> None:
    catalog = Catalog.open(tmp_path / "c.db")
    add_photos(catalog, tmp_path, 2)
    text = f"sha256,colour\n{sha(0)},red\n{sha(1)},red\n{sha(0)},blue\n"
    report = import_csv(catalog, text, families={"colour": ["red", "blue"]})
    assert report.ok and report.written == 3 and report.photos == {1, 2}
    assert tags_of(catalog)[sha(0)] == ({"colour": "blue"}, ())


def test_a_row_the_database_refuses_is_left_whole_and_the_others_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PostgreSQL row with a too-long free tag had its colour committed and was reported
    "not applied": a row is written whole or not at all."""
    from sqlalchemy.exc import DataError

    from app.core.catalog import slots

    catalog = Catalog.open(tmp_path / "c.db")
    add_photos(catalog, tmp_path, 3)
    decide = slots.decide

    def refusing(session, photo, family, value, **kwargs):
        if value == "boom":
            raise DataError("INSERT", {}, Exception("value too long for type varying(200)"))
        return decide(session, photo, family, value, **kwargs)

    monkeypatch.setattr(slots, "decide", refusing)
    text = f"sha256,colour,free_tags\n{sha(0)},red,sale\n{sha(1)},red,boom\n{sha(2)},,sale\n"
    report = import_csv(catalog, text, families={"colour": ["red"]})
    assert [line for line, _ in report.bad] == [3]
    assert "value too long" in report.bad[0][1]
    found = tags_of(catalog)
    assert list(found.values()) == [({"colour": "red"}, ("sale",)), ({}, ()), ({}, ("sale",))]
    catalog.close()


def test_a_catalog_that_cannot_be_written_reports_every_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core.errors import CatalogError

    catalog = Catalog.open(tmp_path / "c.db")
    add_photos(catalog, tmp_path, 2)
    busy = "c.db: another program holds the catalog; try again."

    def locked(*args, **kwargs):
        raise CatalogError(busy)

    monkeypatch.setattr(catalog, "set_rows", locked)
    text = f"sha256,colour,free_tags\n{sha(0)},red,sale\n{sha(1)},,sale\n"
    report = import_csv(catalog, text, families={"colour": ["red"]})
    assert report.bad == [(2, f"line 2: {busy}"), (3, f"line 3: {busy}")]
    catalog.close()


def test_progress_and_cancel_between_rows(tmp_path: Path) -> None:
    catalog = Catalog.open(tmp_path / "c.db")
    add_photos(catalog, tmp_path, 5)
    text = "sha256,free_tags\n" + "".join(f"{sha(n)},t{n}\n" for n in range(5))
    seen: list[int] = []
    report = import_csv(catalog, text, progress=seen.append, cancel=lambda: len(seen) == 2)
    assert report.cancelled and report.rows == 2 and seen == [1, 2]
    assert [len(free) for _, free in tags_of(catalog).values()] == [1, 1, 0, 0, 0]
    catalog.close()


def test_too_many_rows_is_refused_before_anything_is_applied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tag_import, "MAX_ROWS", 3)
    path = tmp_path / "tags.csv"
    path.write_text("sha256,free_tags\n" + "".join(f"{sha(n)},x\n" for n in range(4)))
    with pytest.raises(VitrinaError, match=r"tags.csv: has more than 3 rows.*Split it"):
        read_tag_file(path)
    path.write_text("sha256,free_tags\n" + "".join(f"{sha(n)},x\n" for n in range(3)))
    assert open_tag_file(path).rows == 3


def test_a_big_file_is_read_row_by_row(tmp_path: Path) -> None:
    import tracemalloc

    path = tmp_path / "tags.csv"
    row = ",".join(["/shoots/2026-11/look-{n:06}.jpg", "{sha}", "red", "sale; summer"])
    with path.open("w", encoding="utf-8") as handle:
        handle.write("path,sha256,colour,free_tags\n")
        for n in range(20_000):
            handle.write(row.format(n=n, sha=sha(n)) + "\n")
    tracemalloc.start()
    try:
        assert open_tag_file(path).rows == 20_000
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert path.stat().st_size > 2 * 2**20
    assert peak < 2**20, peak


def test_a_byte_that_is_not_utf8_far_down_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "tags.csv"
    path.write_bytes(b"path,colour\n" + b"/a.jpg,red\n" * 5000 + b"/b.jpg,caf\xe9\n")
    with pytest.raises(VitrinaError, match="line 5002: is not UTF-8"):
        read_tag_file(path)


def test_a_folder_or_missing_file_is_a_message(tmp_path: Path) -> None:
    for path in (tmp_path, tmp_path / "missing.csv"):
        with pytest.raises(VitrinaError, match=f"{path}: cannot be read"):
            read_tag_file(path)


# --- fuzzing ------------------------------------------------------------------------------


def parses_or_names_a_line(text: str, parser) -> None:
    try:
        records = parser(text, "fuzz")
    except VitrinaError as exc:
        assert "line " in str(exc) or "is empty" in str(exc)
        return
    for record in records:
        assert isinstance(record, TagRecord) and record.line >= 1
        assert not record.problem or record.problem.startswith(f"line {record.line}:")


cells = st.one_of(
    st.text(max_size=30),
    st.sampled_from([*ODD_VALUES, sha(7), "'", '"', "\r\n", "a;b", "x" * 200_000]),
)
headers = st.lists(
    st.sampled_from(["path", "sha256", "colour", "colour_suggestion", "free_tags", "=x", ""]),
    max_size=6,
)


@FUZZ
@given(header=headers, rows=st.lists(st.lists(cells, max_size=7), max_size=6))
def test_fuzz_csv_rows(header: list[str], rows: list[list[str]]) -> None:
    out = io.StringIO()
    csv.writer(out).writerows([header, *rows])
    parses_or_names_a_line(out.getvalue(), parse_csv)


@FUZZ
@given(text=st.text(alphabet=st.sampled_from(list(",;\t\"'\n\r =a\x00é")) | st.characters()))
def test_fuzz_csv_text(text: str) -> None:
    parses_or_names_a_line(text, parse_csv)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
photo_objects = st.fixed_dictionaries(
    {},
    optional={
        "path": json_values | st.text(),
        "sha256": st.sampled_from([sha(1), "abc", ""]) | json_values,
        "tags": st.dictionaries(st.text(max_size=10), json_values | st.text(), max_size=3),
        "free_tags": st.lists(st.text(max_size=10) | json_values, max_size=3),
    },
)


@FUZZ
@given(
    photos=st.lists(photo_objects | json_values, max_size=5),
    indent=st.sampled_from([None, 0, 2]),
    cut=st.integers(0, 10_000) | st.none(),
)
def test_fuzz_json(photos: list, indent: int | None, cut: int | None) -> None:
    text = json.dumps(photos, indent=indent, ensure_ascii=False)
    parses_or_names_a_line(text if cut is None else text[:cut], parse_json)


@FUZZ
@given(data=st.binary(max_size=300))
def test_fuzz_tag_file_bytes(data: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.getbasetemp() / "fuzz-tags"
    folder.mkdir(exist_ok=True)
    for name in ("tags.csv", "tags.json"):
        path = folder / name
        path.write_bytes(data)
        try:
            read_tag_file(path)
        except VitrinaError as exc:
            assert str(exc).startswith(str(path))
