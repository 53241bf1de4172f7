"""Catalog methods for the shop side: near-duplicate flags, photos grouped into one product,
and this catalog's overrides of the taxonomy map.

A flag is written at import (store.py, with the photo); here the staff decide on it:
grouped into one product or dismissed. A product is the set of photos sharing
``photos.product``: the id of its first photo.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from app.core.catalog.models import NearDuplicate, Photo, Tag, TaxonomyOverride, utcnow
from app.core.catalog.reads import HASHES_PER_QUERY
from app.core.catalog.rows import _aware
from app.core.catalog.sessions import CatalogSessions
from app.core.catalog.slots import default_actor
from app.core.catalog.states import TagStatus

CHUNK = 5000


@dataclass(frozen=True)
class NearDuplicateRow:
    """A photo flagged as looking like an earlier one, and the staff's decision on it."""

    photo_id: int
    original_id: int
    distance: int
    status: str  # open | dismissed | grouped
    path: str
    original_path: str


@dataclass(frozen=True)
class OverrideRow:
    """This catalog's shop categories for a label; None keeps the taxonomy map's."""

    label: str
    google_id: str | None
    shopify_path: str | None
    updated_by: str
    updated_at: datetime


class ShopProducts(CatalogSessions):
    # --- near-duplicates --------------------------------------------------------------

    def near_hashes(self) -> Iterator[tuple[str, bytes]]:
        """(content hash, perceptual hash) of every photo that has one, by id, chunk by
        chunk: what an import compares new photos with."""
        after = 0
        while True:
            with self._read("reading photo hashes") as session:
                rows = session.execute(
                    select(Photo.id, Photo.sha256, Photo.near_hash)
                    .where(Photo.id > after, Photo.near_hash.is_not(None))
                    .order_by(Photo.id)
                    .limit(CHUNK)
                ).all()
            if not rows:
                return
            for _, sha, value in rows:
                yield sha, bytes(value)
            after = rows[-1][0]

    def near_duplicates(
        self, photo_ids: Iterable[int] | None = None, status: str | None = "open"
    ) -> list[NearDuplicateRow]:
        """Flags, oldest photo first: all of them, or those naming one of ``photo_ids``
        (as the flagged photo or as its look-alike); ``status`` None: any status."""
        wanted = None if photo_ids is None else sorted({int(i) for i in photo_ids})
        original = aliased(Photo)
        statement = (
            select(NearDuplicate, Photo.path, original.path)
            .join(Photo, Photo.id == NearDuplicate.photo_id)
            .join(original, original.id == NearDuplicate.original_id)
        )
        if status is not None:
            statement = statement.where(NearDuplicate.status == status)
        found: dict[tuple[int, int], NearDuplicateRow] = {}
        with self._read("reading near-duplicates") as session:
            chunks = [None] if wanted is None else _chunks(wanted, HASHES_PER_QUERY)
            for chunk in chunks:
                query = statement
                if chunk is not None:
                    query = query.where(
                        or_(NearDuplicate.photo_id.in_(chunk), NearDuplicate.original_id.in_(chunk))
                    )
                for flag, path, original_path in session.execute(query):
                    found[(flag.photo_id, flag.original_id)] = NearDuplicateRow(
                        flag.photo_id,
                        flag.original_id,
                        flag.distance,
                        flag.status,
                        path,
                        original_path,
                    )
        return [found[key] for key in sorted(found)]

    def near_duplicate_marks(self, photo_ids: Iterable[int]) -> dict[int, int]:
        """Flagged photo -> the photo it looks like, for the open flags among ``photo_ids``:
        one grid page's marks in one query (the nearest look-alike when there are several)."""
        wanted = sorted({int(i) for i in photo_ids})
        if not wanted:
            return {}
        marks: dict[int, int] = {}
        with self._read("reading near-duplicate marks") as session:
            for chunk in _chunks(wanted, HASHES_PER_QUERY):
                rows = session.execute(
                    select(NearDuplicate.photo_id, NearDuplicate.original_id)
                    .where(NearDuplicate.photo_id.in_(chunk), NearDuplicate.status == "open")
                    .order_by(NearDuplicate.photo_id, NearDuplicate.distance.desc())
                )
                marks.update(dict(rows.all()))
        return marks

    def dismiss_near_duplicates(self, photo_ids: Iterable[int], actor: str | None = None) -> int:
        """Not the same product: close the open flags naming these photos; how many."""
        wanted = sorted({int(i) for i in photo_ids})
        done = 0
        with self._write(f"dismissing near-duplicates of {len(wanted):,} photo(s)") as session:
            for chunk in _chunks(wanted, HASHES_PER_QUERY):
                done += _decide(session, chunk, "dismissed", actor or default_actor())
        return done

    # --- products ---------------------------------------------------------------------

    def group_photos(self, photo_ids: Iterable[int], actor: str | None = None) -> int:
        """Make these photos, and the photos already in a product with one of them, one
        product; their flags among each other are closed as grouped. Returns the product
        key (the smallest id), which the shop exports use for its handle."""
        wanted = sorted({int(i) for i in photo_ids})
        if len(wanted) < 2:
            raise ValueError("a product needs two photos or more")
        with self._write(f"grouping {len(wanted):,} photos into one product") as session:
            products = set(
                session.scalars(
                    select(Photo.product).where(Photo.id.in_(wanted), Photo.product.is_not(None))
                )
            )
            members = set(wanted)
            if products:
                members |= set(session.scalars(select(Photo.id).where(Photo.product.in_(products))))
            key = min(members)
            session.execute(update(Photo).where(Photo.id.in_(members)).values(product=key))
            session.execute(
                update(NearDuplicate)
                .where(
                    NearDuplicate.photo_id.in_(members),
                    NearDuplicate.original_id.in_(members),
                    NearDuplicate.status == "open",
                )
                .values(status="grouped", decided_by=actor or default_actor(), decided_at=utcnow())
            )
        return key

    def ungroup_photos(self, photo_ids: Iterable[int]) -> int:
        """Take these photos out of their products (a product left with one photo ends
        too); how many photos left a product."""
        wanted = sorted({int(i) for i in photo_ids})
        with self._write(f"taking {len(wanted):,} photo(s) out of their products") as session:
            products = set(
                session.scalars(
                    select(Photo.product).where(Photo.id.in_(wanted), Photo.product.is_not(None))
                )
            )
            left = session.execute(
                update(Photo)
                .where(Photo.id.in_(wanted), Photo.product.is_not(None))
                .values(product=None)
            ).rowcount
            alone = session.execute(
                select(Photo.product)
                .where(Photo.product.in_(products))
                .group_by(Photo.product)
                .having(func.count() == 1)
            ).scalars()
            session.execute(
                update(Photo).where(Photo.product.in_(list(alone))).values(product=None)
            )
        return int(left or 0)

    def product_members(self, photo_ids: Iterable[int]) -> dict[int, list[int]]:
        """Product key -> its photos (by id), for the products of these photos."""
        wanted = sorted({int(i) for i in photo_ids})
        members: dict[int, list[int]] = {}
        with self._read("reading products") as session:
            for chunk in _chunks(wanted, HASHES_PER_QUERY):
                keys = select(Photo.product).where(Photo.id.in_(chunk)).scalar_subquery()
                for photo_id, key in session.execute(
                    select(Photo.id, Photo.product).where(Photo.product.in_(keys))
                ):
                    members.setdefault(key, []).append(photo_id)
        return {key: sorted(ids) for key, ids in members.items()}

    # --- taxonomy overrides -------------------------------------------------------------

    def taxonomy_overrides(self) -> dict[str, OverrideRow]:
        statement = select(TaxonomyOverride).order_by(TaxonomyOverride.label)
        with self._read("reading the taxonomy overrides") as session:
            return {
                row.label: OverrideRow(
                    row.label,
                    row.google_id,
                    row.shopify_path,
                    row.updated_by,
                    _aware(row.updated_at),
                )
                for row in session.scalars(statement)
            }

    def set_taxonomy_override(
        self,
        label: str,
        google_id: str | None,
        shopify_path: str | None,
        actor: str | None = None,
    ) -> None:
        """This catalog's Google id and Shopify path for ``label`` (checked by
        app.core.taxonomy); both None removes the override."""
        with self._write(f"saving the taxonomy row of {label!r}") as session:
            session.execute(delete(TaxonomyOverride).where(TaxonomyOverride.label == label))
            if google_id is None and shopify_path is None:
                return
            session.add(
                TaxonomyOverride(
                    label=label,
                    google_id=google_id,
                    shopify_path=shopify_path,
                    updated_by=actor or default_actor(),
                    updated_at=utcnow(),
                )
            )

    def labels_in_use(self, family: str) -> dict[str, int]:
        """A family's accepted labels and how many photos carry each: the shop's own
        category labels among them need a taxonomy row before they can be exported."""
        with self._read(f"counting the {family} labels") as session:
            rows = session.execute(
                select(Tag.value, func.count())
                .where(Tag.family == family, Tag.status == TagStatus.ACCEPTED)
                .group_by(Tag.value)
            )
            return dict(rows.all())


def _decide(session: Session, chunk: list[int], status: str, actor: str) -> int:
    result = session.execute(
        update(NearDuplicate)
        .where(
            or_(NearDuplicate.photo_id.in_(chunk), NearDuplicate.original_id.in_(chunk)),
            NearDuplicate.status == "open",
        )
        .values(status=status, decided_by=actor, decided_at=utcnow())
    )
    return int(result.rowcount or 0)


def _chunks(values: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
