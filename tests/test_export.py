"""Exports: formula-escaped CSV, JSON, and atomic XMP sidecars merged with existing keywords."""

from __future__ import annotations

import csv
import io
import json
import os
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.core import export
from app.core.catalog.rows import ExportRow, PhotoRow, PredictionRow
from app.core.errors import VitrinaError
from app.core.xmp import NS_DC, NS_RDF, NS_VITRINA

RDF_LI = f"{{{NS_RDF}}}li"


def top(family: str, label: str, confidence: float, threshold: float = 0.5) -> PredictionRow:
    return PredictionRow(1, "tiny@1", family, label, confidence, 1, threshold)


def record(path: str = "/photos/a.jpg", photo_id: int = 1, **kw) -> ExportRow:
    photo = PhotoRow(photo_id, path, "ab" * 32, 3, 10, 20, datetime.now(UTC), "suggested", "tiny@1")
    fields = {
        "accepted": {"colour": "red"},
        "free_tags": ("summer",),
        "rejected": {},
        "top": {"category": top("category", "hat", 0.4), "colour": top("colour", "red", 0.91)},
    }
    fields.update(kw)
    return ExportRow(photo=photo, **fields)


def keywords(data: bytes) -> list[str]:
    """The dc:subject keywords of a sidecar."""
    return [
        li.text for li in ET.fromstring(data).iter(f"{{{NS_DC}}}subject") for li in li.iter(RDF_LI)
    ]


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "=HYPERLINK(x)"])
def test_formula_cells_are_escaped(cell: str) -> None:
    assert export.escape_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["red", "a=b", "", "1-2", "'quoted"])
def test_plain_cells_are_kept(cell: str) -> None:
    assert export.escape_cell(cell) == cell


def test_csv_all_mode_has_suggestions_and_escapes_every_cell() -> None:
    rec = record(path="/p/=cmd.jpg", free_tags=("=2+3", "ok"))
    rows = list(csv.reader(io.StringIO(export.csv_text([rec]))))
    assert rows[0] == [
        "path",
        "sha256",
        "category",
        "category_suggestion",
        "category_confidence",
        "colour",
        "colour_suggestion",
        "colour_confidence",
        "free_tags",
    ]
    assert rows[1] == [
        *["/p/=cmd.jpg", "ab" * 32],
        *["", "hat", "0.4000"],
        *["red", "red", "0.9100"],
        "'=2+3; ok",
    ]


def test_csv_escapes_a_formula_path() -> None:
    rows = list(csv.reader(io.StringIO(export.csv_text([record(path="=cmd|' /C calc'!A0")]))))
    assert rows[1][0] == "'=cmd|' /C calc'!A0"


def test_csv_accepted_only_has_one_column_per_family() -> None:
    text = export.csv_text([record()], families=["category", "colour"], accepted_only=True)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [
        ["path", "sha256", "category", "colour", "free_tags"],
        ["/photos/a.jpg", "ab" * 32, "", "red", "summer"],
    ]


def test_json_lists_tags_and_suggestions() -> None:
    data = json.loads(export.json_text([record()]))
    assert data[0]["tags"] == {"colour": "red"}
    assert data[0]["free_tags"] == ["summer"]
    assert data[0]["suggestions"]["colour"]["label"] == "red"
    assert data[0]["suggestions"]["colour"]["confident"] is True
    assert data[0]["suggestions"]["category"]["confident"] is False
    assert "suggestions" not in json.loads(export.json_text([record()], accepted_only=True))[0]


def test_new_sidecar_holds_keywords(tmp_path: Path) -> None:
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"x")
    target = export.write_sidecar(photo, ["red", "summer"])
    assert target == tmp_path / "a.jpg.xmp"
    assert keywords(target.read_bytes()) == ["red", "summer"]


EXISTING = b"""<?xml version="1.0"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
  <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
    <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"
        xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="4">
      <dc:subject>
        <rdf:Bag>
          <rdf:li>studio</rdf:li>
          <rdf:li>red</rdf:li>
        </rdf:Bag>
      </dc:subject>
      <dc:title><rdf:Alt><rdf:li xml:lang="x-default">Look 7</rdf:li></rdf:Alt></dc:title>
    </rdf:Description>
  </rdf:RDF>
</x:xmpmeta>
"""


def test_sidecar_merges_with_existing_keywords_and_keeps_the_rest(tmp_path: Path) -> None:
    photo = tmp_path / "a.jpg"
    sidecar = tmp_path / "a.jpg.xmp"
    sidecar.write_bytes(EXISTING)
    export.write_sidecar(photo, ["red", "dress"])
    data = sidecar.read_bytes()
    root = ET.fromstring(data)
    bag = root.find(f".//{{{NS_DC}}}subject/{{{NS_RDF}}}Bag")
    assert [li.text for li in bag] == ["studio", "red", "dress"]
    assert root.find(f".//{{{NS_DC}}}title//{RDF_LI}").text == "Look 7"
    assert b'xmp:Rating="4"' in data
    assert b"ns0" not in data
    export.write_sidecar(photo, ["red", "dress"])
    assert sidecar.read_bytes() == data


def test_sidecar_without_subject_gets_one(tmp_path: Path) -> None:
    photo = tmp_path / "a.jpg"
    (tmp_path / "a.jpg.xmp").write_bytes(
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
        b'22-rdf-syntax-ns#"><rdf:Description rdf:about=""/></rdf:RDF></x:xmpmeta>'
    )
    assert keywords(export.write_sidecar(photo, ["blue"]).read_bytes()) == ["blue"]


def test_broken_sidecar_is_reported_and_left_alone(tmp_path: Path) -> None:
    photo = tmp_path / "a.jpg"
    sidecar = tmp_path / "a.jpg.xmp"
    sidecar.write_bytes(b"<x:xmpmeta not xml")
    with pytest.raises(VitrinaError, match="not valid XML"):
        export.write_sidecar(photo, ["red"])
    assert sidecar.read_bytes() == b"<x:xmpmeta not xml"
    report = export.write_sidecars([record(path=str(photo))])
    assert report.written == [] and report.failures[0][0] == str(photo)


def test_failed_write_leaves_old_file_and_no_temp(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "out.csv"
    target.write_bytes(b"old")

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        export.write_atomic(target, b"new content")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_write_atomic_keeps_permissions(tmp_path: Path) -> None:
    target = tmp_path / "a.xmp"
    target.write_bytes(b"old")
    target.chmod(0o640)
    export.write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o640


def test_sidecars_go_to_out_dir(tmp_path: Path) -> None:
    out = tmp_path / "xmp"
    empty = record(photo_id=2, accepted={}, free_tags=())
    report = export.write_sidecars([record(), empty], out_dir=out)
    assert report.written == [out / "photos" / "a.jpg.xmp"]
    assert keywords(report.written[0].read_bytes()) == ["red", "summer"]


def test_text_that_looks_escaped_survives_the_round_trip() -> None:
    from app.core.tag_import import unescape_cell

    for text in ("'=x", "'+1", "'plain", "=SUM(A1)"):
        assert unescape_cell(export.escape_cell(text)) == text
    assert export.escape_cell("'=x") == "''=x"


def test_control_characters_never_make_invalid_xml(tmp_path: Path) -> None:
    photo = tmp_path / "a.jpg"
    target = export.write_sidecar(photo, ["bell\x07", "nul\x00here", "\x1b", "ok\ufffe", "tab\tok"])
    assert keywords(target.read_bytes()) == ["bell", "nulhere", "ok", "tab\tok"]


def test_a_sidecar_an_older_vitrina_broke_with_a_control_character_is_repaired(
    tmp_path: Path,
) -> None:
    photo = tmp_path / "a.jpg"
    sidecar = tmp_path / "a.jpg.xmp"
    sidecar.write_bytes(EXISTING.replace(b"<rdf:li>red</rdf:li>", b"<rdf:li>r\x01ed</rdf:li>"))
    export.write_sidecar(photo, ["red", "dress"])
    assert keywords(sidecar.read_bytes()) == ["studio", "red", "dress"]


@pytest.mark.parametrize(
    "broken",
    [
        b"<x:xmpmeta not xml",
        b'<?xml version="1.0" encoding="bogus"?><x:xmpmeta xmlns:x="adobe:ns:meta/"/>',
        b"\xff\xfe\x00\x00 not utf-16 either",
        b"<a>\xff</a>",
    ],
)
def test_a_broken_sidecar_is_reported_with_what_to_do_and_the_rest_go_on(
    tmp_path: Path, broken: bytes
) -> None:
    first, second = tmp_path / "a.jpg", tmp_path / "b.jpg"
    (tmp_path / "a.jpg.xmp").write_bytes(broken)
    report = export.write_sidecars([record(path=str(first)), record(str(second), photo_id=2)])
    assert report.written == [tmp_path / "b.jpg.xmp"]
    [(path, reason)] = report.failures
    assert path == str(first) and reason.startswith(f"{tmp_path / 'a.jpg.xmp'}: ")
    assert "delete it so that Vitrina writes a new one" in reason
    assert (tmp_path / "a.jpg.xmp").read_bytes() == broken


def test_out_dir_keeps_photos_with_one_file_name_apart(tmp_path: Path) -> None:
    out = tmp_path / "xmp"
    one = record(path="/shoots/a/shirt.jpg", accepted={"colour": "red"}, free_tags=())
    two = record(path="/shoots/b/shirt.jpg", photo_id=2, accepted={"colour": "blue"}, free_tags=())
    report = export.write_sidecars([one, two], out_dir=out)
    assert report.written == [out / "shoots/a/shirt.jpg.xmp", out / "shoots/b/shirt.jpg.xmp"]
    assert [keywords(path.read_bytes()) for path in report.written] == [["red"], ["blue"]]
    assert export.sidecar_path(Path("C:/x/y.jpg"), out).name == "y.jpg.xmp"


def test_a_corrected_label_replaces_the_keyword_vitrina_wrote(tmp_path: Path) -> None:
    photo = tmp_path / "a.jpg"
    sidecar = tmp_path / "a.jpg.xmp"
    sidecar.write_bytes(EXISTING)  # another tool wrote "studio" and "red"
    export.write_sidecar(photo, ["red", "dress", "sale"])
    export.write_sidecar(photo, ["blue", "skirt", "sale"])
    assert keywords(sidecar.read_bytes()) == ["studio", "red", "sale", "blue", "skirt"]
    export.write_sidecar(photo, ["green"])
    assert keywords(sidecar.read_bytes()) == ["studio", "red", "green"]
    owned = ET.fromstring(sidecar.read_bytes()).find(f".//{{{NS_VITRINA}}}keywords")
    assert [li.text for li in owned.iter(RDF_LI)] == ["green"]


PACKET = b"""<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>
<!-- written by another tool -->
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Image::ExifTool 12.40">
  <!-- keywords below -->
  <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
    <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
      <?app-hint keep me?>
      <dc:subject><rdf:Bag><rdf:li>studio</rdf:li></rdf:Bag></dc:subject>
    </rdf:Description>
  </rdf:RDF>
</x:xmpmeta>
<!-- trailing note -->
<?xpacket end="w"?>
"""


def test_xpacket_wrapper_and_comments_are_kept(tmp_path: Path) -> None:
    photo = tmp_path / "a.jpg"
    sidecar = tmp_path / "a.jpg.xmp"
    sidecar.write_bytes(PACKET)
    export.write_sidecar(photo, ["red"])
    data = sidecar.read_bytes()
    assert data.startswith(b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>\n')
    assert data.endswith(b'</x:xmpmeta>\n<!-- trailing note -->\n<?xpacket end="w"?>\n')
    for kept in (b"<!-- written by another tool -->", b"<!-- keywords below -->", b"app-hint"):
        assert kept in data
    assert keywords(data) == ["studio", "red"]


def test_temp_files_a_killed_run_left_are_removed(tmp_path: Path) -> None:
    stale = tmp_path / ".a.jpg.xmp.k2j4h5g1.tmp"
    fresh = tmp_path / ".b.jpg.xmp.abcdefgh.tmp"
    other = tmp_path / ".notes.txt.abcdefgh.tmp"
    for path in (stale, fresh, other):
        path.write_bytes(b"<x")
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    os.utime(other, (hour_ago, hour_ago))
    report = export.write_sidecars([record(path=str(tmp_path / "a.jpg"))])
    assert report.stale_removed == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [fresh.name, other.name, "a.jpg.xmp"]
    )
