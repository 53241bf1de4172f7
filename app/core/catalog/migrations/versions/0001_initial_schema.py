"""Initial schema: photos, predictions, tags (versioned), tag_events, embeddings.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _photo_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["photo_id"], ["photos.id"], name=op.f(f"fk_{table}_photo_id_photos"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("review_state", sa.String(length=16), nullable=False),
        sa.Column("bundle", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "review_state IN ('new', 'suggested', 'reviewed')",
            name=op.f("ck_photos_review_state"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_photos")),
        sa.UniqueConstraint("sha256", name=op.f("uq_photos_sha256")),
    )
    op.create_index("ix_photos_path", "photos", ["path"])
    op.create_index("ix_photos_review_state", "photos", ["review_state"])

    op.create_table(
        "embeddings",
        sa.Column("photo_id", sa.Integer(), nullable=False),
        sa.Column("bundle_key", sa.String(length=200), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        _photo_fk("embeddings"),
        sa.PrimaryKeyConstraint("photo_id", "bundle_key", name=op.f("pk_embeddings")),
    )

    op.create_table(
        "predictions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("photo_id", sa.Integer(), nullable=False),
        sa.Column("bundle", sa.String(length=200), nullable=False),
        sa.Column("family", sa.String(length=100), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        _photo_fk("predictions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_predictions")),
    )
    op.create_index("ix_predictions_photo_id", "predictions", ["photo_id"])
    op.create_index("ix_predictions_family_label_rank", "predictions", ["family", "label", "rank"])

    op.create_table(
        "tag_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("photo_id", sa.Integer(), nullable=False),
        sa.Column("family", sa.String(length=100), nullable=True),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("previous_value", sa.String(length=200), nullable=True),
        sa.Column("previous_status", sa.String(length=16), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        _photo_fk("tag_events"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tag_events")),
    )
    op.create_index("ix_tag_events_photo_id", "tag_events", ["photo_id"])
    op.create_index("ix_tag_events_at", "tag_events", ["at"])

    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("photo_id", sa.Integer(), nullable=False),
        sa.Column("family", sa.String(length=100), nullable=True),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.CheckConstraint("source IN ('model', 'human')", name=op.f("ck_tags_source")),
        sa.CheckConstraint("status IN ('accepted', 'rejected')", name=op.f("ck_tags_status")),
        _photo_fk("tags"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
    )
    op.create_index("ix_tags_photo_id", "tags", ["photo_id"])
    op.create_index("ix_tags_value", "tags", ["value"])
    op.create_index("ix_tags_family_value", "tags", ["family", "value"])
    op.create_index(
        "uq_tags_family_slot",
        "tags",
        ["photo_id", "family"],
        unique=True,
        sqlite_where=sa.text("family IS NOT NULL"),
        postgresql_where=sa.text("family IS NOT NULL"),
    )
    op.create_index(
        "uq_tags_free_value",
        "tags",
        ["photo_id", "value"],
        unique=True,
        sqlite_where=sa.text("family IS NULL"),
        postgresql_where=sa.text("family IS NULL"),
    )


def downgrade() -> None:
    for table in ("tags", "tag_events", "predictions", "embeddings", "photos"):
        op.drop_table(table)
