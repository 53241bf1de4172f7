"""SimilarityIndex: nearest with exclusion, persistence, growth, removal, reconcile, mismatch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.core import similarity
from app.core.errors import IndexMismatchError
from app.core.similarity import INDEX_FILE, MARKS_FILE, META_FILE, SimilarityIndex

KEY = "tiny@1/8/abcdefabcdef"


def vectors(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    values = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return values / np.linalg.norm(values, axis=1, keepdims=True)


def filled(tmp_path: Path, n: int = 50) -> tuple[SimilarityIndex, np.ndarray]:
    index = SimilarityIndex.open(tmp_path / "idx", KEY, 8)
    data = vectors(n)
    index.add(np.arange(1, n + 1), data, marks(range(1, n + 1)))
    return index, data


def marks(ids) -> list[int]:
    """Stand-in photo marks: a photo's mark here is its id times 1,000."""
    return [int(i) * 1000 for i in ids]


def test_nearest_excludes_the_query(tmp_path: Path) -> None:
    index, data = filled(tmp_path)
    results = index.nearest(data[9], k=5, exclude=10)
    assert len(results) == 5
    assert 10 not in [pid for pid, _ in results]
    sims = [s for _, s in results]
    assert sims == sorted(sims, reverse=True)
    expected = np.argsort(-(data @ data[9]))[1:6] + 1
    assert [pid for pid, _ in results] == expected.tolist()
    assert sims[0] == pytest.approx(float(data[expected[0] - 1] @ data[9]), abs=1e-5)


def test_query_by_outside_vector_includes_identical(tmp_path: Path) -> None:
    index, data = filled(tmp_path)
    (best, sim), *_ = index.nearest(data[3], k=3)
    assert best == 4 and sim == pytest.approx(1.0, abs=1e-5)


def test_k_larger_than_index_and_empty_index(tmp_path: Path) -> None:
    index, data = filled(tmp_path, n=4)
    assert len(index.nearest(data[0], k=10, exclude=1)) == 3
    empty = SimilarityIndex.open(tmp_path / "empty", KEY, 8)
    assert empty.nearest(data[0], k=5) == []
    assert len(empty) == 0


def test_save_and_open_round_trip(tmp_path: Path) -> None:
    index, data = filled(tmp_path)
    index.remove([7])
    index.save()
    assert sorted(p.name for p in (tmp_path / "idx").iterdir()) == [
        INDEX_FILE,
        META_FILE,
        MARKS_FILE,
    ]
    again = SimilarityIndex.open(tmp_path / "idx", KEY, 8)
    assert len(again) == 49 and 7 not in again and 8 in again
    assert again.nearest(data[0], k=3) == index.nearest(data[0], k=3)


def test_grows_past_its_capacity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(similarity, "INITIAL_CAPACITY", 4)
    index = SimilarityIndex(tmp_path / "idx", KEY, 8)
    data = vectors(30)
    for start in range(0, 30, 7):
        ids = np.arange(start, min(start + 7, 30))
        index.add(ids, data[start : start + 7], marks(ids))
    assert len(index) == 30
    assert index.nearest(data[29], k=1)[0][0] == 29


def test_removed_photos_leave_results_and_can_return(tmp_path: Path) -> None:
    index, data = filled(tmp_path)
    assert index.remove([5, 5, 999]) == 1
    assert 5 not in index and len(index) == 49
    assert 5 not in [pid for pid, _ in index.nearest(data[4], k=49)]
    index.add([5], data[4:5], marks([5]))
    assert 5 in index and index.nearest(data[4], k=1)[0][0] == 5


def test_reconcile_adds_missing_and_drops_strays(tmp_path: Path) -> None:
    index, data = filled(tmp_path, n=10)
    catalog = [(i, i * 1000, data[i - 1]) for i in range(3, 11)]
    catalog.append((11, 11000, vectors(1, seed=5)[0]))
    assert index.reconcile(iter(catalog)) == (1, 2)
    assert index.ids() == set(range(3, 12))
    assert index.reconcile(catalog) == (0, 0)


def test_reconcile_replaces_a_vector_whose_id_now_names_another_photo(tmp_path: Path) -> None:
    """Photo 10 was removed and its id given to a new photo: its old vector must go."""
    index, data = filled(tmp_path, n=10)
    newcomer = vectors(1, seed=7)[0]
    catalog = [(i, i * 1000, data[i - 1]) for i in range(1, 10)] + [(10, 424242, newcomer)]
    assert index.reconcile(catalog) == (1, 0)
    assert index.marks()[10] == 424242
    (best, similarity_), *_ = index.nearest(newcomer, k=1)
    assert best == 10 and similarity_ == pytest.approx(1.0, abs=1e-5)
    index.save()
    again = SimilarityIndex.open(tmp_path / "idx", KEY, 8)
    assert again.marks() == index.marks()


def test_other_bundle_or_dimension_is_a_mismatch(tmp_path: Path) -> None:
    index, _ = filled(tmp_path)
    index.save()
    with pytest.raises(IndexMismatchError, match="vitrina reindex") as info:
        SimilarityIndex.open(tmp_path / "idx", "other@2/8/000000000000", 8)
    assert "other@2/8/000000000000" in str(info.value) and KEY in str(info.value)
    with pytest.raises(IndexMismatchError, match="16-d"):
        SimilarityIndex.open(tmp_path / "idx", KEY, 16)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        (INDEX_FILE, b"\x00garbage"),
        (INDEX_FILE, b""),
        (META_FILE, b"{not json"),
        (META_FILE, b"[]"),
        (MARKS_FILE, b"not numpy"),
    ],
)
def test_damaged_files_ask_for_reindex(tmp_path: Path, name: str, data: bytes) -> None:
    index, _ = filled(tmp_path)
    index.save()
    (tmp_path / "idx" / name).write_bytes(data)
    with pytest.raises(IndexMismatchError, match=r"damaged\. Run `vitrina reindex`"):
        SimilarityIndex.open(tmp_path / "idx", KEY, 8)


def test_missing_index_file_asks_for_reindex(tmp_path: Path) -> None:
    index, _ = filled(tmp_path)
    index.save()
    (tmp_path / "idx" / INDEX_FILE).unlink()
    with pytest.raises(IndexMismatchError, match="missing or damaged"):
        SimilarityIndex.open(tmp_path / "idx", KEY, 8)


def test_wrong_vector_size_is_a_programming_error(tmp_path: Path) -> None:
    index, _ = filled(tmp_path, n=2)
    with pytest.raises(ValueError):
        index.add([3], np.ones((1, 4), dtype=np.float32), [3])
    with pytest.raises(ValueError):
        index.add([3], np.ones((1, 8), dtype=np.float32), [])
    with pytest.raises(ValueError):
        index.nearest(np.ones(4), k=1)
