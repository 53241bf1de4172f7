"""app.core.similar: neighbours of a catalog photo or an outside file, the query left out,
their rows read in one query, the same answers from the local index and a pgvector server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from catalog_fixtures import add_sample, vector
from PIL import Image
from sqlalchemy import event

from app.core.catalog import Catalog, NewPhoto
from app.core.decode import read_photo
from app.core.errors import VitrinaError
from app.core.server_index import ServerIndex
from app.core.similar import Neighbour, neighbours, similar_to_file, similar_to_photo
from app.core.similarity import SimilarityIndex, photo_mark

KEY, DIM = "tiny@1/16", 16


def local_index(catalog: Catalog, directory: Path) -> SimilarityIndex:
    """An hnswlib index of every embedding the catalog holds, as AppContext opens it."""
    index = SimilarityIndex(directory, KEY, DIM)
    rows = {row.id: row for row in catalog.list_photos(limit=1000)}
    items = [(i, photo_mark(rows[i].sha256), v) for i, v in catalog.embeddings(KEY)]
    index.reconcile(items)
    return index


def context(catalog: Catalog, index: object, embedding: np.ndarray | None = None) -> object:
    """What app.core.similar reads of an AppContext; the tagger answers ``embedding``."""
    tagged = SimpleNamespace(embedding=embedding)
    tagger = SimpleNamespace(
        embedding_key=KEY, decode_side=0, tag_photos=lambda photos: [tagged for _ in photos]
    )
    return SimpleNamespace(
        catalog=catalog, index=index, tagger=tagger, bundle=SimpleNamespace(label="tiny@1")
    )


@contextmanager
def photo_reads(catalog: Catalog) -> Iterator[list[str]]:
    """The SELECTs on the photos table the catalog sends while the block runs."""
    seen: list[str] = []

    def record(_conn, _cursor, statement: str, *_args) -> None:
        flat = " ".join(statement.split()).lower()
        if flat.startswith("select") and "from photos" in flat:
            seen.append(flat)

    engine = catalog._engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_neighbours_of_a_photo_leave_it_out_and_cost_one_catalog_read(
    catalog: Catalog, tmp_path: Path
) -> None:
    ids = [add_sample(catalog, seed).id for seed in range(20)]
    ctx = context(catalog, local_index(catalog, tmp_path / "index"))
    for k in (1, 5, 12):
        with photo_reads(catalog) as reads:
            found = similar_to_photo(ctx, ids[3], k)
        assert len(found) == k and ids[3] not in [n.photo_id for n in found]
        assert len(reads) == 1, reads  # the k rows in one query, not one per neighbour
    best = found[0]
    row = catalog.get_photo(best.photo_id)
    assert (best.path, best.sha256) == (row.path, row.sha256)
    assert [n.similarity for n in found] == sorted((n.similarity for n in found), reverse=True)


def test_a_neighbour_removed_since_the_index_answered_is_left_out(catalog: Catalog) -> None:
    ids = [add_sample(catalog, seed).id for seed in range(4)]
    catalog.remove_photos([ids[1]])
    found = neighbours(catalog, [(ids[1], 0.9), (ids[2], 0.8), (ids[3], 0.7)])
    assert [(n.photo_id, n.similarity) for n in found] == [(ids[2], 0.8), (ids[3], 0.7)]
    assert all(isinstance(n, Neighbour) for n in found) and neighbours(catalog, []) == []


def test_an_outside_files_copy_in_the_catalog_is_left_out(catalog: Catalog, tmp_path: Path) -> None:
    """A file whose content the catalog holds is not its own best neighbour (1.000)."""
    outside = tmp_path / "look.png"
    Image.new("RGB", (40, 30), (20, 40, 220)).save(outside)
    for seed in range(10):
        add_sample(catalog, seed)
    copy = catalog.add_tagged_photos(
        [
            NewPhoto(
                "/photos/look.png", read_photo(outside).sha256, 1, 40, 30, None, (), KEY, vector(99)
            )
        ]
    )[0]
    ctx = context(catalog, local_index(catalog, tmp_path / "index"), vector(99))
    found = similar_to_file(ctx, outside, 3)
    assert len(found) == 3 and copy.id not in [n.photo_id for n in found]
    unknown = tmp_path / "other.png"
    Image.new("RGB", (40, 30), (200, 40, 20)).save(unknown)
    assert similar_to_file(ctx, unknown, 1)[0].photo_id == copy.id  # not in: nothing left out


def test_without_an_embedding_it_says_what_to_do(catalog: Catalog, tmp_path: Path) -> None:
    ids = [add_sample(catalog, seed).id for seed in range(3)]
    untagged = catalog.add_photo("/photos/new.jpg", "e" * 64, 1, 1, 1)
    ctx = context(catalog, local_index(catalog, tmp_path / "index"))
    with pytest.raises(VitrinaError, match=r"another bundle tagged it.*Re-tag with this bundle"):
        similar_to_photo(ctx, untagged.id, 2)
    with pytest.raises(VitrinaError, match="has no embedding output"):
        similar_to_photo(context(catalog, None), ids[0], 2)


@pytest.mark.postgres
def test_a_pgvector_server_answers_as_the_local_index_does(
    fresh_pgvector_url: str, tmp_path: Path
) -> None:
    with Catalog.open(fresh_pgvector_url) as catalog:
        assert catalog.server_vectors
        ids = [add_sample(catalog, seed).id for seed in range(30)]
        server = context(catalog, ServerIndex(catalog, KEY, DIM))
        local = context(catalog, local_index(catalog, tmp_path / "index"))
        for photo_id in ids[:5]:
            with photo_reads(catalog) as reads:
                on_server = similar_to_photo(server, photo_id, 6)
            assert len(reads) == 1
            here = similar_to_photo(local, photo_id, 6)
            assert [n.photo_id for n in on_server] == [n.photo_id for n in here]
            assert photo_id not in [n.photo_id for n in on_server]
