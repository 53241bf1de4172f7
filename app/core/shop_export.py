"""Exports for shop platforms: a Shopify product CSV, a Google Merchant Center feed (tab-
separated text or RSS 2.0 XML), built from the accepted tags, the taxonomy map and the
products the staff grouped; what cannot go in is counted with its reason.

A product is one photo, or the photos grouped into one (``photos.product``); its tags are
those of its first photo with an accepted category, the others add images. Only what
Vitrina knows goes in (never a gender, size or price): the Google feed is a supplemental
data source, matched to the shop's primary feed by ``id`` (the product's handle).
Text cells a spreadsheet would run as a formula are escaped as in the CSV export; every
file is written atomically.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import TYPE_CHECKING
from urllib.parse import quote
from xml.etree import ElementTree

from app.core.catalog.rows import ExportRow
from app.core.errors import VitrinaError
from app.core.export import escape_cell, write_atomic
from app.core.taxonomy import (
    CATEGORY_FAMILY,
    COLOUR_FAMILY,
    PATTERN_FAMILY,
    TaxonomyMap,
    taxonomy_for,
)

if TYPE_CHECKING:
    from app.core.catalog import Catalog

FORMATS = {
    "shopify": "Shopify product CSV",
    "google": "Google Merchant Center feed (tab-separated)",
    "google-xml": "Google Merchant Center feed (RSS 2.0 XML)",
}
SHOPIFY_COLUMNS = (
    "URL handle",
    "Title",
    "Product category",
    "Type",
    "Tags",
    "Status",
    "Product image URL",
    "Image position",
    "Image alt text",
)
GOOGLE_COLUMNS = (
    "id",
    "image_link",
    "additional_image_link",
    "google_product_category",
    "product_type",
    "color",
    "pattern",
)
GOOGLE_NAMESPACE = "http://base.google.com/ns/1.0"
# Google's limits (support.google.com/merchants, one article per attribute).
GOOGLE_ID_MAX = 50
GOOGLE_URL_MAX = 2000
GOOGLE_ADDITIONAL_IMAGES = 10
GOOGLE_COLOR_MAX = 40  # per colour (100 in all; Vitrina sends one)
GOOGLE_TEXT_MAX = 100  # pattern
GOOGLE_PRODUCT_TYPE_MAX = 750
HANDLE_SLUG_MAX = 40  # + "-<photo id>": within Google's 50 characters
SHOPIFY_TAG_SEPARATOR = ", "
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class LeftOut:
    """A photo the export could not include, and why (a sentence saying what to do)."""

    photo_id: int
    path: str
    reason: str


@dataclass
class ShopExport:
    """An export ready to write: its table (or XML text), what was left out, and notes on
    values the platform's rules kept out of a cell (a tag holding a comma)."""

    fmt: str
    header: list[str]
    rows: list[list[str]]
    products: int = 0
    photos: int = 0
    left_out: list[LeftOut] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    xml: str = ""

    def reasons(self) -> Counter[str]:
        """How many photos were left out, per reason."""
        return Counter(item.reason for item in self.left_out)

    def text(self) -> str:
        if self.fmt == "google-xml":
            return self.xml
        out = io.StringIO()
        if self.fmt == "shopify":
            writer = csv.writer(out, lineterminator="\n")
        else:
            writer = csv.writer(
                out, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE, escapechar=None
            )
        writer.writerow(self.header)
        for row in self.rows:
            cells = [escape_cell(cell) for cell in row]
            if self.fmt != "shopify":  # a tab or line break would end the cell or the row
                cells = [_CONTROL.sub(" ", cell) for cell in cells]
            writer.writerow(cells)
        return out.getvalue()


@dataclass
class _Product:
    """Photos exported as one product: ``main`` carries the tags, all give images; the
    handle is its first photo's, so it stays while photos are tagged or added."""

    main: ExportRow
    photos: list[ExportRow]
    handle: str


def handle_for(row: ExportRow) -> str:
    """A stable, unique handle: the file name in lower-case ASCII letters, digits and dashes
    (accents folded), then the photo id. Shopify's URL handle; Google's id."""
    name = unicodedata.normalize("NFKD", PurePath(row.photo.path).stem)
    slug = _NOT_SLUG.sub("-", name.encode("ascii", "ignore").decode().lower()).strip("-")
    slug = slug[:HANDLE_SLUG_MAX].rstrip("-") or "photo"
    return f"{slug}-{row.photo.id}"


def title_for(row: ExportRow) -> str:
    """The product's title from its accepted tags: colour, pattern, category."""
    words = [row.accepted.get(f) for f in (COLOUR_FAMILY, PATTERN_FAMILY, CATEGORY_FAMILY)]
    text = " ".join(word for word in words if word)
    return text[:1].upper() + text[1:]


def image_url(prefix: str, path: str) -> str:
    """Where the shop finds the photo: the prefix (the folder it was uploaded to), then its
    file name, percent-encoded so the URL is ASCII as Google requires."""
    return prefix.rstrip("/") + "/" + quote(PurePath(path).name)


def check_image_prefix(prefix: str) -> str:
    """An image URL prefix as given: http(s), ASCII, no spaces; VitrinaError otherwise."""
    value = prefix.strip()
    if not re.fullmatch(r"https?://[!-~]+", value):
        raise VitrinaError(
            f"{prefix!r} is not a web address for the photos: give the http:// or https:// "
            "address of the folder they are uploaded to, such as "
            "https://cdn.example.com/shoots/2026-11/ (no spaces; other characters "
            "percent-encoded)."
        )
    return value


def _products(rows: Iterable[ExportRow], left_out: list[LeftOut]) -> list[_Product]:
    """Photos by product (a grouped product, else each photo alone), in catalog order; a
    product none of whose photos has an accepted category is left out."""
    groups: dict[int, list[ExportRow]] = {}
    for row in rows:
        groups.setdefault(row.photo.product or row.photo.id, []).append(row)
    products = []
    for key in sorted(groups):
        photos = groups[key]
        main = next((p for p in photos if p.accepted.get(CATEGORY_FAMILY)), None)
        if main is None:
            left_out += [
                LeftOut(
                    p.photo.id,
                    p.photo.path,
                    "no accepted category: accept or set one (A, C or `vitrina set`)",
                )
                for p in photos
            ]
            continue
        products.append(_Product(main, photos, handle_for(photos[0])))
    return products


def _platform_category(
    product: _Product, taxonomy: TaxonomyMap, platform: str, left_out: list[LeftOut]
) -> str | None:
    """The product's category on ``platform`` ("google": its id; "shopify": its path), or
    None with every photo of the product left out saying why."""
    label = product.main.accepted[CATEGORY_FAMILY]
    row = taxonomy.row(label)
    category = None if row is None else getattr(row, platform)
    value = None
    if category is not None:
        value = category.id if platform == "google" else category.path
    if value:
        return value
    name = "Google" if platform == "google" else "Shopify"
    if row is None:
        reason = (
            f"no taxonomy row for category {label!r} (a label of the shop's own): add one "
            f"with `vitrina taxonomy set {label} --google ID --shopify PATH` or in Settings"
        )
    else:
        flag = "--google ID" if platform == "google" else "--shopify PATH"
        reason = (
            f"no {name} category for {label!r} in the taxonomy map: set one with "
            f"`vitrina taxonomy set {label} {flag}` or in Settings"
        )
    left_out += [LeftOut(p.photo.id, p.photo.path, reason) for p in product.photos]
    return None


def _images(
    product: _Product, prefix: str | None, names: dict[str, int], left_out: list[LeftOut]
) -> list[tuple[ExportRow, str]]:
    """(photo, image URL) of a product's photos; a photo whose file name another exported
    photo has already (they are uploaded to one folder) is left out."""
    if prefix is None:
        return [(photo, "") for photo in product.photos]
    images = []
    for photo in product.photos:
        name = PurePath(photo.photo.path).name
        url = image_url(prefix, photo.photo.path)
        if names.setdefault(name, photo.photo.id) != photo.photo.id:
            reason = (
                f"file name {name!r} is also photo {names[name]}'s, and the shop's images "
                "sit in one folder: rename one of the files"
            )
        elif len(url) > GOOGLE_URL_MAX:
            reason = f"its image URL is longer than {GOOGLE_URL_MAX:,} characters"
        else:
            images.append((photo, url))
            continue
        left_out.append(LeftOut(photo.photo.id, photo.photo.path, reason))
    return images


def _shopify(products: list[_Product], taxonomy: TaxonomyMap, prefix: str | None, out: ShopExport):
    names: dict[str, int] = {}
    for product in products:
        category = _platform_category(product, taxonomy, "shopify", out.left_out)
        if category is None:
            continue
        images = _images(product, prefix, names, out.left_out)
        if prefix is None:
            images = [(product.main, "")]  # one row: the product, without images
        elif not images:
            continue
        tags = []
        for tag in [*product.main.accepted.values(), *product.main.free_tags]:
            if "," in tag:
                out.notes.append(
                    f"photo {product.main.photo.id}: tag {tag!r} holds a comma, which "
                    "Shopify reads as two tags; it was left out of Tags"
                )
            elif tag not in tags:
                tags.append(tag)
        title = title_for(product.main)
        for position, (_photo, url) in enumerate(images, start=1):
            first = position == 1
            out.rows.append(
                [
                    product.handle,
                    title if first else "",
                    category if first else "",
                    product.main.accepted[CATEGORY_FAMILY] if first else "",
                    SHOPIFY_TAG_SEPARATOR.join(tags) if first else "",
                    "draft" if first else "",
                    url,
                    str(position) if url else "",
                    title if url else "",
                ]
            )
        out.products += 1
        out.photos += len(images) if prefix else len(product.photos)


def _google_items(
    products: list[_Product], taxonomy: TaxonomyMap, prefix: str | None, out: ShopExport
) -> list[dict[str, list[str]]]:
    """Per product: attribute -> values (additional_image_link may repeat)."""
    names: dict[str, int] = {}
    items = []
    for product in products:
        category = _platform_category(product, taxonomy, "google", out.left_out)
        if category is None:
            continue
        images = _images(product, prefix, names, out.left_out)
        if prefix is not None and not images:
            continue
        accepted = product.main.accepted
        item = {
            "id": [product.handle],
            "image_link": [url for _, url in images[:1] if url],
            "additional_image_link": [
                url for _, url in images[1 : 1 + GOOGLE_ADDITIONAL_IMAGES] if url
            ],
            "google_product_category": [category],
            "product_type": [accepted[CATEGORY_FAMILY][:GOOGLE_PRODUCT_TYPE_MAX]],
            "color": [],
            "pattern": [],
        }
        colour, pattern = accepted.get(COLOUR_FAMILY), accepted.get(PATTERN_FAMILY)
        for attribute, value, limit in (
            ("color", colour, GOOGLE_COLOR_MAX),
            ("pattern", pattern, GOOGLE_TEXT_MAX),
        ):
            if value and len(value) <= limit and "," not in value and "/" not in value:
                item[attribute] = [value]
            elif value:
                out.notes.append(
                    f"photo {product.main.photo.id}: {attribute} {value!r} breaks Google's "
                    f"rules (at most {limit} characters, no ',' or '/'); left out"
                )
        items.append(item)
        out.products += 1
        out.photos += len(images)
    return items


def _google_xml(items: list[dict[str, list[str]]]) -> str:
    """RSS 2.0 with Google's namespace, one <item> per product."""
    ElementTree.register_namespace("g", GOOGLE_NAMESPACE)
    rss = ElementTree.Element("rss", {"version": "2.0"})
    channel = ElementTree.SubElement(rss, "channel")
    ElementTree.SubElement(channel, "title").text = "Vitrina"
    ElementTree.SubElement(
        channel, "description"
    ).text = "Categories, colours and patterns from Vitrina (a supplemental feed)"
    for item in items:
        element = ElementTree.SubElement(channel, "item")
        for attribute in GOOGLE_COLUMNS:
            for value in item[attribute]:
                child = ElementTree.SubElement(element, f"{{{GOOGLE_NAMESPACE}}}{attribute}")
                child.text = value
    ElementTree.indent(rss)
    body = ElementTree.tostring(rss, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def build_export(
    rows: Iterable[ExportRow],
    taxonomy: TaxonomyMap,
    fmt: str,
    image_prefix: str | None = None,
) -> ShopExport:
    """The export of ``fmt`` (FORMATS) from the catalog's rows; ``image_prefix`` the web
    folder the photos are uploaded to (None: no image columns filled)."""
    if fmt not in FORMATS:
        raise VitrinaError(f"Unknown shop format {fmt!r}; use one of {', '.join(FORMATS)}.")
    prefix = check_image_prefix(image_prefix) if image_prefix else None
    left_out: list[LeftOut] = []
    products = _products(rows, left_out)
    if fmt == "shopify":
        out = ShopExport(fmt, list(SHOPIFY_COLUMNS), [], left_out=left_out)
        _shopify(products, taxonomy, prefix, out)
        return out
    out = ShopExport(fmt, list(GOOGLE_COLUMNS), [], left_out=left_out)
    items = _google_items(products, taxonomy, prefix, out)
    out.rows = [
        [
            ",".join(item[column]) if column == "additional_image_link" else "".join(item[column])
            for column in GOOGLE_COLUMNS
        ]
        for item in items
    ]
    if fmt == "google-xml":
        out.xml = _google_xml(items)
    return out


def write_export(export: ShopExport, target: Path) -> None:
    """The export's file, written atomically (the old file stays whole if this fails)."""
    try:
        write_atomic(Path(target), export.text().encode("utf-8"))
    except OSError as exc:
        raise VitrinaError(
            f"{target}: cannot write the export ({exc.strerror or exc}); choose a writable folder."
        ) from None


def export_for_shop(
    catalog: Catalog, fmt: str, target: Path | None = None, image_prefix: str | None = None
) -> ShopExport:
    """The whole catalog as ``fmt``, written atomically to ``target`` when given."""
    export = build_export(catalog.export_rows(), taxonomy_for(catalog), fmt, image_prefix)
    if target is not None:
        write_export(export, target)
    return export


def preview(export: ShopExport, rows: int = 8) -> tuple[list[str], Sequence[list[str]]]:
    """The header and first rows, as the file will hold them (escaped)."""
    return export.header, [[escape_cell(cell) for cell in row] for row in export.rows[:rows]]
