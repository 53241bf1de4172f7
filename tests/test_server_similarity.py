"""Similar items served by a PostgreSQL server with pgvector (app.core.catalog.vectors):
the schema, every write path keeping the vector column in line, neighbours as good as
hnswlib's, and servers without pgvector falling back to hnswlib with one notice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from catalog_fixtures import decision
from sqlalchemy import create_engine, text

from app.core.catalog import Catalog, NewPhoto
from app.core.catalog.rows import Retagged
from app.core.catalog.vectors import INDEX_PREFIX, index_name, schema_with_vectors
from app.core.context import AppContext
from app.core.server_index import ServerIndex
from app.core.similarity import SimilarityIndex, photo_mark

pytestmark = pytest.mark.postgres

KEY = "synthetic@1/64/000000000000"
DIM = 64


def clustered(n: int, dim: int, seed: int) -> np.ndarray:
    """Unit vectors around 50 centres: embeddings of photos cluster by product kind."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((50, dim))
    points = centres[rng.integers(0, 50, n)] + 0.35 * rng.standard_normal((n, dim))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def add_photos(catalog: Catalog, vectors: np.ndarray, start: int = 0) -> list[int]:
    decisions = [decision("colour", 0.5, ("red", 0.9), ("blue", 0.1))]
    items = [
        NewPhoto(f"/p/{start + i}.jpg", f"{start + i:064x}", 1, 1, 1, "s@1", decisions, KEY, v)
        for i, v in enumerate(vectors)
    ]
    ids: list[int] = []
    for begin in range(0, len(items), 500):
        ids += [row.id for row in catalog.add_tagged_photos(items[begin : begin + 500])]
    return ids


def server_rows(url: str) -> dict[int, tuple[np.ndarray, np.ndarray | None]]:
    """photo id -> (stored float32 bytes, the pgvector column) of every embedding."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT photo_id, vector, embedding::text FROM embeddings")
            ).all()
    finally:
        engine.dispose()
    return {
        i: (
            np.frombuffer(data, dtype="<f4"),
            None if column is None else np.array(column[1:-1].split(","), dtype=np.float32),
        )
        for i, data, column in rows
    }


def test_a_pgvector_catalog_has_the_models_schema_plus_the_vector_column(
    fresh_pgvector_url: str,
) -> None:
    with Catalog.open(fresh_pgvector_url) as catalog:
        assert catalog.server_vectors and catalog.without_server_vectors is None
        add_photos(catalog, clustered(3, DIM, 0))
    engine = create_engine(fresh_pgvector_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "compare_type": True,
                    # One HNSW index per bundle key, made with its first vector: checked below.
                    "include_name": lambda name, kind, _: not (name or "").startswith(INDEX_PREFIX),
                },
            )
            assert compare_metadata(context, schema_with_vectors()) == []
            connection.execute(text("SET enable_seqscan = off"))
            plan = connection.execute(
                text(
                    f"EXPLAIN SELECT photo_id FROM embeddings WHERE bundle_key = '{KEY}' "
                    f"ORDER BY embedding::vector({DIM}) <=> CAST(:q AS vector({DIM})) LIMIT 5"
                ),
                {"q": str([0.5] * DIM)},
            ).all()
    finally:
        engine.dispose()
    assert index_name(KEY) in " ".join(row[0] for row in plan)


def test_every_write_keeps_the_vector_column_in_line(fresh_pgvector_url: str) -> None:
    vectors = clustered(6, DIM, 1)
    with Catalog.open(fresh_pgvector_url) as catalog:
        ids = add_photos(catalog, vectors[:4])
        catalog.record_tagging(
            [Retagged(ids[0], "s@1", [decision("colour", 0.5, ("red", 1.0))], KEY, vectors[4])]
        )
        catalog.store_embedding(ids[1], KEY, vectors[5])
        removed = catalog.remove_photos(ids[2:])
        back = catalog.restore_photos(removed)
    rows = server_rows(fresh_pgvector_url)
    assert sorted(rows) == sorted([ids[0], ids[1], *back.values()])
    for stored, column in rows.values():
        assert column is not None
        np.testing.assert_array_equal(stored, column)
    np.testing.assert_array_equal(rows[ids[0]][1], vectors[4])
    np.testing.assert_array_equal(rows[ids[1]][1], vectors[5])


def recall(found: list[list[int]], exact: list[list[int]]) -> float:
    shared = [len(set(f) & set(e)) / len(e) for f, e in zip(found, exact, strict=True)]
    return float(np.mean(shared))


def test_the_servers_neighbours_are_as_good_as_hnswlibs(
    fresh_pgvector_url: str, tmp_path: Path
) -> None:
    """recall@10 against exact search >= 0.98 for pgvector's HNSW and the local hnswlib,
    and the two find the same neighbours (what `similar` shows on either catalog)."""
    vectors = clustered(4000, DIM, 2)
    queries = range(0, 4000, 80)
    with Catalog.open(fresh_pgvector_url) as catalog:
        ids = add_photos(catalog, vectors)
        server = ServerIndex(catalog, KEY, DIM)
        found_server = [[i for i, _ in server.nearest(vectors[q], 10, ids[q])] for q in queries]
        best = server.nearest(vectors[0], 3)
    local = SimilarityIndex(tmp_path / "index", KEY, DIM)
    local.add(ids, vectors, [photo_mark(f"{i:064x}") for i in range(len(ids))])
    found_local = [[i for i, _ in local.nearest(vectors[q], 10, ids[q])] for q in queries]
    similarity = vectors @ vectors[list(queries)].T
    exact = []
    for column, q in enumerate(queries):
        similarity[q, column] = -2  # the query photo itself is excluded, as in `similar`
        exact.append([ids[i] for i in np.argsort(-similarity[:, column])[:10]])
    assert recall(found_server, exact) >= 0.98
    assert recall(found_local, exact) >= 0.98
    assert recall(found_server, found_local) >= 0.98
    assert best[0] == (ids[0], pytest.approx(1.0, abs=1e-5))
    assert best[1][1] <= best[0][1]


def test_a_server_without_pgvector_keeps_hnswlib_and_says_so_once(
    fresh_pg_url: str, tiny_bundle: Path, photos_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VITRINA_HOME", str(photos_dir.parent / "home"))
    from app.core.importer import import_paths

    with AppContext.open(fresh_pg_url, tiny_bundle) as ctx:
        assert not ctx.catalog.server_vectors
        import_paths([photos_dir], ctx)
        assert isinstance(ctx.index, SimilarityIndex)
        ctx.rebuild_index()
        said = [n for n in ctx.notices if "pgvector" in n]
    assert len(said) == 1
    assert "has no pgvector extension" in said[0] and "vitrina reindex" in said[0]


def test_reindex_moves_similar_items_onto_a_server_that_got_pgvector_later(
    fresh_pgvector_url: str, tiny_bundle: Path, photos_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A catalog made before the server had pgvector (the column dropped here): the notice
    says what to do, and `reindex` adds and fills the column and the bundle's index."""
    monkeypatch.setenv("VITRINA_HOME", str(photos_dir.parent / "home"))
    from app.core.importer import import_paths

    with AppContext.open(fresh_pgvector_url, tiny_bundle) as ctx:
        report = import_paths([photos_dir], ctx)
    engine = create_engine(fresh_pgvector_url)
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE embeddings DROP COLUMN embedding"))
    engine.dispose()
    with AppContext.open(fresh_pgvector_url, tiny_bundle) as ctx:
        assert isinstance(ctx.index, SimilarityIndex)
        assert any("run `vitrina reindex` once" in n for n in ctx.notices)
        index = ctx.rebuild_index()
        assert isinstance(index, ServerIndex) and len(index) == len(report.added)
        vector = ctx.catalog.embedding(report.added[0], ctx.tagger.embedding_key)
        assert index.nearest(vector, 1)[0][0] == report.added[0]
    rows = server_rows(fresh_pgvector_url)
    assert all(column is not None for _, column in rows.values())
