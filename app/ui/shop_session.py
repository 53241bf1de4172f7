"""The window's calls into app.core for the shop side: near-duplicate decisions, products,
the next uncertain photo, the taxonomy rows and the shop exports.

Everything here runs in worker threads (it waits on the database); the window gets plain
results through signals. No SQL lives here: only calls to the catalog and the core.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.core.catalog import Catalog, PhotoFilter
    from app.core.shop_export import ShopExport
    from app.core.taxonomy import TaxonomyMap


@dataclass(frozen=True)
class Grouped:
    """Photos made one product: its key (first photo's id) and every photo in it."""

    key: int
    members: list[int]


def look_alikes(catalog: Catalog, photo_id: int) -> list[int]:
    """The photos an open near-duplicate flag pairs with this one."""
    flags = catalog.near_duplicates([photo_id])
    return sorted({f.original_id if f.photo_id == photo_id else f.photo_id for f in flags})


def group(catalog: Catalog, photo_ids: Sequence[int]) -> Grouped | None:
    """One product of the selected photos; of a single photo, of it and its look-alikes
    (None when it has none)."""
    ids = list(photo_ids)
    if len(ids) == 1:
        ids += look_alikes(catalog, ids[0])
    if len(set(ids)) < 2:
        return None
    key = catalog.group_photos(ids)
    return Grouped(key, catalog.product_members([key])[key])


def next_uncertain_row(catalog: Catalog, flt: PhotoFilter, after_row: int) -> int:
    """The grid row (in the filter's order) of the next photo carrying the uncertain mark
    (an uncertain suggestion, not reviewed) after ``after_row``, wrapping to the top; -1
    when the grid shows none. Two id lists: quick at 100,000 photos."""
    if flt.review_state not in (None, "suggested"):
        return -1  # reviewed and new photos carry no uncertain mark
    ids = catalog.photo_ids(flt)
    marked = set(
        catalog.photo_ids(dataclasses.replace(flt, review_state="suggested", uncertain_only=True))
    )
    after = [row for row in range(after_row + 1, len(ids)) if ids[row] in marked]
    before = [row for row in range(0, min(after_row + 1, len(ids))) if ids[row] in marked]
    return (after or before or [-1])[0]


def taxonomy_rows(catalog: Catalog, labels: Sequence[str]) -> tuple[TaxonomyMap, list[str]]:
    """The map with this catalog's overrides, and the category labels to show: the map's,
    the bundle's and those the catalog's photos carry."""
    from app.core.taxonomy import CATEGORY_FAMILY, load_map, taxonomy_for

    in_use = catalog.labels_in_use(CATEGORY_FAMILY)
    shown = list(dict.fromkeys([*load_map().rows, *labels, *sorted(in_use)]))
    return taxonomy_for(catalog), shown


def save_overrides(catalog: Catalog, changes: Mapping[str, tuple[str | None, str | None]]) -> int:
    """This catalog's rows as edited in Settings: label -> (Google id, Shopify path)."""
    for label, (google, shopify) in changes.items():
        catalog.set_taxonomy_override(label, google, shopify)
    return len(changes)


def shop_export(catalog: Catalog, fmt: str, image_prefix: str | None) -> ShopExport:
    """The export as it would be written (for the dialog's preview and counts)."""
    from app.core.shop_export import build_export
    from app.core.taxonomy import taxonomy_for

    return build_export(catalog.export_rows(), taxonomy_for(catalog), fmt, image_prefix)


def write_shop_export(export: ShopExport, target: Path) -> Path:
    """The previewed export, written atomically."""
    from app.core.shop_export import write_export

    write_export(export, target)
    return target
