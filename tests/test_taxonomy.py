"""The taxonomy map: every category label has a row read from the published taxonomies (or
says why a platform is missing), a catalog can override a row, and unknown labels are
reported, never guessed."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from app import cli
from app.core.catalog import Catalog
from app.core.errors import VitrinaError
from app.core.taxonomy import (
    MAP_PATH,
    check_google_id,
    check_shopify_path,
    known_label,
    load_map,
    taxonomy_for,
)

REPO = Path(__file__).resolve().parents[1]


def _bundle_category_labels() -> set[str]:
    manifest = json.loads((REPO / "models_onnx" / "default" / "manifest.json").read_text())
    category = next(f for f in manifest["families"] if f["name"] == "category")
    families = json.loads((REPO / "training" / "labelmaps" / "families.json").read_text())
    return set(category["labels"]) | set(families["families"]["category"])


def test_every_category_label_has_a_row_with_its_sources_cited() -> None:
    data = json.loads(MAP_PATH.read_text())
    shopify, google = data["sources"]["shopify"], data["sources"]["google"]
    assert shopify["version"] == "2026-08" and re.fullmatch(r"[0-9a-f]{40}", shopify["commit"])
    assert google["version"] == "2021-09-21" and shopify["read_on"] == "2026-12-06"
    taxonomy = load_map()
    assert set(taxonomy.rows) == _bundle_category_labels()
    assert "2026-08" in taxonomy.versions and "2021-09-21" in taxonomy.versions
    for label, row in taxonomy.rows.items():
        for platform, category in (("google", row.google), ("shopify", row.shopify)):
            if category is None:  # never guessed: the row says why
                assert platform in row.unverified.lower(), label
                continue
            assert category.path.startswith("Apparel & Accessories > "), label
            if platform == "google":
                assert re.fullmatch(r"[0-9]+", category.id), label
            else:
                assert re.fullmatch(r"gid://shopify/TaxonomyCategory/aa(-[0-9]+)+", category.id)
    assert taxonomy.row("undershirt").shopify is None
    assert taxonomy.row("dress").google.id == "2271"


def test_a_catalog_override_replaces_one_platform_and_keeps_the_other(tmp_path: Path) -> None:
    with Catalog.open(tmp_path / "c.sqlite") as catalog:
        path = "Apparel & Accessories > Clothing > Dresses"
        catalog.set_taxonomy_override("undershirt", None, path)
        catalog.set_taxonomy_override("kaftan", "5388", None)
        rows = taxonomy_for(catalog)
        undershirt = rows.row("undershirt")
        assert undershirt.shopify.path == path and undershirt.source == "catalog"
        assert undershirt.google == load_map().row("undershirt").google
        assert rows.row("kaftan").google.id == "5388" and rows.row("kaftan").shopify is None
        assert rows.row("kaftan").google.shown == "id 5388"
        catalog.set_taxonomy_override("undershirt", None, None)  # back to the map
        assert taxonomy_for(catalog).row("undershirt").shopify is None
        assert set(catalog.taxonomy_overrides()) == {"kaftan"}


def test_typed_ids_paths_and_labels_are_checked_with_what_to_do() -> None:
    assert check_google_id(" 2271 ") == "2271"
    with pytest.raises(VitrinaError, match="number such as 2271"):
        check_google_id("Dresses")
    messy = "Apparel & Accessories>Clothing >  Dresses"
    assert check_shopify_path(messy) == "Apparel & Accessories > Clothing > Dresses"
    for bad in ("Apparel & Accessories > > Dresses", "Dresses\n", "> Dresses"):
        with pytest.raises(VitrinaError, match="levels from the top"):
            check_shopify_path(bad)
    with pytest.raises(VitrinaError, match="far shorter"):
        check_shopify_path(" > ".join(["Level"] * 90))
    assert known_label(" Dress ", ["dress", "skirt"], {}) == "dress"
    assert known_label("Kaftan", ["dress"], {"kaftan": 3}) == "kaftan"
    with pytest.raises(VitrinaError, match=r"'kimono' is not a category label.*dress, skirt"):
        known_label("kimono", ["dress", "skirt"], {})


def test_the_map_file_damaged_says_which_file_and_what_to_do(tmp_path: Path) -> None:
    broken = tmp_path / "taxonomy.json"
    broken.write_text('{"categories": {"dress": {"google": {"path": "x"}}}, "sources": {}}')
    with pytest.raises(VitrinaError, match=r"taxonomy.json.*damaged|cannot be read"):
        load_map(broken)


def _run(db: Path, bundle: Path, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["--db", str(db), "--bundle", str(bundle), *args], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_cli_sets_shows_and_resets_rows_and_refuses_unknown_labels(
    tmp_path: Path, tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VITRINA_HOME", str(tmp_path / "home"))
    db = tmp_path / "c.sqlite"
    code, _, err = _run(db, tiny_bundle, "taxonomy", "set", "kimono", "--google", "5388")
    assert code == cli.FATAL and "'kimono' is not a category label" in err
    code, _, err = _run(db, tiny_bundle, "taxonomy", "set", "dress")
    assert code == cli.FATAL and "--google ID" in err
    code, _, err = _run(db, tiny_bundle, "taxonomy", "set", "pants", "--google", "abc")
    assert code == cli.FATAL and "not a Google product category id" in err
    shopify = "Apparel & Accessories > Clothing > Pants"
    code, out, _ = _run(db, tiny_bundle, "taxonomy", "set", "Pants", "--shopify", shopify)
    assert code == cli.OK and f"Shopify {shopify}" in out
    code, out, _ = _run(db, tiny_bundle, "taxonomy", "set", "pants", "--google", "204")
    assert code == cli.OK and "Google id 204" in out and f"Shopify {shopify}" in out
    code, out, err = _run(db, tiny_bundle, "taxonomy")
    assert code == cli.OK and "2026-08" in out
    assert re.search(r"pants\s+Google: id 204.*\[this catalog's\]", out)
    code, out, _ = _run(db, tiny_bundle, "taxonomy", "reset", "pants")
    assert code == cli.OK and "back to the taxonomy map" in out
    code, out, err = _run(db, tiny_bundle, "taxonomy", "show")
    assert re.search(r"pants\s+no row: the shop's own label", out)
    assert "1 label(s) have no row" in err
