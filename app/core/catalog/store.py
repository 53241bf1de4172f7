"""Catalog: THE place a catalog row is written or read; every write is one transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.catalog import slots
from app.core.catalog.edits import TagEdits
from app.core.catalog.engine import catalog_url, create_catalog_engine, database_errors, migrate
from app.core.catalog.learned import LearnedCorrections
from app.core.catalog.models import (
    Embedding,
    NearDuplicate,
    Photo,
    PhotoFeatures,
    Prediction,
    Tag,
    TagEvent,
    utcnow,
)
from app.core.catalog.products import ShopProducts
from app.core.catalog.reads import CHUNK, HASHES_PER_QUERY, CatalogReads
from app.core.catalog.rows import (
    DuplicatePhotoError,
    NewPhoto,
    PhotoRow,
    RemovedPhotos,
    Retagged,
    photo_row,
    prediction_rows,
)
from app.core.catalog.states import ReviewState
from app.core.catalog.vectors import ServerVectors
from app.core.errors import CatalogError

# A photo's rows, parents first.
PHOTO_TABLES = (Photo, Prediction, Tag, TagEvent, Embedding, PhotoFeatures)


class Catalog(TagEdits, CatalogReads, LearnedCorrections, ServerVectors, ShopProducts):
    """Photos, predictions, tags, audit trail and embeddings in one SQL database.

    Returns plain rows (PhotoRow, TagRow, ...); no ORM object or session leaves it.
    Decisions are duck-typed like ``tagging.FamilyDecision``: ``family``,
    ``threshold`` and ``ranked`` (each with ``label``, ``confidence``, ``rank``).
    """

    @classmethod
    def open(cls, url_or_path: str | Path | None = None, *, busy_timeout_ms: int = 5000) -> Catalog:
        """Open (creating and migrating if needed) a catalog; ``None`` is the default file."""
        url = catalog_url(url_or_path)
        engine = create_catalog_engine(url, busy_timeout_ms)
        try:
            with database_errors(url, "opening the catalog"):
                migrate(engine, url)
                catalog = cls(engine, url)
                with engine.connect() as connection:
                    catalog._detect_server_vectors(connection)
        except BaseException:
            engine.dispose()
            raise
        return catalog

    def __enter__(self) -> Catalog:
        return self

    # --- photos -----------------------------------------------------------------------

    def add_tagged_photo(
        self,
        path: str | Path,
        sha256: str,
        size_bytes: int,
        width: int,
        height: int,
        bundle_label: str | None = None,
        decisions: Sequence[Any] = (),
        bundle_key: str | None = None,
        embedding: np.ndarray | None = None,
    ) -> PhotoRow:
        """Photo + predictions + embedding in one transaction: never a half-written photo.

        Raises DuplicatePhotoError (with ``.existing``) when the content is already in.
        """
        item = NewPhoto(
            str(path),
            sha256,
            size_bytes,
            width,
            height,
            bundle_label,
            decisions,
            bundle_key,
            embedding,
        )
        _check(item)
        result = self._add_one(item)
        if isinstance(result, CatalogError):
            raise result
        return result

    def add_tagged_photos(self, items: Sequence[NewPhoto]) -> list[PhotoRow | CatalogError]:
        """Many photos in ONE transaction: one commit per import batch instead of one per photo.

        Each photo is written whole or not at all, and each gets its own answer in place: its
        PhotoRow, or a DuplicatePhotoError when its content is already in the catalog (or
        earlier in ``items``). If the batch hits an integrity error (another program added
        the same content meanwhile, a bad row), it is retried photo by photo so that only the
        bad photo gets a CatalogError. A catalog that cannot be written at all raises.
        """
        for item in items:
            _check(item)
        if not items:
            return []
        try:
            with self._write(f"adding {len(items)} photos") as session:
                return self._insert_batch(session, items)
        except CatalogError as error:
            if not isinstance(error.__cause__, IntegrityError):
                raise
        results: list[PhotoRow | CatalogError] = []
        for item in items:
            try:
                results.append(self._add_one(item))
            except CatalogError as error:
                results.append(error)
        return results

    def _add_one(self, item: NewPhoto) -> PhotoRow | CatalogError:
        """One photo in its own transaction; a duplicate comes back, other errors raise."""
        try:
            with self._write(f"adding {item.path}") as session:
                return self._insert_batch(session, [item])[0]
        except CatalogError as error:
            if isinstance(error.__cause__, IntegrityError):
                existing = self.find_by_hash(item.sha256)
                if existing is not None:
                    return DuplicatePhotoError(existing, item.path)
            raise

    def _insert_batch(
        self, session: Session, items: Sequence[NewPhoto]
    ) -> list[PhotoRow | CatalogError]:
        """Photo rows (one query finds known hashes), then all predictions and embeddings bulk."""
        known = {
            photo.sha256: photo_row(photo)
            for photo in session.scalars(
                select(Photo).where(Photo.sha256.in_({item.sha256 for item in items}))
            )
        }
        first: dict[str, Photo] = {}
        for item in items:
            if item.sha256 not in known and item.sha256 not in first:
                first[item.sha256] = Photo(
                    path=item.path,
                    sha256=item.sha256,
                    size_bytes=item.size_bytes,
                    width=item.width,
                    height=item.height,
                    added_at=utcnow(),
                    review_state=ReviewState.SUGGESTED if item.decisions else ReviewState.NEW,
                    bundle=item.bundle_label if item.decisions else None,
                    near_hash=item.near_hash,
                )
        session.add_all(first.values())
        session.flush()
        results: list[PhotoRow | CatalogError] = []
        added: dict[str, PhotoRow] = {}
        predictions: list[dict] = []
        embeddings: list[dict] = []
        features: list[dict] = []
        for item in items:
            original = known.get(item.sha256) or added.get(item.sha256)
            if original is not None:
                results.append(DuplicatePhotoError(original, item.path))
                continue
            photo = first[item.sha256]
            added[item.sha256] = row = photo_row(photo)
            predictions += prediction_rows(photo.id, item.bundle_label, item.decisions)
            if item.embedding is not None and item.bundle_key is not None:
                embeddings.append(_embedding_row(photo.id, item.bundle_key, item.embedding))
            if item.features is not None and item.bundle_key is not None:
                features.append(_features_row(photo.id, item.bundle_key, item))
            results.append(row)
        if predictions:
            session.execute(insert(Prediction), predictions)
        if embeddings:
            self._insert_embeddings(session, embeddings)
        if features:
            session.execute(insert(PhotoFeatures), features)
        _flag_near_duplicates(session, items, added)
        return results

    def add_photo(
        self, path: str | Path, sha256: str, size_bytes: int, width: int, height: int
    ) -> PhotoRow:
        """A photo without predictions (no bundle yet); review state ``new``."""
        return self.add_tagged_photo(path, sha256, size_bytes, width, height)

    def record_predictions(
        self, photo_id: int, bundle_label: str, decisions: Sequence[Any]
    ) -> None:
        """Replace a photo's predictions (re-tagging with another bundle); tags stay."""
        with self._write(f"saving predictions of photo {photo_id}") as session:
            self._replace_predictions(session, photo_id, bundle_label, decisions)

    def record_tagging(self, items: Sequence[Retagged]) -> None:
        """Photos tagged again, in ONE transaction (a re-tag writes a batch at a time, as an
        import does): predictions replaced, embeddings and features stored; tags stay."""
        if not items:
            return
        with self._write(f"saving the new suggestions of {len(items)} photos") as session:
            for item in items:
                self._replace_predictions(session, item.photo_id, item.bundle_label, item.decisions)
                if item.near_hash is not None:
                    session.execute(
                        update(Photo)
                        .where(Photo.id == item.photo_id)
                        .values(near_hash=item.near_hash)
                    )
                if item.embedding is not None:
                    self._merge_embedding(
                        session, _embedding_row(item.photo_id, item.bundle_key, item.embedding)
                    )
                if item.features is not None:
                    session.merge(
                        PhotoFeatures(**_features_row(item.photo_id, item.bundle_key, item))
                    )

    def _replace_predictions(
        self, session: Session, photo_id: int, bundle_label: str, decisions: Sequence[Any]
    ) -> None:
        photo = slots.lock_photo(session, photo_id)
        session.execute(delete(Prediction).where(Prediction.photo_id == photo_id))
        rows = prediction_rows(photo_id, bundle_label, decisions)
        if rows:
            session.execute(insert(Prediction), rows)
        photo.bundle = bundle_label
        slots.refresh_review_state(session, photo)  # a new bundle may predict new families

    def store_embedding(self, photo_id: int, bundle_key: str, vector: np.ndarray) -> None:
        with self._write(f"saving the embedding of photo {photo_id}") as session:
            slots.lock_photo(session, photo_id)
            self._merge_embedding(session, _embedding_row(photo_id, bundle_key, vector))

    def move_photos(self, paths: Mapping[int, str]) -> None:
        """Point photos at the paths their files were found at (a moved shoot folder),
        in one transaction; tags, suggestions and embeddings stay (found by content)."""
        with self._write(f"recording {len(paths):,} moved photo(s)") as session:
            for photo_id, path in paths.items():
                session.execute(update(Photo).where(Photo.id == photo_id).values(path=path))

    def remove_photos(self, photo_ids: Iterable[int]) -> RemovedPhotos:
        """Remove photos with their predictions, tags, audit and embeddings, all in one
        transaction; the files stay on disk. Returns every removed row, for an undo."""
        wanted = sorted({int(i) for i in photo_ids})
        rows: dict[str, list[dict[str, Any]]] = {model.__tablename__: [] for model in PHOTO_TABLES}
        with self._write(f"removing {len(wanted):,} photo(s)") as session:
            for start in range(0, len(wanted), CHUNK):
                chunk = wanted[start : start + CHUNK]
                for model in PHOTO_TABLES:
                    table = model.__table__
                    owner = table.c.id if model is Photo else table.c.photo_id
                    found = session.execute(select(table).where(owner.in_(chunk))).mappings()
                    rows[table.name] += [dict(row) for row in found]
                session.execute(delete(Photo).where(Photo.id.in_(chunk)))
        return RemovedPhotos({name: tuple(found) for name, found in rows.items()})

    def restore_photos(self, removed: RemovedPhotos) -> dict[int, int]:
        """Put removed photos back with all their rows, in one transaction (an undo).

        A photo whose content was imported again since stays out (the new entry is kept).
        One whose id another photo took since comes back under a new id. Returns
        removed id -> id now, for the photos that came back.
        """
        photos = removed.photos
        back: dict[int, int] = {}
        with self._write(f"putting back {len(photos):,} removed photo(s)") as session:
            taken_ids: set[int] = set()
            taken_hashes: set[str] = set()
            for start in range(0, len(photos), HASHES_PER_QUERY):
                chunk = photos[start : start + HASHES_PER_QUERY]
                ids = [photo["id"] for photo in chunk]
                hashes = [photo["sha256"] for photo in chunk]
                query = select(Photo.id, Photo.sha256).where(
                    or_(Photo.id.in_(ids), Photo.sha256.in_(hashes))
                )
                for photo_id, sha256 in session.execute(query):
                    taken_ids.add(photo_id)
                    taken_hashes.add(sha256)
            for photo in photos:
                if photo["sha256"] in taken_hashes:
                    continue
                if photo["id"] in taken_ids:
                    values = {name: value for name, value in photo.items() if name != "id"}
                    done = session.execute(insert(Photo).values(**values))
                    back[photo["id"]] = done.inserted_primary_key[0]
                else:
                    session.execute(insert(Photo).values(**photo))
                    back[photo["id"]] = photo["id"]
            for model in PHOTO_TABLES[1:]:
                # Their own ids may have been reused since; nothing refers to them.
                batch = [
                    {
                        **{k: v for k, v in row.items() if k != "id"},
                        "photo_id": back[row["photo_id"]],
                    }
                    for row in removed.rows.get(model.__tablename__, ())
                    if row["photo_id"] in back
                ]
                if batch and model is Embedding:
                    self._insert_embeddings(session, batch)
                elif batch:
                    session.execute(insert(model), batch)
        return back


def _flag_near_duplicates(
    session: Session, items: Sequence[NewPhoto], added: Mapping[str, PhotoRow]
) -> None:
    """Flag the photos just added that look like an earlier one (found by its content hash:
    one added in this batch, or one query for those already in the catalog); a look-alike
    removed meanwhile flags nothing."""
    flagged = [item for item in items if item.near_original and item.sha256 in added]
    if not flagged:
        return
    wanted = {item.near_original for item in flagged} - added.keys()
    ids = {sha: row.id for sha, row in added.items()}
    if wanted:
        found = session.execute(select(Photo.sha256, Photo.id).where(Photo.sha256.in_(wanted)))
        ids.update({sha: photo_id for sha, photo_id in found})
    rows = [
        {
            "photo_id": added[item.sha256].id,
            "original_id": ids[item.near_original],
            "distance": item.near_distance,
            "status": "open",
        }
        for item in flagged
        if item.near_original in ids and ids[item.near_original] != added[item.sha256].id
    ]
    if rows:
        session.execute(insert(NearDuplicate), rows)


def _check(item: NewPhoto) -> None:
    if (item.embedding is not None or item.features is not None) and item.bundle_key is None:
        raise ValueError("an embedding or features need the bundle_key that produced them")


def _embedding_row(photo_id: int, bundle_key: str, vector: np.ndarray) -> dict[str, Any]:
    array = np.ascontiguousarray(vector, dtype="<f4").reshape(-1)
    return {
        "photo_id": photo_id,
        "bundle_key": bundle_key,
        "dim": int(array.size),
        "vector": array.tobytes(),
    }


def _features_row(photo_id: int, bundle_key: str, item: NewPhoto | Retagged) -> dict[str, Any]:
    features = np.ascontiguousarray(item.features, dtype="<f2").reshape(-1)
    probabilities = np.ascontiguousarray(item.probabilities, dtype="<f4").reshape(-1)
    return {
        "photo_id": photo_id,
        "bundle_key": bundle_key,
        "dim": int(features.size),
        "features": features.tobytes(),
        "probabilities": probabilities.tobytes(),
    }
