"""THE place a category label gets its shop platforms' categories: the shipped taxonomy map
(taxonomy.json, read from Shopify's published mapping to Google's taxonomy, its version in
the file) with this catalog's overrides over it. A label without a row (a shop's own) is
reported by whoever asks, never guessed.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core.errors import VitrinaError

if TYPE_CHECKING:
    from app.core.catalog import Catalog
    from app.core.catalog.products import OverrideRow

MAP_PATH = Path(__file__).with_name("taxonomy.json")
# The families the shop exports read (the bundle's names for them).
CATEGORY_FAMILY = "category"
COLOUR_FAMILY = "colour"
PATTERN_FAMILY = "pattern"
SHOPIFY_PATH_MAX = 500
_GOOGLE_ID = re.compile(r"[0-9]{1,7}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class PlatformCategory:
    """One platform's category: its id (Shopify GID, Google number) and full path, either of
    which may be unknown for a catalog's own row (a Google id typed alone)."""

    id: str | None
    path: str | None

    @property
    def shown(self) -> str:
        if self.path and self.id:
            return f"{self.path} ({self.id})"
        return self.path or f"id {self.id}"


@dataclass(frozen=True)
class TaxonomyRow:
    """A category label's platform categories; None where a platform has none for it."""

    label: str
    google: PlatformCategory | None
    shopify: PlatformCategory | None
    source: str  # "map", or "catalog" where this catalog set a platform's category
    note: str = ""
    unverified: str = ""  # why the map leaves a platform out


@dataclass(frozen=True)
class TaxonomyMap:
    """The map's rows by label, and where they were read (``versions``)."""

    rows: Mapping[str, TaxonomyRow]
    versions: str

    def row(self, label: str) -> TaxonomyRow | None:
        return self.rows.get(label)

    def with_overrides(self, overrides: Mapping[str, OverrideRow]) -> TaxonomyMap:
        """This catalog's categories over the map's: a platform the override names
        replaces the map's for that label, the other stays."""
        rows = dict(self.rows)
        for label, override in overrides.items():
            base = rows.get(label) or TaxonomyRow(label, None, None, "catalog")
            google, shopify = base.google, base.shopify
            if override.google_id is not None:
                same = base.google is not None and base.google.id == override.google_id
                google = PlatformCategory(override.google_id, base.google.path if same else None)
            if override.shopify_path is not None:
                shopify = PlatformCategory(None, override.shopify_path)
            rows[label] = dataclasses.replace(
                base, google=google, shopify=shopify, source="catalog"
            )
        return TaxonomyMap(rows, self.versions)


def _category(value: Any, where: str) -> PlatformCategory | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not value.get("path") or not value.get("id"):
        raise VitrinaError(
            f"{MAP_PATH}: {where} needs an 'id' and a 'path' (or null); the file is damaged. "
            "Reinstall Vitrina or restore the file from its repository."
        )
    return PlatformCategory(str(value["id"]), str(value["path"]))


@cache
def load_map(path: Path = MAP_PATH) -> TaxonomyMap:
    """The shipped map; VitrinaError naming the file when it cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        categories = data["categories"]
        sources = data["sources"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise VitrinaError(
            f"{path}: the taxonomy map cannot be read ({exc}). Reinstall Vitrina or restore "
            "the file from its repository."
        ) from None
    rows = {
        label: TaxonomyRow(
            label,
            _category(entry.get("google"), f"{label}: google"),
            _category(entry.get("shopify"), f"{label}: shopify"),
            "map",
            entry.get("note", ""),
            entry.get("unverified", ""),
        )
        for label, entry in categories.items()
    }
    shopify, google = sources["shopify"], sources["google"]
    versions = (
        f"{shopify['taxonomy']} {shopify['version']} and {google['taxonomy']} "
        f"{google['version']}, read {shopify['read_on']} from {shopify['repository']}"
    )
    return TaxonomyMap(rows, versions)


def taxonomy_for(catalog: Catalog) -> TaxonomyMap:
    """The map with this catalog's overrides over it."""
    return load_map().with_overrides(catalog.taxonomy_overrides())


def check_google_id(text: str) -> str:
    """A Google product category id as typed (digits, as Google's taxonomy numbers them)."""
    value = text.strip()
    if not _GOOGLE_ID.fullmatch(value):
        raise VitrinaError(
            f"{text!r} is not a Google product category id: it is a number such as 2271 "
            "(Apparel & Accessories > Clothing > Dresses); look it up in Google's taxonomy "
            "(support.google.com/merchants/answer/6324436)."
        )
    return value


def check_shopify_path(text: str) -> str:
    """A Shopify category's full path, its levels joined by ' > ' as Shopify writes them.

    Vitrina cannot check it against Shopify's whole taxonomy (it ships only its own rows):
    Shopify's import says when a path does not exist."""
    levels = [level.strip() for level in text.split(">")]
    if not all(levels) or _CONTROL.search(text):
        raise VitrinaError(
            f"{text!r} is not a Shopify category path: write its levels from the top, joined "
            "by '>', such as 'Apparel & Accessories > Clothing > Dresses' (see "
            "shopify.github.io/product-taxonomy)."
        )
    path = " > ".join(levels)
    if len(path) > SHOPIFY_PATH_MAX:
        raise VitrinaError(
            f"The Shopify category path is {len(path)} characters long; Shopify's are far "
            f"shorter (at most {SHOPIFY_PATH_MAX} here). Check what was pasted."
        )
    return path


def known_label(label: str, bundle_labels: Sequence[str], in_use: Mapping[str, int]) -> str:
    """``label`` as the catalog spells it, when it is a category label of the bundle (with
    what the catalog learned) or one the catalog's photos carry; else VitrinaError."""
    wanted = label.strip().lower()
    for known in [*bundle_labels, *in_use]:
        if known.lower() == wanted:
            return known
    shown = ", ".join(sorted({*bundle_labels, *in_use}))
    raise VitrinaError(
        f"{label!r} is not a category label of the bundle or of any photo in this catalog "
        f"(the labels: {shown}); check the spelling."
    )
