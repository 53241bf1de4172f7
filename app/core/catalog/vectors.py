"""Similar items served by the catalog's PostgreSQL server, where it has pgvector.

On such a server every embedding is also kept in ``embeddings.embedding`` (a pgvector
``vector``), and each bundle key gets its own HNSW index: a partial index over the rows
of that key, on the vector cast to the key's dimension (an HNSW index needs one
dimension, and a catalog may hold the vectors of several bundles). ``similar`` then asks
the server, and no desktop holds a copy of every vector. SQLite catalogs and servers
without pgvector keep the per-machine hnswlib index (app.core.similarity).

The column exists only where pgvector does, so the SQLAlchemy models leave it out; the
catalog writes it beside the float32 bytes of ``embeddings.vector`` (which learning,
undo and the hnswlib index read) in the same transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import (
    Column,
    Connection,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.core.catalog.engine import display_url
from app.core.catalog.models import Base, Embedding
from app.core.errors import CatalogError

COLUMN = "embedding"
INDEX_PREFIX = "ix_embeddings_hnsw_"
HNSW_M = 16  # pgvector's defaults; recall@10 they give at 100,000 and 1M: docs/scale.md
HNSW_EF_CONSTRUCTION = 64
EF_SEARCH_PER_RESULT = 4  # as hnswlib's ef (similarity.py), with a floor
EF_SEARCH_MIN = 200  # recall@10 0.96 at 1M vectors, 0.81 at 64 (docs/scale.md)
BACKFILL_CHUNK = 2000
MIGRATION_LOCK = 0x56495452  # the migrations' advisory lock (migrations/env.py)


def vector_type() -> Any:
    """pgvector's SQLAlchemy type (also registers ``vector`` for reflection)."""
    try:
        from pgvector.sqlalchemy import VECTOR
    except ImportError as error:
        raise CatalogError(
            "This catalog's server keeps similar items with pgvector, and the Python package "
            "'pgvector' is missing; install the postgres extra (pip install -e '.[postgres]')."
        ) from error
    return VECTOR()


def embeddings_table() -> Table:
    """The embeddings table as a pgvector server holds it (the models plus the column)."""
    table = Embedding.__table__
    return Table(
        table.name,
        MetaData(),
        Column("photo_id", Integer, primary_key=True),
        Column("bundle_key", String(200), primary_key=True),
        Column("dim", Integer),
        Column("vector", LargeBinary),
        Column(COLUMN, vector_type()),
    )


def schema_with_vectors() -> MetaData:
    """The models' schema with the vector column: what the migrations make on a server
    with pgvector (tests/test_catalog_schema.py compares the two)."""
    metadata = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(metadata)
    metadata.tables["embeddings"].append_column(Column(COLUMN, vector_type(), nullable=True))
    return metadata


def search_width(want: int) -> int:
    """hnsw.ef_search for ``want`` results: the candidates the search keeps (docs/scale.md:
    recall@10 and latency for 40 to 400 at 100,000 and 1M vectors)."""
    return max(EF_SEARCH_PER_RESULT * want, EF_SEARCH_MIN)


def index_name(bundle_key: str) -> str:
    """The HNSW index of one bundle key (a hash: keys hold '@', '/' and run long)."""
    return INDEX_PREFIX + hashlib.sha1(bundle_key.encode("utf-8")).hexdigest()[:16]


def _literal(value: str) -> str:
    """A bundle key as an SQL string literal: a partial index is used only when the query
    names its key as a constant, not as a parameter."""
    return "'" + value.replace("'", "''") + "'"


def _cast(dim: int) -> str:
    return f"({COLUMN}::vector({int(dim)}))"


# --- schema (the migration, and `vitrina reindex` on a server that got pgvector later) -----


def server_offers_pgvector(connection: Connection) -> bool:
    """The server has pgvector installed (the extension may not be created in this database)."""
    found = connection.execute(
        text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
    ).first()
    return found is not None


def has_vector_column(connection: Connection) -> bool:
    found = connection.execute(
        text(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = 'embeddings' AND column_name = :column"
        ),
        {"column": COLUMN},
    ).first()
    return found is not None


def add_vector_column(connection: Connection) -> bool:
    """Create the extension (when allowed), the column, its values and one HNSW index per
    bundle key stored; False when the server lacks pgvector or this role may not create
    it (the catalog then keeps hnswlib). Runs inside the caller's transaction."""
    if has_vector_column(connection):
        return True
    if not server_offers_pgvector(connection):
        return False
    created = connection.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'vector'"))
    if created.first() is None:
        attempt = connection.begin_nested()
        try:
            connection.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
        except DBAPIError:  # no privilege: an administrator creates it (docs/postgresql.md)
            attempt.rollback()
            return False
        attempt.commit()
    connection.execute(text(f"ALTER TABLE embeddings ADD COLUMN {COLUMN} vector"))
    _backfill(connection)
    keys = connection.execute(select(Embedding.bundle_key, Embedding.dim).distinct()).all()
    for key, dim in keys:
        create_index(connection, key, dim)
    return True


def _backfill(connection: Connection) -> None:
    """Copy the stored float32 vectors into the column, a chunk at a time."""
    table = embeddings_table()
    fill = (
        update(table)
        .where(
            and_(
                table.c.photo_id == bindparam("p_id"),
                table.c.bundle_key == bindparam("p_key"),
            )
        )
        .values({COLUMN: bindparam("p_vector")})
    )
    after: tuple[int, str] = (0, "")
    while True:
        rows = connection.execute(
            select(Embedding.photo_id, Embedding.bundle_key, Embedding.vector)
            .where(
                (Embedding.photo_id > after[0])
                | ((Embedding.photo_id == after[0]) & (Embedding.bundle_key > after[1]))
            )
            .order_by(Embedding.photo_id, Embedding.bundle_key)
            .limit(BACKFILL_CHUNK)
        ).all()
        if not rows:
            return
        connection.execute(
            fill,
            [
                {"p_id": i, "p_key": key, "p_vector": np.frombuffer(data, dtype="<f4")}
                for i, key, data in rows
            ],
        )
        after = (rows[-1][0], rows[-1][1])


def create_index(connection: Connection | Session, bundle_key: str, dim: int) -> None:
    """The HNSW index of one bundle key (nothing when it exists)."""
    connection.execute(
        text(
            f"CREATE INDEX IF NOT EXISTS {index_name(bundle_key)} ON embeddings "
            f"USING hnsw ({_cast(dim)} vector_cosine_ops) "
            f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION}) "
            f"WHERE bundle_key = {_literal(bundle_key)}"
        )
    )


def indexed_keys(connection: Connection | Session) -> set[str]:
    """Names of the HNSW indexes on embeddings (one per bundle key)."""
    rows = connection.execute(
        text(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = 'embeddings' AND indexname LIKE :prefix"
        ),
        {"prefix": INDEX_PREFIX + "%"},
    )
    return {row[0] for row in rows}


# --- rows and queries ------------------------------------------------------------------------


class ServerVectors:
    """Writing a pgvector catalog's vectors beside their bytes, and asking for neighbours.

    A mixin of Catalog: ``_server_vectors`` is set when the catalog is opened.
    """

    _server_vectors: bool = False
    _offered: bool = False  # the server has pgvector (maybe not enabled in this database)
    _indexed: set[str]

    @property
    def server_vectors(self) -> bool:
        """Similar items come from the server (pgvector); else from an hnswlib index."""
        return self._server_vectors

    @property
    def without_server_vectors(self) -> str | None:
        """Why a PostgreSQL catalog's similar items come from this machine, and what to do;
        None where the server serves them, or for SQLite."""
        if self.dialect != "postgresql" or self._server_vectors:
            return None
        where = display_url(self.url)
        if self._offered:
            return (
                f"The catalog server {where} has pgvector, but the extension is not enabled in "
                "this database, so similar items come from an hnswlib index that holds every "
                "vector in this machine's memory. Ask the server's administrator to run "
                "`CREATE EXTENSION vector;` in the database, then run `vitrina reindex` once."
            )
        return (
            f"The catalog server {where} has no pgvector extension, so similar items come from "
            "an hnswlib index that holds every vector in this machine's memory. Install "
            "pgvector on the server (docs/postgresql.md), then run `vitrina reindex` once."
        )

    def _detect_server_vectors(self, connection: Connection) -> None:
        postgres = connection.dialect.name == "postgresql"
        self._server_vectors = postgres and has_vector_column(connection)
        self._offered = postgres and server_offers_pgvector(connection)
        self._indexed = indexed_keys(connection) if self._server_vectors else set()
        self._table = embeddings_table() if self._server_vectors else None
        connection.rollback()

    def enable_server_vectors(self) -> bool:
        """Move similar items onto a server that got pgvector after the catalog was made
        (what migration 0003 does on a server that has it); whether the server serves them."""
        if self.dialect != "postgresql" or self._server_vectors or not self._offered:
            return self._server_vectors
        with self._write("adding the vector column") as session:
            connection = session.connection()
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            add_vector_column(connection)
        with self._engine.connect() as connection:
            self._detect_server_vectors(connection)
        return self._server_vectors

    def _insert_embeddings(self, session: Session, rows: Sequence[dict[str, Any]]) -> None:
        """Insert embedding rows (photo_id, bundle_key, dim, vector bytes), with their
        pgvector copies on a pgvector catalog; the key's HNSW index first if it is new."""
        if not self._server_vectors:
            session.execute(insert(Embedding), list(rows))
            return
        self._index_keys(session, rows)
        session.execute(
            insert(self._table),
            [{**row, COLUMN: np.frombuffer(row["vector"], dtype="<f4")} for row in rows],
        )

    def _merge_embedding(self, session: Session, row: dict[str, Any]) -> None:
        """Insert or replace one photo's embedding of a bundle key (re-tagging)."""
        session.merge(Embedding(**row))
        if self._server_vectors:
            session.flush()
            self._index_keys(session, [row])
            table = self._table
            session.execute(
                update(table)
                .where(table.c.photo_id == row["photo_id"], table.c.bundle_key == row["bundle_key"])
                .values({COLUMN: np.frombuffer(row["vector"], dtype="<f4")})
            )

    def _index_keys(self, session: Session, rows: Iterable[dict[str, Any]]) -> None:
        """The HNSW index of each new bundle key, in the writing transaction. Two programs
        writing a key's first vectors at once would race on the index's name: the lock
        lets the second find it made (taken only when the index is missing: writers of a
        key that has one never wait on each other). An index made here is remembered once
        a later transaction sees it, as this one may still roll back."""
        for key, dim in {(row["bundle_key"], row["dim"]) for row in rows}:
            name = index_name(key)
            if name in self._indexed:
                continue
            found = indexed_keys(session)
            if name not in found:
                session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
                create_index(session, key, dim)
            else:
                self._indexed |= found

    def nearest_on_server(
        self, bundle_key: str, vector: np.ndarray, k: int, exclude: int | None = None
    ) -> list[tuple[int, float]]:
        """The ``k`` photos whose vectors of ``bundle_key`` are nearest (cosine) to
        ``vector``, by the key's HNSW index: (photo id, similarity), best first."""
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        if k <= 0:
            return []
        want = k + (1 if exclude is not None else 0)
        cast = _cast(query.size)
        statement = text(
            f"SELECT photo_id, {cast} <=> CAST(:query AS vector({query.size})) AS distance "
            f"FROM embeddings WHERE bundle_key = {_literal(bundle_key)} "
            f"ORDER BY distance LIMIT {int(want)}"
        ).bindparams(bindparam("query", type_=vector_type()))
        with self._read("finding similar photos") as session:
            session.execute(text(f"SET LOCAL hnsw.ef_search = {search_width(want)}"))
            rows = session.execute(statement, {"query": query}).all()
        results = [(int(i), 1.0 - float(d)) for i, d in rows if int(i) != exclude]
        return results[:k]

    def count_embedded(self, bundle_key: str) -> int:
        with self._read("counting embeddings") as session:
            return int(
                session.execute(
                    text("SELECT count(*) FROM embeddings WHERE bundle_key = :key"),
                    {"key": bundle_key},
                ).scalar_one()
            )
