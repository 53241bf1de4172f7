"""From tags to the shop: each photo's perceptual hash and the product it was grouped into,
the near-duplicate flags set at import, and this catalog's overrides of the taxonomy map.
Photos imported before have no hash (re-tagging gives them one) and no flags.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("photos") as batch:
        batch.add_column(sa.Column("near_hash", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("product", sa.Integer(), nullable=True))
        batch.create_index("ix_photos_product", ["product"])
    op.create_table(
        "near_duplicates",
        sa.Column("photo_id", sa.Integer(), nullable=False),
        sa.Column("original_id", sa.Integer(), nullable=False),
        sa.Column("distance", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'dismissed', 'grouped')",
            name=op.f("ck_near_duplicates_status"),
        ),
        sa.ForeignKeyConstraint(
            ["photo_id"],
            ["photos.id"],
            name=op.f("fk_near_duplicates_photo_id_photos"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["original_id"],
            ["photos.id"],
            name=op.f("fk_near_duplicates_original_id_photos"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("photo_id", "original_id", name=op.f("pk_near_duplicates")),
    )
    op.create_index("ix_near_duplicates_original_id", "near_duplicates", ["original_id"])
    op.create_index("ix_near_duplicates_status", "near_duplicates", ["status"])
    op.create_table(
        "taxonomy_overrides",
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("google_id", sa.String(length=20), nullable=True),
        sa.Column("shopify_path", sa.Text(), nullable=True),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("label", name=op.f("pk_taxonomy_overrides")),
    )


def downgrade() -> None:
    op.drop_table("taxonomy_overrides")
    op.drop_index("ix_near_duplicates_status", table_name="near_duplicates")
    op.drop_index("ix_near_duplicates_original_id", table_name="near_duplicates")
    op.drop_table("near_duplicates")
    with op.batch_alter_table("photos") as batch:
        batch.drop_index("ix_photos_product")
        batch.drop_column("product")
        batch.drop_column("near_hash")
