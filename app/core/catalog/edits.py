"""Tag edits of the Catalog: single and bulk, each one transaction with its audit rows.

``expected_version`` (from ``TagRow.version`` or ``Catalog.tag_version``) makes an
edit conditional: if the slot changed since, ConflictError names who changed it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.core.catalog import slots
from app.core.catalog.engine import describe_error
from app.core.catalog.models import Photo
from app.core.catalog.rows import TagRow, tag_row
from app.core.catalog.sessions import CatalogSessions
from app.core.catalog.states import TagSource, TagStatus
from app.core.errors import VitrinaError

T = TypeVar("T")


class TagEdits(CatalogSessions):
    def _edit(
        self, photo_ids: Iterable[int], doing: str, change: Callable[[Session, Photo], T]
    ) -> list[T]:
        """Apply ``change`` to each photo (locked in id order, no deadlock) in ONE transaction,
        then recompute its review state (so an undo takes "reviewed" back, too)."""
        results = []
        with self._write(doing) as session:
            for photo_id in sorted(set(photo_ids)):
                photo = slots.lock_photo(session, photo_id)
                results.append(change(session, photo))
                slots.refresh_review_state(session, photo)
        return results

    def _decide(
        self,
        photo_ids: Iterable[int],
        family: str | None,
        value: str,
        kind: tuple[str, str, str],
        actor: str | None,
        expected: Mapping[int, int] | None,
    ) -> list[TagRow | None]:
        status, source, action = kind
        who = actor or slots.default_actor()

        def change(session: Session, photo: Photo) -> TagRow | None:
            tag = slots.decide(
                session,
                photo,
                family,
                value,
                status=status,
                source=source,
                action=action,
                actor=who,
                expected_version=(expected or {}).get(photo.id),
                model=photo.bundle if source == TagSource.MODEL else None,
            )
            return tag_row(tag) if tag is not None else None

        return self._edit(photo_ids, f"'{action} {value}'", change)

    def accept(
        self,
        photo_id: int,
        family: str,
        value: str,
        actor: str | None = None,
        expected_version: int | None = None,
    ) -> TagRow | None:
        """Accept a suggestion; it replaces the family's previous value. None: no change."""
        return self.accept_many([photo_id], family, value, actor, _one(photo_id, expected_version))[
            0
        ]

    def reject(
        self,
        photo_id: int,
        family: str,
        value: str,
        actor: str | None = None,
        expected_version: int | None = None,
    ) -> TagRow | None:
        """Mark a value wrong for the family (no change if another value is accepted)."""
        return self.reject_many([photo_id], family, value, actor, _one(photo_id, expected_version))[
            0
        ]

    def set_tag(
        self,
        photo_id: int,
        family: str,
        value: str,
        actor: str | None = None,
        expected_version: int | None = None,
    ) -> TagRow | None:
        """A human correction: the family's value becomes ``value`` (source ``human``)."""
        return self.set_tag_many(
            [photo_id], family, value, actor, _one(photo_id, expected_version)
        )[0]

    def add_free_tag(self, photo_id: int, value: str, actor: str | None = None) -> TagRow | None:
        """A free-form keyword (no family); None if the photo already has it."""
        return self.add_free_tag_many([photo_id], value, actor)[0]

    def remove_tag(
        self,
        photo_id: int,
        family: str | None,
        value: str,
        actor: str | None = None,
        expected_version: int | None = None,
    ) -> bool:
        """Remove a free-form tag (family None) or a family's value; False if not there."""
        return self.remove_tag_many(
            [photo_id], family, value, actor, _one(photo_id, expected_version)
        )[0]

    def accept_confident(
        self,
        photo_id: int,
        actor: str | None = None,
        thresholds: Mapping[str, float] | None = None,
        decisions: Sequence[Any] | None = None,
    ) -> list[TagRow]:
        """'Accept all confident': undecided families whose top suggestion is confident.

        Uses ``decisions`` (tagging.FamilyDecision-like) when given, else the stored
        predictions with ``thresholds`` overriding the stored thresholds. The photo is
        reviewed only if no family is left undecided (an uncertain one stays open).
        """
        who = actor or slots.default_actor()

        def change(session: Session, photo: Photo) -> list[TagRow]:
            tags = slots.accept_confident(
                session, photo, actor=who, thresholds=thresholds, decisions=decisions
            )
            return [tag_row(t) for t in tags]

        return self._edit([photo_id], "accepting the confident tags", change)[0]

    def accept_many(
        self,
        photo_ids: Iterable[int],
        family: str,
        value: str,
        actor: str | None = None,
        expected_versions: Mapping[int, int] | None = None,
    ) -> list[TagRow | None]:
        kind = (TagStatus.ACCEPTED, TagSource.MODEL, "accept")
        return self._decide(photo_ids, family, value, kind, actor, expected_versions)

    def reject_many(
        self,
        photo_ids: Iterable[int],
        family: str,
        value: str,
        actor: str | None = None,
        expected_versions: Mapping[int, int] | None = None,
    ) -> list[TagRow | None]:
        kind = (TagStatus.REJECTED, TagSource.MODEL, "reject")
        return self._decide(photo_ids, family, value, kind, actor, expected_versions)

    def set_tag_many(
        self,
        photo_ids: Iterable[int],
        family: str,
        value: str,
        actor: str | None = None,
        expected_versions: Mapping[int, int] | None = None,
    ) -> list[TagRow | None]:
        kind = (TagStatus.ACCEPTED, TagSource.HUMAN, "set")
        return self._decide(photo_ids, family, value, kind, actor, expected_versions)

    def set_rows(
        self, rows: Sequence[tuple[int, Sequence[tuple[str | None, str]]]], actor: str | None = None
    ) -> list[int | str]:
        """Rows of a tag file in ONE transaction, each row whole or not at all (a savepoint
        each): per row, a photo id and its labels (family, value) and free tags (None,
        value), set as the human's decisions. Per row: how many tags changed, or why the row
        was not written (a value the database refuses, a photo removed meanwhile)."""
        who = actor or slots.default_actor()
        results: list[int | str] = []
        with self._write(f"applying {len(rows):,} rows of tags") as session:
            for photo_id, edits in rows:
                try:
                    with session.begin_nested():
                        photo = slots.lock_photo(session, photo_id)
                        changed = 0
                        for family, value in edits:
                            tag = slots.decide(
                                session,
                                photo,
                                family,
                                value,
                                status=TagStatus.ACCEPTED,
                                source=TagSource.HUMAN,
                                action="set" if family is not None else "add",
                                actor=who,
                                expected_version=None,
                            )
                            changed += tag is not None
                        slots.refresh_review_state(session, photo)
                    results.append(changed)
                except VitrinaError as exc:
                    results.append(str(exc))
                except DBAPIError as exc:
                    results.append(describe_error(self.url, f"photo {photo_id}'s row", exc))
        return results

    def add_free_tag_many(
        self, photo_ids: Iterable[int], value: str, actor: str | None = None
    ) -> list[TagRow | None]:
        return self._decide(
            photo_ids, None, value, (TagStatus.ACCEPTED, TagSource.HUMAN, "add"), actor, None
        )

    def remove_tag_many(
        self,
        photo_ids: Iterable[int],
        family: str | None,
        value: str,
        actor: str | None = None,
        expected_versions: Mapping[int, int] | None = None,
    ) -> list[bool]:
        who = actor or slots.default_actor()

        def change(session: Session, photo: Photo) -> bool:
            expected = (expected_versions or {}).get(photo.id)
            return slots.remove(session, photo, family, value, actor=who, expected_version=expected)

        return self._edit(photo_ids, f"removing '{value}'", change)

    def accept_confident_many(
        self,
        photo_ids: Iterable[int],
        actor: str | None = None,
        thresholds: Mapping[str, float] | None = None,
    ) -> dict[int, list[TagRow]]:
        who = actor or slots.default_actor()

        def change(session: Session, photo: Photo) -> tuple[int, list[TagRow]]:
            tags = slots.accept_confident(session, photo, actor=who, thresholds=thresholds)
            return photo.id, [tag_row(t) for t in tags]

        return dict(self._edit(photo_ids, "accepting the confident tags", change))


def _one(photo_id: int, expected_version: int | None) -> dict[int, int] | None:
    return None if expected_version is None else {photo_id: expected_version}
