"""Plain row objects the catalog hands out, so callers never hold an ORM session."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from app.core.errors import CatalogError
from app.core.tagging import is_confident

FREE_FORM = "(free-form)"
ORDERS = ("catalog", "uncertain")
"""The key under which ``stats()`` counts tags that belong to no family."""


@dataclass(frozen=True)
class PhotoRow:
    id: int
    path: str
    sha256: str
    size_bytes: int
    width: int
    height: int
    added_at: datetime
    review_state: str
    bundle: str | None
    product: int | None = None  # the shop product it was grouped into (its first photo's id)


@dataclass(frozen=True)
class NewPhoto:
    """A photo to add with its predictions and embedding (one item of ``add_tagged_photos``)."""

    path: str
    sha256: str
    size_bytes: int
    width: int
    height: int
    bundle_label: str | None = None
    decisions: Sequence[Any] = ()
    bundle_key: str | None = None
    embedding: Any = None  # (D,) vector; needs bundle_key
    features: Any = None  # (F,) the bundle's features output, for learning; needs bundle_key
    probabilities: Any = None  # every family's probabilities, concatenated; with features
    near_hash: bytes | None = None  # app.core.near_duplicates.perceptual_hash
    near_original: str | None = None  # sha256 of the photo this one looks like (flagged)
    near_distance: int = 0  # bits between their hashes


@dataclass(frozen=True)
class Retagged:
    """A catalog photo tagged again by the current bundle (one item of ``record_tagging``):
    its predictions are replaced, its embedding and features stored; tags stay."""

    photo_id: int
    bundle_label: str
    decisions: Sequence[Any]
    bundle_key: str
    embedding: Any = None
    features: Any = None
    probabilities: Any = None
    near_hash: bytes | None = None  # the perceptual hash of the photo decoded again


@dataclass(frozen=True)
class PredictionRow:
    photo_id: int
    bundle: str
    family: str
    label: str
    confidence: float
    rank: int
    threshold: float
    correction_id: int | None = None  # the catalog's learned correction it came from

    @property
    def confident(self) -> bool:
        return bool(is_confident(self.confidence, self.threshold))


@dataclass(frozen=True)
class TagRow:
    """A decided tag; pass ``version`` back as ``expected_version`` when editing it."""

    id: int
    photo_id: int
    family: str | None
    value: str
    source: str
    status: str
    model: str | None
    updated_at: datetime
    updated_by: str
    version: int


@dataclass(frozen=True)
class AuditRow:
    id: int
    photo_id: int
    family: str | None
    value: str
    action: str
    previous_value: str | None
    previous_status: str | None
    version: int
    actor: str
    at: datetime


@dataclass(frozen=True)
class ExportRow:
    """One photo as the exporters need it: accepted tags, and suggestions unless accepted-only."""

    photo: PhotoRow
    accepted: dict[str, str]
    free_tags: tuple[str, ...]
    rejected: dict[str, str]
    top: dict[str, PredictionRow]


@dataclass(frozen=True)
class PhotoFilter:
    """What the grid shows; every field narrows the selection, ``None`` means any.

    ``text`` matches (case-insensitive, substring) accepted tag values, top predicted
    labels and the path. ``family``/``label`` match an accepted tag or the top
    prediction. ``uncertain_only`` keeps photos whose top prediction in some family is
    below its threshold (``thresholds`` overrides the stored ones per family).
    ``order`` "uncertain" lists photos a human has not reviewed first, each by the lowest
    confidence among its families' top suggestions (the least certain first), then the
    reviewed ones; "catalog" lists them by id.
    """

    text: str | None = None
    family: str | None = None
    label: str | None = None
    review_state: str | None = None
    uncertain_only: bool = False
    thresholds: Mapping[str, float] = field(default_factory=dict)
    near_duplicates: bool = False  # only photos in an open near-duplicate flag (either side)
    order: str = "catalog"  # or "uncertain": least certain first (ORDERS)


@dataclass(frozen=True)
class RemovedPhotos:
    """Photos taken out of the catalog with every row that was theirs (predictions, tags,
    audit, embeddings), so ``Catalog.restore_photos`` can put the removal back."""

    rows: Mapping[str, tuple[dict[str, Any], ...]]  # table name -> rows, parents first

    @property
    def photos(self) -> tuple[dict[str, Any], ...]:
        return self.rows.get("photos", ())

    @property
    def ids(self) -> list[int]:
        return sorted(photo["id"] for photo in self.photos)

    def sha256(self, photo_id: int) -> str:
        """The content hash of a removed photo."""
        return next(photo["sha256"] for photo in self.photos if photo["id"] == photo_id)

    def vectors(self, bundle_key: str) -> dict[int, np.ndarray]:
        """Removed id -> embedding by ``bundle_key``, to put back into a similarity index."""
        return {
            row["photo_id"]: decode_vector(row["vector"], row["dim"])
            for row in self.rows.get("embeddings", ())
            if row["bundle_key"] == bundle_key
        }


class DuplicatePhotoError(CatalogError):
    """A photo with the same content is already in the catalog."""

    def __init__(self, existing: PhotoRow, path: str) -> None:
        self.existing = existing
        super().__init__(
            f"{path} is already in the catalog as photo {existing.id} ({existing.path}); "
            "it was not added again."
        )


def photo_row(photo: Any) -> PhotoRow:
    return PhotoRow(
        id=photo.id,
        path=photo.path,
        sha256=photo.sha256,
        size_bytes=photo.size_bytes,
        width=photo.width,
        height=photo.height,
        added_at=_aware(photo.added_at),
        review_state=photo.review_state,
        bundle=photo.bundle,
        product=photo.product,
    )


def prediction_row(prediction: Any) -> PredictionRow:
    return PredictionRow(
        photo_id=prediction.photo_id,
        bundle=prediction.bundle,
        family=prediction.family,
        label=prediction.label,
        confidence=prediction.confidence,
        rank=prediction.rank,
        threshold=prediction.threshold,
        correction_id=prediction.correction_id,
    )


def tag_row(tag: Any) -> TagRow:
    return TagRow(
        id=tag.id,
        photo_id=tag.photo_id,
        family=tag.family,
        value=tag.value,
        source=tag.source,
        status=tag.status,
        model=tag.model,
        updated_at=_aware(tag.updated_at),
        updated_by=tag.updated_by,
        version=tag.version_id,
    )


def audit_row(event: Any) -> AuditRow:
    return AuditRow(
        id=event.id,
        photo_id=event.photo_id,
        family=event.family,
        value=event.value,
        action=event.action,
        previous_value=event.previous_value,
        previous_status=event.previous_status,
        version=event.version,
        actor=event.actor,
        at=_aware(event.at),
    )


def decode_vector(data: bytes, dim: int) -> np.ndarray:
    """A stored embedding (little-endian float32 bytes) as a writable float32 vector."""
    return np.frombuffer(data, dtype="<f4", count=dim).astype(np.float32)


def _aware(moment: datetime) -> datetime:
    """Always UTC-aware: SQLite returns naive datetimes, PostgreSQL the session's zone."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def prediction_rows(
    photo_id: int, bundle_label: str | None, decisions: Sequence[Any]
) -> list[dict[str, Any]]:
    """Rows for one bulk INSERT: ORM objects per prediction cost more than the write."""
    return [
        {
            "photo_id": photo_id,
            "bundle": bundle_label or "",
            "family": decision.family,
            "label": suggestion.label,
            "confidence": float(suggestion.confidence),
            "rank": int(suggestion.rank),
            "threshold": float(decision.threshold),
            "correction_id": getattr(decision, "correction_id", None),
        }
        for decision in decisions
        for suggestion in decision.ranked
    ]
