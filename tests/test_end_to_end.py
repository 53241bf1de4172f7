"""Real photos and bad files -> import -> tags -> catalog -> index -> similar -> export."""

from __future__ import annotations

import csv
import io
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from app import cli
from app.core.catalog import Catalog
from app.core.xmp import NS_RDF

pytestmark = pytest.mark.slow


def vitrina(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(args), out=out, err=err)
    assert "Traceback" not in out.getvalue() + err.getvalue()
    return code, out.getvalue(), err.getvalue()


def test_folder_to_tags_to_similar_to_exports(
    tmp_path: Path, tiny_bundle: Path, photos_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VITRINA_HOME", str(tmp_path / "home"))
    shoot = photos_dir
    (shoot / "sub folder").mkdir()
    shutil.copy(shoot / "dress.jpg", shoot / "sub folder" / "платье 👗.jpg")
    (shoot / "broken.jpg").write_bytes((shoot / "hat.jpg").read_bytes()[:200])
    (shoot / "zero.png").write_bytes(b"")
    (shoot / "readme.txt").write_text("not a photo, skipped silently")
    (shoot / "loop").symlink_to(shoot)
    db = tmp_path / "catalog.sqlite"
    base = ["--db", str(db), "--bundle", str(tiny_bundle)]

    code, out, err = vitrina(*base, "import", str(shoot))
    assert code == cli.SOME_FAILED
    assert "Imported 8 photo(s), 1 duplicate(s), 3 failed" in out
    for name in ("broken.jpg", "zero.png", "loop"):
        assert name in err

    with Catalog.open(db) as catalog:
        assert catalog.count() == 8
        photos = {Path(p.path).name: p for p in catalog.list_photos(limit=100)}
        dress = photos["dress.jpg"]
        families = {p.family for p in catalog.predictions(dress.id) if p.rank == 1}
        assert families == {"category", "colour"}
        assert sum(catalog.stats()["embeddings"].values()) == 8

    code, out, _ = vitrina(*base, "similar", str(dress.id), "-k", "3")
    assert code == cli.OK
    neighbours = [line for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert len(neighbours) == 3 and f"photo {dress.id}:" not in out.split("\n", 1)[1]

    code, out, _ = vitrina(*base, "similar", str(shoot / "sub folder" / "платье 👗.jpg"), "-k", "1")
    assert code == cli.OK
    assert "1.000" not in out  # the query's own copy is excluded, not returned as a twin

    assert vitrina(*base, "accept", str(dress.id), "--all-confident")[0] == cli.OK
    assert vitrina(*base, "set", str(dress.id), "category", "dress")[0] == cli.OK
    assert vitrina(*base, "tag", str(dress.id), "+sale")[0] == cli.OK

    code, out, _ = vitrina(*base, "export", "--format", "csv")
    rows = {Path(r["path"]).name: r for r in csv.DictReader(io.StringIO(out))}
    assert len(rows) == 8
    assert rows["dress.jpg"]["category"] == "dress"
    assert rows["dress.jpg"]["free_tags"] == "'+sale"
    assert rows["hat.jpg"]["category_suggestion"]

    export_file = tmp_path / "tags.json"
    assert vitrina(*base, "export", "--format", "json", "-o", str(export_file))[0] == cli.OK
    data = {Path(p["path"]).name: p for p in json.loads(export_file.read_text(encoding="utf-8"))}
    assert data["dress.jpg"]["tags"]["category"] == "dress"
    assert set(data["hat.jpg"]["suggestions"]) == {"category", "colour"}

    sidecar = shoot / "dress.jpg.xmp"
    sidecar.write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
        '22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/'
        '1.1/"><dc:subject><rdf:Bag><rdf:li>studio</rdf:li></rdf:Bag></dc:subject>'
        "</rdf:Description></rdf:RDF></x:xmpmeta>",
        encoding="utf-8",
    )
    code, out, _ = vitrina(*base, "xmp")
    assert code == cli.OK
    words = [li.text for li in ET.parse(sidecar).getroot().iter(f"{{{NS_RDF}}}li")]
    assert words[0] == "studio" and "dress" in words and "+sale" in words
