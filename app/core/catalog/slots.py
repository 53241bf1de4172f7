"""Tag slots inside one write transaction: version check, change, audit row, review state.

A family has one *slot* per photo (its accepted or rejected value); a free-form tag
is its own slot. Each slot has a version that only ever grows, also across removal
(the audit trail remembers it), so an ``expected_version`` can never match a
slot that changed after the caller read it.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.catalog.models import Photo, Prediction, Tag, TagEvent, utcnow
from app.core.catalog.states import ReviewState, TagSource, TagStatus
from app.core.errors import CatalogError, ConflictError
from app.core.tagging import is_confident


class PhotoNotFoundError(CatalogError):
    """No photo has this id (it may have been removed by someone else)."""


def default_actor() -> str:
    """Who edits, as written to the audit trail when the caller names nobody."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def lock_photo(session: Session, photo_id: int) -> Photo:
    """The photo row, locked for this transaction on servers that lock rows (PostgreSQL).

    SQLite needs no row lock: a write transaction there holds the database write lock.
    """
    photo = session.scalar(select(Photo).where(Photo.id == photo_id).with_for_update())
    if photo is None:
        raise PhotoNotFoundError(
            f"Photo {photo_id} is not in the catalog (it may have been removed); "
            "reload the list and try again."
        )
    return photo


def _slot_filter(photo_id: int, family: str | None, value: str, model: type[Any]) -> list[Any]:
    if family is None:
        return [model.photo_id == photo_id, model.family.is_(None), model.value == value]
    return [model.photo_id == photo_id, model.family == family]


def find_slot(session: Session, photo_id: int, family: str | None, value: str) -> Tag | None:
    return session.scalar(select(Tag).where(*_slot_filter(photo_id, family, value, Tag)))


def slot_version(session: Session, photo_id: int, family: str | None, value: str) -> int:
    """The slot's version: the tag's, or after a removal the last audited one, else 0."""
    tag = find_slot(session, photo_id, family, value)
    if tag is not None:
        return tag.version_id
    last = session.scalar(
        select(func.max(TagEvent.version)).where(*_slot_filter(photo_id, family, value, TagEvent))
    )
    return last or 0


def _last_event(session: Session, photo_id: int, family: str | None, value: str) -> TagEvent | None:
    return session.scalar(
        select(TagEvent)
        .where(*_slot_filter(photo_id, family, value, TagEvent))
        .order_by(TagEvent.version.desc(), TagEvent.id.desc())
        .limit(1)
    )


def check_version(
    session: Session,
    photo: Photo,
    family: str | None,
    value: str,
    expected_version: int | None,
) -> int:
    """The slot's current version; ConflictError if the caller saw another one."""
    current = slot_version(session, photo.id, family, value)
    if expected_version is None or expected_version == current:
        return current
    last = _last_event(session, photo.id, family, value)
    slot = f"the '{family}' tag" if family else f"the free-form tag '{value}'"
    if last is None:
        change = "was changed"
    elif last.action == "remove":
        change = f"was removed by {last.actor} at {last.at:%Y-%m-%d %H:%M:%S}"
    else:
        change = (
            f"was set to '{last.value}' ({_status_of(last.action)}) by {last.actor} "
            f"at {last.at:%Y-%m-%d %H:%M:%S}"
        )
    raise ConflictError(
        f"Photo {photo.id} ({photo.path}): {slot} {change} after you loaded it "
        f"(version {current}, you saw {expected_version}); your edit was not saved. "
        "Reload the photo to see the change, then edit again."
    )


def _status_of(action: str) -> str:
    return TagStatus.REJECTED if action == "reject" else TagStatus.ACCEPTED


def _audit(
    session: Session,
    photo_id: int,
    family: str | None,
    value: str,
    action: str,
    previous: tuple[str | None, str | None],
    version: int,
    actor: str,
) -> None:
    session.add(
        TagEvent(
            photo_id=photo_id,
            family=family,
            value=value,
            action=action,
            previous_value=previous[0],
            previous_status=previous[1],
            version=version,
            actor=actor,
            at=utcnow(),
        )
    )


def decide(
    session: Session,
    photo: Photo,
    family: str | None,
    value: str,
    *,
    status: str,
    source: str,
    action: str,
    actor: str,
    expected_version: int | None,
    model: str | None = None,
) -> Tag | None:
    """Put ``value`` with ``status`` into the slot (replacing a family's previous value).

    Returns the slot's tag, or ``None`` when nothing changed (no audit row then).
    """
    current = check_version(session, photo, family, value, expected_version)
    tag = find_slot(session, photo.id, family, value)
    if tag is None:
        tag = Tag(
            photo_id=photo.id,
            family=family,
            value=value,
            source=source,
            status=status,
            model=model,
            updated_at=utcnow(),
            updated_by=actor,
            version_id=current + 1,
        )
        session.add(tag)
        previous: tuple[str | None, str | None] = (None, None)
    else:
        if status == TagStatus.REJECTED and tag.status == TagStatus.ACCEPTED and tag.value != value:
            return None
        if (tag.value, tag.status) == (value, status):
            return None
        previous = (tag.value, tag.status)
        tag.value, tag.status, tag.source, tag.model = value, status, source, model
        tag.updated_at, tag.updated_by = utcnow(), actor
        tag.version_id = current + 1
    _audit(session, photo.id, family, value, action, previous, current + 1, actor)
    session.flush()
    return tag


def remove(
    session: Session,
    photo: Photo,
    family: str | None,
    value: str,
    *,
    actor: str,
    expected_version: int | None,
) -> bool:
    """Delete the slot's tag if it holds ``value``; the audit keeps its version going."""
    current = check_version(session, photo, family, value, expected_version)
    tag = find_slot(session, photo.id, family, value)
    if tag is None or tag.value != value:
        return False
    previous = (tag.value, tag.status)
    session.delete(tag)
    _audit(session, photo.id, family, value, "remove", previous, current + 1, actor)
    session.flush()
    return True


def top_predictions(session: Session, photo_id: int) -> list[Prediction]:
    return list(
        session.scalars(
            select(Prediction)
            .where(Prediction.photo_id == photo_id, Prediction.rank == 1)
            .order_by(Prediction.family)
        )
    )


def accept_confident(
    session: Session,
    photo: Photo,
    *,
    actor: str,
    thresholds: Mapping[str, float] | None = None,
    decisions: Iterable[Any] | None = None,
) -> list[Tag]:
    """Accept each confident top suggestion in families no one has decided yet.

    ``decisions`` (tagging.FamilyDecision-like) win over the stored predictions;
    ``thresholds`` override the stored thresholds per family.
    """
    thresholds = thresholds or {}
    if decisions is not None:
        candidates = [
            (d.family, d.top.label, d.top.confidence, thresholds.get(d.family, d.threshold))
            for d in decisions
        ]
    else:
        candidates = [
            (p.family, p.label, p.confidence, thresholds.get(p.family, p.threshold))
            for p in top_predictions(session, photo.id)
        ]
    accepted = []
    for family, label, confidence, threshold in candidates:
        if not is_confident(confidence, threshold):
            continue
        if find_slot(session, photo.id, family, label) is not None:
            continue
        tag = decide(
            session,
            photo,
            family,
            label,
            status=TagStatus.ACCEPTED,
            source=TagSource.MODEL,
            action="accept_confident",
            actor=actor,
            expected_version=None,
            model=photo.bundle,
        )
        if tag is not None:
            accepted.append(tag)
    return accepted


def refresh_review_state(session: Session, photo: Photo) -> None:
    """Recompute the photo's review state from its tags, after every edit (an undo too).

    ``reviewed`` once a human decided (accepted, set or rejected) every family the model
    predicted; accepting the confident ones leaves an uncertain family open, so the photo
    stays ``suggested`` and taking a decision back makes it ``suggested`` again. A photo
    without predictions stays ``new``. The one rule, for the CLI and the window alike.
    """
    predicted = set(
        session.scalars(select(Prediction.family).where(Prediction.photo_id == photo.id).distinct())
    )
    if not predicted:
        photo.review_state = ReviewState.NEW
        return
    decided = set(
        session.scalars(
            select(Tag.family).where(Tag.photo_id == photo.id, Tag.family.is_not(None)).distinct()
        )
    )
    photo.review_state = ReviewState.REVIEWED if predicted <= decided else ReviewState.SUGGESTED
