"""SQLAlchemy models of the catalog; the Alembic migrations must produce exactly this schema."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from app.core.catalog.states import ReviewState, TagSource, TagStatus

REVIEW_STATES = tuple(ReviewState)
TAG_SOURCES = tuple(TagSource)
TAG_STATUSES = tuple(TagStatus)

NAMING = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Photo(Base):
    """One imported file, identified by the hash of its bytes."""

    __tablename__ = "photos"
    __table_args__ = (
        CheckConstraint(f"review_state IN {REVIEW_STATES}", name="review_state"),
        Index("ix_photos_review_state", "review_state"),
        Index("ix_photos_path", "path"),
        Index("ix_photos_product", "product"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    review_state: Mapped[str] = mapped_column(String(16), default=ReviewState.NEW)
    bundle: Mapped[str | None] = mapped_column(String(200))
    # app.core.near_duplicates.perceptual_hash of the decoded photo (None: imported before)
    near_hash: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Photos the staff grouped into one shop product share this: the id of its first photo
    # (not a foreign key: the product keeps its key when that photo is removed).
    product: Mapped[int | None] = mapped_column(Integer)

    predictions: Mapped[list[Prediction]] = relationship(
        back_populates="photo", cascade="all, delete-orphan", passive_deletes=True
    )
    tags: Mapped[list[Tag]] = relationship(
        back_populates="photo", cascade="all, delete-orphan", passive_deletes=True
    )
    events: Mapped[list[TagEvent]] = relationship(
        back_populates="photo", cascade="all, delete-orphan", passive_deletes=True
    )
    embeddings: Mapped[list[Embedding]] = relationship(
        back_populates="photo", cascade="all, delete-orphan", passive_deletes=True
    )
    features: Mapped[list[PhotoFeatures]] = relationship(
        back_populates="photo", cascade="all, delete-orphan", passive_deletes=True
    )


class Prediction(Base):
    """A ranked suggestion of a bundle for one family; kept whether confident or not."""

    __tablename__ = "predictions"
    __table_args__ = (
        Index("ix_predictions_photo_id", "photo_id"),
        Index("ix_predictions_family_label_rank", "family", "label", "rank"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"))
    bundle: Mapped[str] = mapped_column(String(200))
    family: Mapped[str] = mapped_column(String(100))
    label: Mapped[str] = mapped_column(String(200))
    confidence: Mapped[float] = mapped_column(Float)
    rank: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[float] = mapped_column(Float)
    # The catalog's learned correction (corrections.id) the suggestion came from; None:
    # the bundle alone. Not a foreign key: forgetting a correction restores the bundle's.
    correction_id: Mapped[int | None] = mapped_column(Integer)

    photo: Mapped[Photo] = relationship(back_populates="predictions")


class Tag(Base):
    """A human decision: one row per (photo, family) slot, or per free-form value.

    ``version_id`` is bumped on every change; an edit made against an older version
    is refused (optimistic locking), so no edit silently overwrites one it did not see.
    """

    __tablename__ = "tags"
    __table_args__ = (
        CheckConstraint(f"source IN {TAG_SOURCES}", name="source"),
        CheckConstraint(f"status IN {TAG_STATUSES}", name="status"),
        Index("ix_tags_photo_id", "photo_id"),
        Index("ix_tags_value", "value"),
        Index("ix_tags_family_value", "family", "value"),
        Index(
            "uq_tags_family_slot",
            "photo_id",
            "family",
            unique=True,
            sqlite_where=text("family IS NOT NULL"),
            postgresql_where=text("family IS NOT NULL"),
        ),
        Index(
            "uq_tags_free_value",
            "photo_id",
            "value",
            unique=True,
            sqlite_where=text("family IS NULL"),
            postgresql_where=text("family IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"))
    family: Mapped[str | None] = mapped_column(String(100))
    value: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    model: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200))
    version_id: Mapped[int] = mapped_column(Integer)

    photo: Mapped[Photo] = relationship(back_populates="tags")

    # The catalog sets each new version itself (it continues across removals, see
    # edits.py); SQLAlchemy still refuses an UPDATE whose version changed meanwhile.
    __mapper_args__ = {"version_id_col": version_id, "version_id_generator": False}  # noqa: RUF012


class TagEvent(Base):
    """The audit trail: one row per tag change, written in the same transaction."""

    __tablename__ = "tag_events"
    __table_args__ = (
        Index("ix_tag_events_photo_id", "photo_id"),
        Index("ix_tag_events_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"))
    family: Mapped[str | None] = mapped_column(String(100))
    value: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))
    previous_value: Mapped[str | None] = mapped_column(String(200))
    previous_status: Mapped[str | None] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    photo: Mapped[Photo] = relationship(back_populates="events")


class Embedding(Base):
    """The bundle's vector for a photo, so any machine can rebuild its similarity index."""

    __tablename__ = "embeddings"

    photo_id: Mapped[int] = mapped_column(
        ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True
    )
    bundle_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)

    photo: Mapped[Photo] = relationship(back_populates="embeddings")


class PhotoFeatures(Base):
    """What the catalog learns from its reviews with, stored at import so that learning
    and refreshed suggestions never decode a photo again: the bundle's compact features
    (float16) and its full probabilities of every family (float32, in the bundle's family
    and label order; predictions keep only the top three)."""

    __tablename__ = "photo_features"

    photo_id: Mapped[int] = mapped_column(
        ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True
    )
    bundle_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    dim: Mapped[int] = mapped_column(Integer)
    features: Mapped[bytes] = mapped_column(LargeBinary)
    probabilities: Mapped[bytes] = mapped_column(LargeBinary)

    photo: Mapped[Photo] = relationship(back_populates="features")


class Correction(Base):
    """A family's correction learned from this catalog's reviews (app.core.learning), tied
    to the bundle it corrects; only the newest of a bundle and family is in use, and one
    of another bundle is kept but set aside."""

    __tablename__ = "corrections"
    __table_args__ = (Index("ix_corrections_bundle_key_family", "bundle_key", "family"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bundle_key: Mapped[str] = mapped_column(String(200))
    family: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
    in_use: Mapped[bool] = mapped_column(Boolean, default=True)
    summary: Mapped[str] = mapped_column(Text)  # JSON: labels, threshold, estimates, message
    weights: Mapped[bytes | None] = mapped_column(LargeBinary)  # .npy of (D + 1, L) float32


NEAR_DUPLICATE_STATUSES = ("open", "dismissed", "grouped")


class NearDuplicate(Base):
    """A photo flagged at import as a possible duplicate of an earlier one, and what the
    staff decided: still open, dismissed (not the same product) or grouped into one."""

    __tablename__ = "near_duplicates"
    __table_args__ = (
        CheckConstraint(f"status IN {NEAR_DUPLICATE_STATUSES}", name="status"),
        Index("ix_near_duplicates_original_id", "original_id"),
        Index("ix_near_duplicates_status", "status"),
    )

    photo_id: Mapped[int] = mapped_column(
        ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True
    )
    original_id: Mapped[int] = mapped_column(
        ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True
    )
    distance: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="open")
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TaxonomyOverride(Base):
    """This catalog's own shop category for a label, over the shipped taxonomy map (a shop
    that sells only women's dresses files "dress" deeper); None keeps the map's."""

    __tablename__ = "taxonomy_overrides"

    label: Mapped[str] = mapped_column(String(200), primary_key=True)
    google_id: Mapped[str | None] = mapped_column(String(20))
    shopify_path: Mapped[str | None] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
