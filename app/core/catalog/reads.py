"""Read methods of the Catalog: single photos, the grid, statistics, export, embeddings."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.catalog import queries, slots
from app.core.catalog.engine import display_url
from app.core.catalog.models import Embedding, Photo, Prediction, Tag, TagEvent
from app.core.catalog.rows import (
    AuditRow,
    ExportRow,
    PhotoFilter,
    PhotoRow,
    PredictionRow,
    TagRow,
    audit_row,
    decode_vector,
    photo_row,
    prediction_row,
    tag_row,
)
from app.core.catalog.sessions import CatalogSessions

CHUNK = 2048
HASHES_PER_QUERY = 500  # hashes or ids per IN (...): under SQLite's bound-parameter limit


class CatalogReads(CatalogSessions):
    def find_by_hash(self, sha256: str) -> PhotoRow | None:
        with self._read("looking up a photo") as session:
            photo = session.scalar(select(Photo).where(Photo.sha256 == sha256))
            return photo_row(photo) if photo else None

    def find_by_hashes(self, hashes: Iterable[str]) -> dict[str, PhotoRow]:
        """sha256 -> photo for the hashes already in: one query per import batch, not per file."""
        with self._read("looking up photos") as session:
            return {
                photo.sha256: photo_row(photo)
                for photo in _photos_where(session, Photo.sha256, set(hashes))
            }

    def sizes_at(self, paths: Iterable[str]) -> dict[str, int]:
        """Path -> recorded size of the photos imported from these paths (up to 500 a
        call): what a resumed `vitrina batch` skips without reading the files again."""
        wanted = sorted(set(paths))
        with self._read("looking up photos by path") as session:
            rows = session.execute(
                select(Photo.path, Photo.size_bytes).where(Photo.path.in_(wanted))
            )
            return {path: size for path, size in rows}

    def get_photo(self, photo_id: int) -> PhotoRow:
        with self._read(f"reading photo {photo_id}") as session:
            photo = session.get(Photo, photo_id)
            if photo is None:
                raise slots.PhotoNotFoundError(
                    f"Photo {photo_id} is not in the catalog {display_url(self.url)}; check the id "
                    "(`vitrina export` lists them)."
                )
            return photo_row(photo)

    def photos_by_id(self, photo_ids: Iterable[int]) -> dict[int, PhotoRow]:
        """id -> photo for the ids still in the catalog: a list of neighbours costs one
        query, not one per photo."""
        with self._read("reading photos") as session:
            return {
                photo.id: photo_row(photo)
                for photo in _photos_where(session, Photo.id, {int(i) for i in photo_ids})
            }

    def resolve(self, ref: str | int) -> PhotoRow:
        """A photo by id (``12``) or by path (as imported, or made absolute)."""
        text = str(ref).strip()
        if text.isascii() and text.isdigit():  # "²" is a digit to Python, not an id
            return self.get_photo(int(text))
        candidates = [text, str(Path(text).expanduser().resolve())]
        with self._read(f"looking up {text}") as session:
            photo = session.scalar(
                select(Photo).where(Photo.path.in_(candidates)).order_by(Photo.id).limit(1)
            )
            if photo is None:
                raise slots.PhotoNotFoundError(
                    f"{text} is not in the catalog; import it first or pass a photo id."
                )
            return photo_row(photo)

    def predictions(self, photo_id: int) -> list[PredictionRow]:
        with self._read(f"reading predictions of photo {photo_id}") as session:
            rows = session.scalars(
                select(Prediction)
                .where(Prediction.photo_id == photo_id)
                .order_by(Prediction.family, Prediction.rank)
            )
            return [prediction_row(p) for p in rows]

    def tags(self, photo_id: int) -> list[TagRow]:
        """Family tags first (by family), then free-form tags, each with its version."""
        with self._read(f"reading tags of photo {photo_id}") as session:
            rows = session.scalars(
                select(Tag)
                .where(Tag.photo_id == photo_id)
                .order_by(Tag.family.is_(None), Tag.family, Tag.value)
            )
            return [tag_row(t) for t in rows]

    def tag_version(self, photo_id: int, family: str | None, value: str = "") -> int:
        """What to pass as ``expected_version`` for a slot the UI shows empty or filled.

        A family's slot is the family; a free-form tag's (family ``None``) is its value.
        0 means never tagged; after a removal the version keeps counting.
        """
        with self._read(f"reading tags of photo {photo_id}") as session:
            return slots.slot_version(session, photo_id, family, value)

    def audit(self, photo_id: int | None = None) -> list[AuditRow]:
        """Every tag change, oldest first (of one photo, or of the whole catalog)."""
        with self._read("reading the audit trail") as session:
            statement = select(TagEvent).order_by(TagEvent.id)
            if photo_id is not None:
                statement = statement.where(TagEvent.photo_id == photo_id)
            return [audit_row(e) for e in session.scalars(statement)]

    def list_photos(
        self, filter: PhotoFilter | None = None, offset: int = 0, limit: int = 200
    ) -> list[PhotoRow]:
        """One page of the grid, in the filter's order (by id, or the least certain first)."""
        with self._read("listing photos") as session:
            return queries.list_photos(session, filter, offset, limit)

    def count(self, filter: PhotoFilter | None = None) -> int:
        with self._read("counting photos") as session:
            return queries.count(session, filter)

    def photo_ids(self, filter: PhotoFilter | None = None) -> list[int]:
        """All ids the filter selects (for bulk edits and "select all")."""
        with self._read("listing photos") as session:
            return queries.photo_ids(session, filter)

    def accepted_tag_count(self, photo_ids: Iterable[int]) -> int:
        """Accepted tags (family labels and free-form) on these photos: what removing them
        would take away, for the question asked first."""
        wanted = sorted({int(i) for i in photo_ids})
        with self._read("counting accepted tags") as session:
            return sum(
                queries.accepted_tag_count(session, wanted[start : start + CHUNK])
                for start in range(0, len(wanted), CHUNK)
            )

    def uncertain_among(
        self, ids: Iterable[int], thresholds: Mapping[str, float] | None = None
    ) -> set[int]:
        """The photos among ``ids`` with an uncertain top suggestion (stored thresholds, or
        ``thresholds`` per family): marks for one grid page, whatever the catalog's size."""
        with self._read("finding uncertain photos") as session:
            return queries.uncertain_among(session, ids, thresholds or {})

    def stats(self, thresholds: Mapping[str, float] | None = None) -> dict[str, Any]:
        """``photos``, ``review_state`` counts, ``tags`` per family (accepted/rejected;
        free-form under FREE_FORM), ``confident_share`` per family of top suggestions at
        the stored thresholds or ``thresholds``, ``embeddings`` count per bundle key."""
        with self._read("computing statistics") as session:
            return queries.stats(session, thresholds or {})

    def embedding_chunks(
        self, bundle_key: str, chunk_size: int = CHUNK
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids int64 (n,), vectors float32 (n, dim)) by id, chunk by chunk: index rebuilds."""
        after = 0
        while True:
            with self._read("reading embeddings") as session:
                ids, vectors = queries.embedding_chunk(session, bundle_key, after, chunk_size)
            if not len(ids):
                return
            yield ids, vectors
            after = int(ids[-1])

    def embeddings(self, bundle_key: str) -> Iterator[tuple[int, np.ndarray]]:
        """(photo_id, float32 vector) for every photo embedded by this bundle key."""
        for ids, vectors in self.embedding_chunks(bundle_key):
            yield from zip(ids.tolist(), vectors, strict=True)

    def embedding(self, photo_id: int, bundle_key: str) -> np.ndarray | None:
        with self._read(f"reading the embedding of photo {photo_id}") as session:
            row = session.get(Embedding, (photo_id, bundle_key))
            if row is None:
                return None
            return decode_vector(row.vector, row.dim)

    def embedded_photos(self, bundle_key: str) -> dict[int, str]:
        """Photo id -> content hash of the photos embedded by this bundle key: what the
        similarity index must hold, and which photo each of its vectors must come from."""
        with self._read("listing embedded photos") as session:
            return queries.embedded_photos(session, bundle_key)

    def photos_missing_embedding(self, bundle_key: str) -> list[int]:
        """Photos the similarity index cannot hold yet (imported without this bundle)."""
        with self._read("looking for photos without embeddings") as session:
            return queries.missing_embedding(session, bundle_key)

    def count_photos_missing_embedding(self, bundle_key: str) -> int:
        """How many photos ``photos_missing_embedding`` would list, without reading their
        ids: the window's banner only needs the number, even at 300,000 photos."""
        with self._read("counting photos without embeddings") as session:
            return queries.count_missing_embedding(session, bundle_key)

    def export_rows(self, accepted_only: bool = False) -> Iterator[ExportRow]:
        """Every photo with its tags and top suggestions; or only photos with accepted
        tags, without suggestions. Read in chunks, so it streams 100,000 photos."""
        after = 0
        while True:
            with self._read("exporting") as session:
                rows = queries.export_chunk(session, after, CHUNK, accepted_only)
            if not rows:
                return
            yield from rows
            after = rows[-1].photo.id


def _photos_where(session: Session, column: Any, values: set[Any]) -> Iterator[Photo]:
    """The photos whose ``column`` holds one of ``values``, one query per HASHES_PER_QUERY
    values (SQLite's bound-parameter limit)."""
    wanted = sorted(values)
    for start in range(0, len(wanted), HASHES_PER_QUERY):
        chunk = wanted[start : start + HASHES_PER_QUERY]
        yield from session.scalars(select(Photo).where(column.in_(chunk)))
