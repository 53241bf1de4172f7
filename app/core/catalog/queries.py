"""Read-only queries: the grid's filter, statistics, export rows, stored embeddings.

Built to stay fast at 100,000+ photos: filters are EXISTS subqueries on indexed
columns, pages are ordered by id, large reads go in chunks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Select, case, exists, false, func, not_, or_, select
from sqlalchemy.orm import Session

from app.core.catalog.models import Embedding, NearDuplicate, Photo, Prediction, Tag
from app.core.catalog.rows import (
    FREE_FORM,
    ExportRow,
    PhotoFilter,
    decode_vector,
    photo_row,
    prediction_row,
)
from app.core.catalog.states import ReviewState, TagStatus
from app.core.tagging import is_confident


def _threshold_of(thresholds: Mapping[str, float]) -> Any:
    """The threshold in force per prediction row: the override, else the stored one."""
    if not thresholds:
        return Prediction.threshold
    return case(
        *[(Prediction.family == family, value) for family, value in thresholds.items()],
        else_=Prediction.threshold,
    )


def _top(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(Prediction.photo_id == Photo.id, Prediction.rank == 1, *conditions)


def _accepted(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(Tag.photo_id == Photo.id, Tag.status == TagStatus.ACCEPTED, *conditions)


def filter_clauses(flt: PhotoFilter) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if flt.text and flt.text.strip():
        text = flt.text.strip()
        clauses.append(
            or_(
                _accepted(Tag.value.icontains(text, autoescape=True)),
                _top(Prediction.label.icontains(text, autoescape=True)),
                Photo.path.icontains(text, autoescape=True),
            )
        )
    if flt.family is not None or flt.label is not None:
        tag_match, top_match = [], []
        if flt.family is not None:
            tag_match.append(Tag.family == flt.family)
            top_match.append(Prediction.family == flt.family)
        if flt.label is not None:
            tag_match.append(Tag.value == flt.label)
            top_match.append(Prediction.label == flt.label)
        clauses.append(or_(_accepted(*tag_match), _top(*top_match)))
    if flt.review_state is not None:
        clauses.append(Photo.review_state == flt.review_state)
    if flt.uncertain_only:
        clauses.append(
            _top(not_(is_confident(Prediction.confidence, _threshold_of(flt.thresholds))))
        )
    if flt.near_duplicates:
        clauses.append(
            exists().where(
                or_(NearDuplicate.photo_id == Photo.id, NearDuplicate.original_id == Photo.id),
                NearDuplicate.status == "open",
            )
        )
    return clauses


def _least_certain() -> Any:
    """A photo's lowest top-suggestion confidence over its families (2 without any, so
    they come last)."""
    lowest = (
        select(func.min(Prediction.confidence))
        .where(Prediction.photo_id == Photo.id, Prediction.rank == 1)
        .scalar_subquery()
    )
    return func.coalesce(lowest, 2.0)


def ordered(statement: Select[Any], flt: PhotoFilter | None) -> Select[Any]:
    """The grid's order (PhotoFilter.order): by id, or the least certain first."""
    if flt is not None and flt.order == "uncertain":
        reviewed = case((Photo.review_state == ReviewState.REVIEWED, 1), else_=0)
        return statement.order_by(reviewed, _least_certain(), Photo.id)
    return statement.order_by(Photo.id)


def filtered(statement: Select[Any], flt: PhotoFilter | None) -> Select[Any]:
    return statement.where(*filter_clauses(flt)) if flt is not None else statement


def count(session: Session, flt: PhotoFilter | None) -> int:
    return session.scalar(filtered(select(func.count(Photo.id)), flt)) or 0


def list_photos(session: Session, flt: PhotoFilter | None, offset: int, limit: int) -> list[Any]:
    statement = ordered(filtered(select(Photo), flt), flt).offset(offset).limit(limit)
    return [photo_row(photo) for photo in session.scalars(statement)]


def photo_ids(session: Session, flt: PhotoFilter | None) -> list[int]:
    return list(session.scalars(ordered(filtered(select(Photo.id), flt), flt)))


def accepted_tag_count(session: Session, photo_ids: list[int]) -> int:
    statement = select(func.count(Tag.id)).where(
        Tag.photo_id.in_(photo_ids), Tag.status == TagStatus.ACCEPTED
    )
    return session.scalar(statement) or 0


def uncertain_among(
    session: Session, ids: Iterable[int], thresholds: Mapping[str, float]
) -> set[int]:
    """Which of ``ids`` have a top suggestion under its threshold: one grid page's marks."""
    wanted = list(ids)
    if not wanted:
        return set()
    statement = select(Prediction.photo_id).where(
        Prediction.photo_id.in_(wanted),
        Prediction.rank == 1,
        not_(is_confident(Prediction.confidence, _threshold_of(thresholds))),
    )
    return set(session.scalars(statement.distinct()))


def stats(session: Session, thresholds: Mapping[str, float]) -> dict[str, Any]:
    """Counts for `vitrina stats` and the window's status bar."""
    states = {state.value: 0 for state in ReviewState}
    for state, number in session.execute(
        select(Photo.review_state, func.count()).group_by(Photo.review_state)
    ):
        states[state] = number
    tags: dict[str, dict[str, int]] = {}
    for family, status, number in session.execute(
        select(Tag.family, Tag.status, func.count()).group_by(Tag.family, Tag.status)
    ):
        per = tags.setdefault(family or FREE_FORM, {"accepted": 0, "rejected": 0})
        per[status] = number
    confident = func.sum(
        case((is_confident(Prediction.confidence, _threshold_of(thresholds)), 1), else_=0)
    )
    shares = {
        family: (confident_count or 0) / total
        for family, total, confident_count in session.execute(
            select(Prediction.family, func.count(), confident)
            .where(Prediction.rank == 1)
            .group_by(Prediction.family)
            .order_by(Prediction.family)
        )
    }
    embeddings = {
        key: number
        for key, number in session.execute(
            select(Embedding.bundle_key, func.count()).group_by(Embedding.bundle_key)
        )
    }
    return {
        "photos": sum(states.values()),
        "review_state": states,
        "tags": dict(sorted(tags.items())),
        "confident_share": shares,
        "embeddings": embeddings,
    }


def embedding_chunk(
    session: Session, bundle_key: str, after_id: int, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Ids (int64) and vectors (float32, one per row) of the next ``size`` photos after an id."""
    rows = session.execute(
        select(Embedding.photo_id, Embedding.dim, Embedding.vector)
        .where(Embedding.bundle_key == bundle_key, Embedding.photo_id > after_id)
        .order_by(Embedding.photo_id)
        .limit(size)
    ).all()
    ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    if not rows:
        return ids, np.empty((0, 0), dtype=np.float32)
    return ids, np.stack([decode_vector(row[2], row[1]) for row in rows])


def embedded_photos(session: Session, bundle_key: str) -> dict[int, str]:
    """Photo id -> content hash of every photo with an embedding under this bundle key."""
    rows = session.execute(
        select(Photo.id, Photo.sha256)
        .join(Embedding, Embedding.photo_id == Photo.id)
        .where(Embedding.bundle_key == bundle_key)
    )
    return {photo_id: sha256 for photo_id, sha256 in rows}


def _missing_embedding(bundle_key: str) -> ColumnElement[bool]:
    """The one definition of "missing": a photo with no embedding under this bundle key."""
    return ~exists().where(Embedding.photo_id == Photo.id, Embedding.bundle_key == bundle_key)


def missing_embedding(session: Session, bundle_key: str) -> list[int]:
    statement = select(Photo.id).where(_missing_embedding(bundle_key)).order_by(Photo.id)
    return list(session.scalars(statement))


def count_missing_embedding(session: Session, bundle_key: str) -> int:
    statement = select(func.count(Photo.id)).where(_missing_embedding(bundle_key))
    return session.scalar(statement) or 0


def export_chunk(
    session: Session, after_id: int, size: int, accepted_only: bool
) -> list[ExportRow]:
    statement = select(Photo).where(Photo.id > after_id)
    if accepted_only:
        statement = statement.where(_accepted())
    photos = list(session.scalars(statement.order_by(Photo.id).limit(size)))
    ids = [photo.id for photo in photos]
    tags = _by_photo(session.scalars(select(Tag).where(Tag.photo_id.in_(ids) if ids else false())))
    top: dict[int, list[Prediction]] = {}
    if not accepted_only and ids:
        top = _by_photo(
            session.scalars(
                select(Prediction).where(Prediction.photo_id.in_(ids), Prediction.rank == 1)
            )
        )
    return [_export_row(photo, tags.get(photo.id, []), top.get(photo.id, [])) for photo in photos]


def _by_photo(rows: Iterable[Any]) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.photo_id, []).append(row)
    return grouped


def _export_row(photo: Photo, tags: list[Tag], top: list[Prediction]) -> ExportRow:
    accepted = {t.family: t.value for t in tags if t.family and t.status == TagStatus.ACCEPTED}
    rejected = {t.family: t.value for t in tags if t.family and t.status == TagStatus.REJECTED}
    free = tuple(
        sorted(t.value for t in tags if t.family is None and t.status == TagStatus.ACCEPTED)
    )
    return ExportRow(
        photo=photo_row(photo),
        accepted=dict(sorted(accepted.items())),
        free_tags=free,
        rejected=dict(sorted(rejected.items())),
        top={p.family: prediction_row(p) for p in sorted(top, key=lambda p: p.family)},
    )
