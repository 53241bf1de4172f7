"""Similar items on the server: on a PostgreSQL server with pgvector, embeddings.embedding
(a pgvector ``vector``) filled from the stored vectors, and an HNSW index per bundle key
(app.core.catalog.vectors). SQLite and servers without pgvector are left as they are and
keep their hnswlib index.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

from app.core.catalog import vectors

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        vectors.add_vector_column(connection)


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql" and vectors.has_vector_column(connection):
        op.drop_column("embeddings", vectors.COLUMN)  # its HNSW indexes go with it
