"""Catalog methods for learning from reviews: stored features, reviews, learned corrections.

The learning itself (app.core.learning) knows no SQL; these methods hand it arrays and
keep what it learned, tied to the bundle key it corrects.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, func, insert, select, update

from app.core.catalog import slots
from app.core.catalog.models import Correction, PhotoFeatures, Prediction, Tag, TagEvent
from app.core.catalog.rows import prediction_rows
from app.core.catalog.sessions import CatalogSessions
from app.core.catalog.states import TagStatus

CHUNK = 1024


@dataclass(frozen=True)
class FeatureChunk:
    """Stored features (N, F) float32 and bundle probabilities (N, K) of photos, by id."""

    ids: np.ndarray
    features: np.ndarray
    probabilities: np.ndarray


@dataclass(frozen=True)
class Reviews:
    """One family's reviewed photos that have stored features: the accepted value or the
    rejected one (the other is "") per photo."""

    ids: np.ndarray
    features: np.ndarray
    probabilities: np.ndarray
    accepted: tuple[str, ...]
    rejected: tuple[str, ...]


@dataclass(frozen=True)
class StoredCorrection:
    """A learned correction as the catalog keeps it."""

    id: int
    bundle_key: str
    family: str
    created_at: datetime
    created_by: str
    summary: dict[str, Any]
    weights: np.ndarray | None  # (F + 1, L): weights, then the bias as the last row


def _decode(rows: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Rows of (features, probabilities) bytes as float32 arrays."""
    features = np.stack([np.frombuffer(r[0], dtype="<f2") for r in rows])
    probabilities = np.stack([np.frombuffer(r[1], dtype="<f4") for r in rows])
    return features.astype(np.float32), probabilities.astype(np.float32)


class LearnedCorrections(CatalogSessions):
    def count_with_features(self, bundle_key: str) -> int:
        """Photos whose features this bundle stored (the others need a re-tag to learn)."""
        with self._read("counting photos with features") as session:
            statement = select(func.count()).where(PhotoFeatures.bundle_key == bundle_key)
            return session.scalar(statement) or 0

    def reviewed_without_features(self, bundle_key: str) -> int:
        """Photos with a family tag but no features of ``bundle_key``: imported by another
        bundle, they teach nothing until they are tagged again."""
        has_features = select(PhotoFeatures.photo_id).where(PhotoFeatures.bundle_key == bundle_key)
        statement = select(func.count(func.distinct(Tag.photo_id))).where(
            Tag.family.is_not(None), Tag.photo_id.not_in(has_features)
        )
        with self._read("counting reviews without features") as session:
            return session.scalar(statement) or 0

    def feature_chunks(self, bundle_key: str, size: int = CHUNK) -> Iterator[FeatureChunk]:
        """Every photo's stored features under ``bundle_key``, a chunk at a time, by id."""
        after = -1
        while True:
            with self._read("reading stored features") as session:
                rows = session.execute(
                    select(
                        PhotoFeatures.features, PhotoFeatures.probabilities, PhotoFeatures.photo_id
                    )
                    .where(PhotoFeatures.bundle_key == bundle_key, PhotoFeatures.photo_id > after)
                    .order_by(PhotoFeatures.photo_id)
                    .limit(size)
                ).all()
            if not rows:
                return
            features, probabilities = _decode(rows)
            ids = np.array([r[2] for r in rows], dtype=np.int64)
            yield FeatureChunk(ids, features, probabilities)
            after = int(ids[-1])

    def reviews(self, bundle_key: str, family: str) -> Reviews:
        """The family's accepted and rejected tags on photos with features of this bundle."""
        with self._read(f"reading the reviews of {family}") as session:
            rows = session.execute(
                select(
                    PhotoFeatures.features,
                    PhotoFeatures.probabilities,
                    Tag.photo_id,
                    Tag.value,
                    Tag.status,
                )
                .join(PhotoFeatures, PhotoFeatures.photo_id == Tag.photo_id)
                .where(Tag.family == family, PhotoFeatures.bundle_key == bundle_key)
                .order_by(Tag.photo_id)
            ).all()
        if not rows:
            empty = np.zeros((0, 0), dtype=np.float32)
            return Reviews(np.zeros(0, dtype=np.int64), empty, empty, (), ())
        features, probabilities = _decode(rows)
        return Reviews(
            np.array([row[2] for row in rows], dtype=np.int64),
            features,
            probabilities,
            tuple(row[3] if row[4] == TagStatus.ACCEPTED else "" for row in rows),
            tuple(row[3] if row[4] == TagStatus.REJECTED else "" for row in rows),
        )

    def review_count_since(self, since: datetime | None) -> int:
        """Tag decisions made after ``since`` (all of them for None): the window offers to
        learn again once enough have piled up."""
        with self._read("counting reviews") as session:
            statement = select(func.count()).select_from(TagEvent)
            statement = statement.where(TagEvent.family.is_not(None))
            if since is not None:
                statement = statement.where(TagEvent.at > since)
            return session.scalar(statement) or 0

    def save_corrections(
        self,
        bundle_key: str,
        learned: Sequence[tuple[str, dict[str, Any], np.ndarray | None]],
        actor: str | None = None,
    ) -> dict[str, int]:
        """Store (family, summary, weights) corrections for ``bundle_key`` in one
        transaction; each replaces the family's previous one in use. Family -> new id."""
        actor = actor or slots.default_actor()
        ids: dict[str, int] = {}
        with self._write("saving what was learned") as session:
            for family, summary, weights in learned:
                session.execute(
                    update(Correction)
                    .where(Correction.bundle_key == bundle_key, Correction.family == family)
                    .values(in_use=False)
                )
                done = session.execute(
                    insert(Correction).values(
                        bundle_key=bundle_key,
                        family=family,
                        created_by=actor,
                        in_use=True,
                        summary=json.dumps(summary, sort_keys=True),
                        weights=None if weights is None else _npy(weights),
                    )
                )
                ids[family] = int(done.inserted_primary_key[0])
        return ids

    def corrections(self, bundle_key: str | None = None) -> list[StoredCorrection]:
        """The corrections in use: of ``bundle_key``, or of every bundle (None)."""
        statement = select(Correction).where(Correction.in_use.is_(True))
        if bundle_key is not None:
            statement = statement.where(Correction.bundle_key == bundle_key)
        with self._read("reading what was learned") as session:
            rows = session.scalars(statement.order_by(Correction.family)).all()
            return [
                StoredCorrection(
                    row.id,
                    row.bundle_key,
                    row.family,
                    row.created_at,
                    row.created_by,
                    json.loads(row.summary),
                    None if row.weights is None else np.load(io.BytesIO(row.weights)),
                )
                for row in rows
            ]

    def last_learned(self, bundle_key: str) -> datetime | None:
        """When the catalog last learned for ``bundle_key`` (None: never)."""
        statement = select(func.max(Correction.created_at)).where(
            Correction.bundle_key == bundle_key
        )
        with self._read("reading when the catalog last learned") as session:
            return session.scalar(statement)

    def set_thresholds(self, bundle_label: str, thresholds: Mapping[str, float]) -> None:
        """Give every prediction of ``bundle_label`` its family's threshold now: photos
        without stored features (refreshed from nothing) still show the new promise."""
        with self._write("saving the new thresholds") as session:
            for family, threshold in thresholds.items():
                session.execute(
                    update(Prediction)
                    .where(Prediction.bundle == bundle_label, Prediction.family == family)
                    .values(threshold=float(threshold))
                )

    def forget_corrections(self, bundle_key: str) -> int:
        """Drop every correction learned for ``bundle_key``; how many there were."""
        with self._write("forgetting what was learned") as session:
            done = session.execute(delete(Correction).where(Correction.bundle_key == bundle_key))
            return int(done.rowcount or 0)

    def replace_suggestions(
        self, bundle_label: str, decisions: Mapping[int, Sequence[Any]]
    ) -> None:
        """New predictions for photos (photo id -> decisions of the families to replace),
        in one transaction; tags and review states stay as they are."""
        if not decisions:
            return
        with self._write(f"refreshing the suggestions of {len(decisions)} photos") as session:
            for photo_id, family_decisions in decisions.items():
                families = [d.family for d in family_decisions]
                session.execute(
                    delete(Prediction).where(
                        Prediction.photo_id == photo_id, Prediction.family.in_(families)
                    )
                )
            rows = [
                row
                for photo_id, family_decisions in decisions.items()
                for row in prediction_rows(photo_id, bundle_label, family_decisions)
            ]
            if rows:
                session.execute(insert(Prediction), rows)


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array, dtype=np.float32), allow_pickle=False)
    return buffer.getvalue()
