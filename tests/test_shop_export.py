"""Shop exports parsed with the platforms' documented rules: Shopify's product CSV (its
columns, handles, comma-separated tags, one row per image of a product) and Google Merchant
Center's feed (tab-separated text and RSS 2.0 XML: attribute names, id <= 50 characters,
numeric google_product_category, ASCII image URLs <= 2,000 characters, colour <= 40
characters without ',' or '/'), including photos with odd characters; what cannot go in
is counted with its reason; files are written atomically and escaped against formulas."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import pytest
from cli_fixtures import Run

from app import cli
from app.core.catalog import ExportRow, PhotoRow
from app.core.errors import VitrinaError
from app.core.shop_export import (
    GOOGLE_COLUMNS,
    GOOGLE_NAMESPACE,
    SHOPIFY_COLUMNS,
    build_export,
    check_image_prefix,
    export_for_shop,
    handle_for,
    preview,
)
from app.core.taxonomy import load_map

PREFIX = "https://cdn.example.com/shoots/2026-11/"
FORMULA = ("=", "+", "-", "@")
ODD = 'été "look" #7, =cheap; 50%.jpg'


def _row(
    photo_id: int,
    path: str,
    accepted: dict[str, str],
    free_tags: tuple[str, ...] = (),
    product: int | None = None,
) -> ExportRow:
    photo = PhotoRow(
        photo_id, path, f"{photo_id:064x}", 1, 10, 10, datetime.now(UTC), "reviewed", "b", product
    )
    return ExportRow(photo, accepted, free_tags, {}, {})


def _rows() -> list[ExportRow]:
    return [
        _row(1, "/shoots/a/dress.jpg", {"category": "dress", "colour": "red", "pattern": "floral"}),
        _row(2, f"/shoots/a/{ODD}", {"category": "dress", "colour": "navy"}, ("=sale", "a, b")),
        _row(3, "/shoots/a/back.jpg", {"colour": "red"}, product=3),  # a product's 2nd image
        _row(4, "/shoots/a/front.jpg", {"category": "t-shirt", "colour": "white"}, product=3),
        _row(5, "/shoots/a/vest.jpg", {"category": "undershirt", "colour": "white"}),
        _row(6, "/shoots/a/kaftan.jpg", {"category": "kaftan", "colour": "maroon"}),
        _row(7, "/shoots/a/untagged.jpg", {"colour": "black"}),
        _row(8, "/shoots/b/dress.jpg", {"category": "dress", "colour": "@risk"}),
    ]


def _shopify_products(text: str) -> dict[str, list[dict[str, str]]]:
    """Shopify's CSV rules: the header names its columns, every row has the columns, rows of
    one product share its URL handle and come together, the first carries the title."""
    reader = csv.DictReader(io.StringIO(text))
    assert tuple(reader.fieldnames) == SHOPIFY_COLUMNS
    products: dict[str, list[dict[str, str]]] = {}
    last = None
    for row in reader:
        assert None not in row and len(row) == len(SHOPIFY_COLUMNS)
        handle = row["URL handle"]
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", handle), handle  # letters, digits, dashes
        assert handle == last or handle not in products  # a product's rows come together
        products.setdefault(handle, []).append(row)
        last = handle
        if row["Product image URL"]:
            assert row["Product image URL"].isascii() and " " not in row["Product image URL"]
            assert row["Image position"] == str(len(products[handle]))
    for rows in products.values():
        assert rows[0]["Title"] and rows[0]["Product category"] and rows[0]["Status"] == "draft"
        assert all(not r["Title"] and not r["Tags"] for r in rows[1:])
    return products


def _no_formula(cells: list[str]) -> None:
    for cell in cells:
        assert not cell.startswith(FORMULA), cell


def test_shopify_csv_follows_shopify_rules_with_odd_characters_and_products() -> None:
    export = build_export(_rows(), load_map(), "shopify", PREFIX)
    products = _shopify_products(export.text())
    assert list(products) == ["dress-1", "ete-look-7-cheap-50-2", "back-3"]
    dress = products["dress-1"][0]
    assert dress["Title"] == "Red floral dress"
    assert dress["Product category"] == "Apparel & Accessories > Clothing > Dresses"
    assert dress["Tags"].split(", ") == ["dress", "red", "floral"]
    assert dress["Product image URL"] == PREFIX + "dress.jpg"
    odd = products["ete-look-7-cheap-50-2"][0]
    assert (
        odd["Product image URL"]
        == PREFIX + "%C3%A9t%C3%A9%20%22look%22%20%237%2C%20%3Dcheap%3B%2050%25.jpg"
    )
    assert odd["Tags"] == "dress, navy, =sale"  # 'a, b' would be two Shopify tags: left out
    assert any("'a, b' holds a comma" in note for note in export.notes)
    front = products["back-3"]  # the grouped product: tags of its photo with a category
    assert front[0]["Title"] == "White t-shirt" and [r["Product image URL"] for r in front] == [
        PREFIX + "back.jpg",
        PREFIX + "front.jpg",
    ]
    reasons = export.reasons()
    assert sum(reasons.values()) == len(export.left_out) == 4
    assert {item.photo_id for item in export.left_out} == {5, 6, 7, 8}
    assert any("no Shopify category for 'undershirt'" in r for r in reasons)
    assert any("no taxonomy row for category 'kaftan'" in r for r in reasons)
    assert any(r.startswith("no accepted category") for r in reasons)
    assert any("file name 'dress.jpg' is also photo 1's" in r for r in reasons)
    assert (export.products, export.photos) == (3, 4)
    _no_formula([cell for rows in products.values() for row in rows for cell in row.values()])


def _google_tsv(text: str) -> list[dict[str, str]]:
    """Google's tab-delimited rules: a header of attribute names, tab between cells, one
    product per line, no tab or line break inside a value."""
    lines = text.split("\n")
    assert lines[-1] == "" and all("\r" not in line for line in lines)
    header = lines[0].split("\t")
    assert tuple(header) == GOOGLE_COLUMNS
    items = []
    for line in lines[1:-1]:
        cells = line.split("\t")
        assert len(cells) == len(header)
        items.append(dict(zip(header, cells, strict=True)))
    return items


def _google_rules(item: dict[str, list[str]]) -> None:
    [identifier] = item["id"]
    assert 1 <= len(identifier) <= 50
    [category] = item["google_product_category"]
    assert category.isdigit()
    for url in item.get("image_link", []) + item.get("additional_image_link", []):
        assert url.startswith("https://") and url.isascii() and len(url) <= 2000
        assert " " not in url and "," not in url
    assert len(item.get("additional_image_link", [])) <= 10
    for colour in item.get("color", []):
        assert 1 <= len(colour) <= 40 and "," not in colour and "/" not in colour
    for pattern in item.get("pattern", []):
        assert len(pattern) <= 100
    for product_type in item.get("product_type", []):
        assert len(product_type) <= 750 and "," not in product_type


def test_google_tsv_and_xml_follow_merchant_center_rules() -> None:
    rows = _rows()
    tsv = build_export(rows, load_map(), "google", PREFIX)
    items = _google_tsv(tsv.text())
    ids = [item["id"] for item in items]
    assert ids == ["dress-1", "ete-look-7-cheap-50-2", "back-3", "vest-5"]  # Google has a vest
    assert len(set(ids)) == len(ids)
    for item in items:
        _google_rules(
            {
                key: (
                    [] if not value else value.split(",") if key.endswith("image_link") else [value]
                )
                for key, value in item.items()
            }
        )
    by_id = {item["id"]: item for item in items}
    assert by_id["dress-1"]["google_product_category"] == "2271"
    assert (by_id["dress-1"]["color"], by_id["dress-1"]["pattern"]) == ("red", "floral")
    assert by_id["back-3"]["image_link"] == PREFIX + "back.jpg"
    assert by_id["back-3"]["additional_image_link"] == PREFIX + "front.jpg"
    assert by_id["vest-5"]["google_product_category"] == "2745"
    assert "gender" not in tsv.header and "size" not in tsv.header and "price" not in tsv.header
    _no_formula([cell for item in items for cell in item.values()])

    xml = build_export(rows, load_map(), "google-xml", PREFIX)
    root = ElementTree.fromstring(xml.text().encode("utf-8"))
    assert root.tag == "rss" and root.get("version") == "2.0"
    g = f"{{{GOOGLE_NAMESPACE}}}"
    parsed = []
    for element in root.find("channel").findall("item"):
        item: dict[str, list[str]] = {}
        for child in element:
            assert child.tag.startswith(g) and child.tag[len(g) :] in GOOGLE_COLUMNS
            item.setdefault(child.tag[len(g) :], []).append(child.text)
        _google_rules(item)
        parsed.append(item)
    assert [item["id"][0] for item in parsed] == ids
    assert parsed[2]["additional_image_link"] == [PREFIX + "front.jpg"]


def test_a_value_a_spreadsheet_would_run_is_escaped_and_a_colour_google_refuses_is_left_out() -> (
    None
):
    rows = [
        _row(1, "/s/x.jpg", {"category": "dress", "colour": "-red"}, ("@cmd",)),
        _row(2, "/s/y.jpg", {"category": "dress", "colour": "red/green/blue"}),
    ]
    shopify = build_export(rows, load_map(), "shopify").text()
    first = next(csv.DictReader(io.StringIO(shopify)))
    assert first["Title"] == "'-red dress"  # a spreadsheet shows it, never runs it
    google = build_export(rows, load_map(), "google")
    items = _google_tsv(google.text())
    assert items[0]["color"] == "'-red"
    assert items[1]["color"] == "" and any("red/green/blue" in n for n in google.notes)
    header, shown = preview(google, rows=1)
    assert header == list(GOOGLE_COLUMNS) and shown[0][GOOGLE_COLUMNS.index("color")] == "'-red"


def test_handles_are_stable_unique_and_fit_google_ids() -> None:
    long = _row(123456, "/x/" + "Ünïcödé look " * 20 + ".jpg", {"category": "dress"})
    handle = handle_for(long)
    assert handle == handle_for(long) and handle.endswith("-123456") and len(handle) <= 50
    assert re.fullmatch(r"[a-z0-9-]+", handle) and handle.startswith("unicode-look")
    assert handle_for(_row(5, "/x/???.jpg", {})) == "photo-5"


def test_an_image_prefix_must_be_a_web_address() -> None:
    assert check_image_prefix(" https://cdn.example.com/a/ ") == "https://cdn.example.com/a/"
    for bad in ("cdn.example.com/a", "file:///tmp/a", "https://cdn.example.com/my shoot/"):
        with pytest.raises(VitrinaError, match="not a web address"):
            check_image_prefix(bad)
    with pytest.raises(VitrinaError, match="Unknown shop format"):
        build_export([], load_map(), "amazon")


def test_the_cli_writes_atomically_and_counts_what_was_left_out(
    tmp_path: Path, tiny_bundle: Path, photos_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VITRINA_HOME", str(tmp_path / "home"))
    run = Run(tmp_path / "c.sqlite", tiny_bundle).full

    assert run("import", str(photos_dir))[0] == cli.OK
    assert run("set", "1", "category", "dress")[0] == cli.OK
    assert run("set", "2", "category", "pants")[0] == cli.OK  # no row: the map says trousers
    target = tmp_path / "products.csv"
    target.write_text("the old file\n")
    code, out, err = run("export", "--format", "shopify", "-o", str(target), "--image-url", PREFIX)
    assert code == cli.OK and out == ""
    products = _shopify_products(target.read_text())
    assert len(products) == 1 and next(iter(products)).endswith("-1")
    assert "left out: 1 photo(s): no taxonomy row for category 'pants'" in err
    assert "left out: 6 photo(s): no accepted category" in err
    assert "1 product(s) from 1 photo(s)" in err
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".products.csv")]  # no temp

    def refuse(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("app.core.export.os.replace", refuse)
    code, _, err = run("export", "--format", "google", "-o", str(target))
    assert code == cli.FATAL and f"{target}: cannot write the export" in err
    assert len(_shopify_products(target.read_text())) == 1  # the old file stays whole
    monkeypatch.undo()
    monkeypatch.setenv("VITRINA_HOME", str(tmp_path / "home"))
    code, out, _ = run("export", "--format", "google")
    assert code == cli.OK and _google_tsv(out)[0]["google_product_category"] == "2271"
    code, _, err = run("export", "--format", "google", "--image-url", "ftp://x")
    assert code == cli.FATAL and "not a web address" in err


def test_export_for_shop_reads_the_catalog_and_its_overrides(
    tmp_path: Path, tiny_bundle: Path, photos_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core.context import AppContext
    from app.core.importer import import_paths

    monkeypatch.setenv("VITRINA_HOME", str(tmp_path / "home"))
    with AppContext.open(tmp_path / "c.sqlite", tiny_bundle) as ctx:
        report = import_paths([photos_dir], ctx)
        first, second = report.added[:2]
        ctx.catalog.set_tag(first, "category", "pants")
        ctx.catalog.set_tag(second, "category", "pants")
        ctx.catalog.group_photos([first, second])
        ctx.catalog.set_taxonomy_override(
            "pants", "204", "Apparel & Accessories > Clothing > Pants"
        )
        export = export_for_shop(ctx.catalog, "google", image_prefix=PREFIX)
    [item] = _google_tsv(export.text())
    assert item["google_product_category"] == "204" and item["product_type"] == "pants"
    assert item["additional_image_link"].startswith(PREFIX)
    assert export.photos == 2 and export.products == 1
