"""Catalog: THE place a catalog row is written or read; every write is one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.catalog import slots
from app.core.catalog.edits import TagEdits
from app.core.catalog.engine import catalog_url, create_catalog_engine, database_errors, migrate
from app.core.catalog.models import Embedding, Photo, Prediction, utcnow
from app.core.catalog.reads import CatalogReads
from app.core.catalog.rows import DuplicatePhotoError, PhotoRow, photo_row
from app.core.errors import CatalogError


class Catalog(TagEdits, CatalogReads):
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
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, url)

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
        if embedding is not None and bundle_key is None:
            raise ValueError("an embedding needs the bundle_key that produced it")
        try:
            with self._write(f"adding {path}") as session:
                photo = Photo(
                    path=str(path),
                    sha256=sha256,
                    size_bytes=size_bytes,
                    width=width,
                    height=height,
                    added_at=utcnow(),
                    review_state="suggested" if decisions else "new",
                    bundle=bundle_label if decisions else None,
                )
                session.add(photo)
                session.flush()
                self._add_predictions(session, photo, bundle_label, decisions)
                if embedding is not None and bundle_key is not None:
                    session.add(_embedding(photo.id, bundle_key, embedding))
                session.flush()
                return photo_row(photo)
        except CatalogError as error:
            if isinstance(error.__cause__, IntegrityError):
                existing = self.find_by_hash(sha256)
                if existing is not None:
                    raise DuplicatePhotoError(existing, str(path)) from error
            raise

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
            photo = slots.lock_photo(session, photo_id)
            session.execute(delete(Prediction).where(Prediction.photo_id == photo_id))
            self._add_predictions(session, photo, bundle_label, decisions)
            photo.bundle = bundle_label
            if photo.review_state != "reviewed":
                photo.review_state = "suggested" if decisions else "new"

    def store_embedding(self, photo_id: int, bundle_key: str, vector: np.ndarray) -> None:
        with self._write(f"saving the embedding of photo {photo_id}") as session:
            slots.lock_photo(session, photo_id)
            session.merge(_embedding(photo_id, bundle_key, vector))

    @staticmethod
    def _add_predictions(
        session: Session, photo: Photo, bundle_label: str | None, decisions: Sequence[Any]
    ) -> None:
        """One bulk INSERT: ORM objects per prediction cost more than the write (bench/writes)."""
        rows = [
            {
                "photo_id": photo.id,
                "bundle": bundle_label or "",
                "family": decision.family,
                "label": suggestion.label,
                "confidence": float(suggestion.confidence),
                "rank": int(suggestion.rank),
                "threshold": float(decision.threshold),
            }
            for decision in decisions
            for suggestion in decision.ranked
        ]
        if rows:
            session.execute(insert(Prediction), rows)

    def remove_photo(self, photo_id: int) -> bool:
        """Remove a photo with its predictions, tags, audit and embeddings (cascade)."""
        with self._write(f"removing photo {photo_id}") as session:
            return session.execute(delete(Photo).where(Photo.id == photo_id)).rowcount > 0


def _embedding(photo_id: int, bundle_key: str, vector: np.ndarray) -> Embedding:
    array = np.ascontiguousarray(vector, dtype="<f4").reshape(-1)
    return Embedding(
        photo_id=photo_id, bundle_key=bundle_key, dim=int(array.size), vector=array.tobytes()
    )
