"""The window's handle on app.core: opens the AppContext in the background and runs reads.

Everything here runs in worker threads (it may wait on the database or the model);
the window gets plain results through signals. No SQL and no ML live here: only
calls to AppContext, Catalog, the tagger, the similarity index and the exporters.
The heavy core modules (SQLAlchemy, onnxruntime, hnswlib) are imported inside the
jobs, so the window shows before they load (cold start).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.catalog.states import ReviewState
from app.core.errors import VitrinaError
from app.ui.about_dialog import BundleInfo, bundle_info
from app.ui.catalog_model import GridItem, GridSource
from app.ui.review_data import PhotoReview, build_review

if TYPE_CHECKING:
    from app.core.bundle import Family
    from app.core.catalog import Catalog, PhotoFilter, PhotoRow
    from app.core.context import AppContext
    from app.core.export import XmpReport
    from app.core.similar import Neighbour
    from app.core.tag_import import TagImportReport

SIMILAR_K = 12  # the strip's photos
# The window's tagging leaves one core to its event loop (imports stall it otherwise).
INFERENCE_THREADS = max(1, (os.cpu_count() or 1) - 1)


@dataclass
class OpenedCatalog:
    """The opened context and what the window needs to know about its catalog and bundle."""

    ctx: AppContext
    families: tuple[Family, ...]
    bundle_problem: str
    notices: list[str]
    catalog_name: str = ""
    bundle: BundleInfo | None = None
    # Photos another bundle tagged: no similar items, older suggestions (File → Re-tag).
    not_tagged_by_bundle: int = 0
    # When the catalog last learned from its reviews for this bundle (None: never).
    learned_at: datetime | None = None


def not_tagged_by_bundle(ctx: AppContext) -> int:
    """Photos without the current bundle's embedding: another bundle tagged them."""
    if ctx.index is None:
        return 0
    return ctx.catalog.count_photos_missing_embedding(ctx.tagger.embedding_key)


def open_context(location: str, bundle: str) -> OpenedCatalog:
    """Open the catalog (raises CatalogError); load the bundle and index if there is one.
    The families are those suggestions are decided with: with what the catalog learned
    from its reviews (labels of its own, thresholds re-set on its photos)."""
    from app.core.catalog.engine import display_url
    from app.core.context import AppContext

    ctx = AppContext.open(location or None, bundle or None, INFERENCE_THREADS)
    families: tuple[Family, ...] = ()
    problem = ""
    info: BundleInfo | None = None
    others = 0
    learned_at = None
    try:
        families = ctx.families
        info = bundle_info(ctx.bundle)
        others = not_tagged_by_bundle(ctx)
        learned_at = ctx.catalog.last_learned(ctx.bundle.key)
    except VitrinaError as exc:
        problem = str(exc)
    return OpenedCatalog(
        ctx,
        families,
        problem,
        list(ctx.notices),
        display_url(ctx.catalog.url),
        info,
        others,
        learned_at,
    )


def has_tagger(ctx: AppContext) -> bool:
    """True when the bundle loaded (tagging and similar items are available)."""
    try:
        _ = ctx.tagger
    except VitrinaError:
        return False
    return True


class CatalogGrid:
    """The grid's reads; uncertain and near-duplicate marks are asked for per page (at the
    context's thresholds as they are then), so 100,000 photos cost no more than a screenful."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def count(self, flt: PhotoFilter | None) -> int:
        return self.ctx.catalog.count(flt)

    def page(self, flt: PhotoFilter | None, offset: int, limit: int) -> list[GridItem]:
        catalog = self.ctx.catalog
        rows = catalog.list_photos(flt, offset, limit)
        uncertain = catalog.uncertain_among([row.id for row in rows], self.ctx.thresholds)
        looks_like = catalog.near_duplicate_marks([row.id for row in rows])
        return [grid_item(row, row.id in uncertain, looks_like.get(row.id)) for row in rows]

    def ids(self, flt: PhotoFilter | None) -> list[int]:
        return self.ctx.catalog.photo_ids(flt)

    def source(self) -> GridSource:
        return GridSource(self.count, self.page, self.ids)


def grid_item(row: PhotoRow, uncertain: bool, duplicate_of: int | None = None) -> GridItem:
    """A grid cell; photos a human reviewed carry no uncertain mark; ``duplicate_of`` the
    earlier photo an open near-duplicate flag says it may repeat."""
    return GridItem(
        row.id,
        row.path,
        row.sha256,
        row.review_state,
        uncertain and row.review_state != ReviewState.REVIEWED,
        duplicate_of,
    )


def load_review(
    catalog: Catalog, photo_id: int, families: Sequence[Family], overrides: Mapping[str, float]
) -> PhotoReview:
    photo = catalog.get_photo(photo_id)
    review = build_review(
        photo, catalog.predictions(photo_id), catalog.tags(photo_id), families, overrides
    )
    versions = {
        f.family: catalog.tag_version(photo_id, f.family) for f in review.families if f.tag is None
    }
    return review.with_versions(versions)


def similar_to_photo(ctx: AppContext, photo_id: int) -> list[Neighbour]:
    """The strip's neighbours of a catalog photo; VitrinaError, saying what to do, for a
    photo only another bundle tagged."""
    from app.core.similar import similar_to_photo

    return similar_to_photo(ctx, photo_id, SIMILAR_K)


def similar_to_file(ctx: AppContext, path: Path) -> list[Neighbour]:
    """The strip's neighbours of an outside photo, tagged in memory and not imported."""
    from app.core.similar import similar_to_file

    if not has_tagger(ctx):
        raise VitrinaError(
            "Finding similar items for a photo needs a model bundle (File → Choose bundle…)."
        )
    return similar_to_file(ctx, path, SIMILAR_K)


def confident_shares(
    catalog: Catalog, thresholds: Mapping[str, float]
) -> tuple[dict[str, float], int]:
    stats = catalog.stats(dict(thresholds))
    return dict(stats["confident_share"]), int(stats["photos"])


def export_table(catalog: Catalog, fmt: str, accepted_only: bool, target: Path) -> str:
    """CSV or JSON of the whole catalog, written atomically (the same file as `vitrina export`)."""
    from app.core.export import export_catalog

    return export_catalog(catalog, fmt, accepted_only, target)


def write_sidecars(catalog: Catalog) -> XmpReport:
    """XMP sidecars beside every photo with accepted tags (the same as `vitrina xmp`)."""
    from app.core.export import write_catalog_sidecars

    return write_catalog_sidecars(catalog)


def import_tags(
    catalog: Catalog, path: Path, families: Mapping[str, Sequence[str]] | None
) -> TagImportReport:
    """Apply a CSV/JSON tag file (the same as `vitrina import-tags`); labels the bundle does
    not know are refused when ``families`` is given."""
    from app.core.tag_import import apply_tag_records, read_tag_file

    return apply_tag_records(catalog, read_tag_file(path), families=families)
