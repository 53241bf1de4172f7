"""Similar items: the catalog photos nearest a catalog photo or an outside photo file.

The window (its strip, a drop on it, File → Find similar to a photo…) and `vitrina similar`
both ask here, so they leave out the same photo (the query itself, or the outside file's
copy in the catalog), ask the same index (`AppContext.index`: the pgvector server's on a
catalog whose server keeps the vectors, else the local hnswlib one) and read the
neighbours' rows in one query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.decode import decode_photo, read_photo
from app.core.errors import VitrinaError

if TYPE_CHECKING:
    from app.core.catalog import Catalog
    from app.core.context import AppContext
    from app.core.server_index import ServerIndex
    from app.core.similarity import SimilarityIndex


@dataclass(frozen=True)
class Neighbour:
    """A catalog photo near the query, with its cosine similarity (1 = the same vector)."""

    photo_id: int
    path: str
    sha256: str
    similarity: float


def similar_to_photo(ctx: AppContext, photo_id: int, k: int) -> list[Neighbour]:
    """The ``k`` photos most like catalog photo ``photo_id``, best first, itself left out.
    VitrinaError (saying what to do) when the bundle has no embedding or another bundle
    tagged the photo."""
    index = _index(ctx)
    vector = ctx.catalog.embedding(photo_id, ctx.tagger.embedding_key)
    if vector is None:
        raise VitrinaError(
            f"Photo {photo_id} has no embedding from bundle {ctx.bundle.label}: another "
            "bundle tagged it, so it has no similar items yet. Re-tag it with this bundle "
            "(File → Re-tag with this bundle, or `vitrina reindex`)."
        )
    return neighbours(ctx.catalog, index.nearest(vector, k, exclude=photo_id))


def similar_to_file(ctx: AppContext, path: Path | str, k: int) -> list[Neighbour]:
    """The ``k`` catalog photos most like a photo file, which is read once, tagged in
    memory and not imported; its own copy in the catalog (same content) is left out.
    DecodeError for a file that is not a readable photo."""
    index = _index(ctx)
    photo = read_photo(path)
    decoded = decode_photo(photo, ctx.tagger.decode_side)
    vector = ctx.tagger.tag_photos([(Path(path), decoded)])[0].embedding
    if vector is None:
        raise _no_embedding(ctx)
    known = ctx.catalog.find_by_hash(photo.sha256)
    exclude = known.id if known else None
    return neighbours(ctx.catalog, index.nearest(vector, k, exclude=exclude))


def neighbours(catalog: Catalog, pairs: Sequence[tuple[int, float]]) -> list[Neighbour]:
    """(photo id, similarity) pairs from an index as Neighbours, their rows read in one
    query; a photo removed since the index answered is left out."""
    rows = catalog.photos_by_id(photo_id for photo_id, _ in pairs)
    return [
        Neighbour(photo_id, rows[photo_id].path, rows[photo_id].sha256, similarity)
        for photo_id, similarity in pairs
        if photo_id in rows
    ]


def _index(ctx: AppContext) -> SimilarityIndex | ServerIndex:
    """The bundle's similarity index (BundleError without a bundle)."""
    index = ctx.index
    if index is None:
        raise _no_embedding(ctx)
    return index


def _no_embedding(ctx: AppContext) -> VitrinaError:
    return VitrinaError(
        f"Bundle {ctx.bundle.label} has no embedding output, so it cannot find similar "
        "photos; use a bundle with an embedding."
    )
