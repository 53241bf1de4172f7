"""Learning from reviews: photo features, learned corrections, where a suggestion came from;
and every photo's review state recomputed with today's rule (slots.refresh_review_state:
reviewed once every predicted family has a human decision), which older versions set
"reviewed" on accepting the confident tags alone.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "photo_features",
        sa.Column("photo_id", sa.Integer(), nullable=False),
        sa.Column("bundle_key", sa.String(length=200), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("features", sa.LargeBinary(), nullable=False),
        sa.Column("probabilities", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["photo_id"],
            ["photos.id"],
            name=op.f("fk_photo_features_photo_id_photos"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("photo_id", "bundle_key", name=op.f("pk_photo_features")),
    )
    op.create_table(
        "corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bundle_key", sa.String(length=200), nullable=False),
        sa.Column("family", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("in_use", sa.Boolean(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("weights", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_corrections")),
    )
    op.create_index("ix_corrections_bundle_key_family", "corrections", ["bundle_key", "family"])
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("correction_id", sa.Integer(), nullable=True))
    op.execute(REVIEW_STATES)


REVIEW_STATES = """
UPDATE photos SET review_state = CASE
    WHEN NOT EXISTS (SELECT 1 FROM predictions p WHERE p.photo_id = photos.id) THEN 'new'
    WHEN EXISTS (
        SELECT 1 FROM predictions p
        WHERE p.photo_id = photos.id AND NOT EXISTS (
            SELECT 1 FROM tags t WHERE t.photo_id = p.photo_id AND t.family = p.family
        )
    ) THEN 'suggested'
    ELSE 'reviewed'
END
"""


def downgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("correction_id")
    op.drop_index("ix_corrections_bundle_key_family", table_name="corrections")
    op.drop_table("corrections")
    op.drop_table("photo_features")
