"""Similar items: an hnswlib cosine index over catalog photo ids, tied to one bundle's key.

The catalog keeps every embedding, so this index is a rebuildable cache: anything wrong
with it (another bundle, another dimension, a damaged file) asks for `vitrina reindex`.
Each vector carries its photo's *mark* (from the photo's content hash), so a vector left
under an id that now names another photo (SQLite reuses the highest id after a removal;
a PostgreSQL catalog may be dropped and created again) is found and replaced.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path

import hnswlib
import numpy as np

from app.core.errors import IndexMismatchError

INDEX_FILE = "index.bin"
MARKS_FILE = "marks.npy"
META_FILE = "index.json"
FORMAT = "vitrina-index"
FORMAT_VERSION = 2
INITIAL_CAPACITY = 1024
REINDEX_HINT = "Run `vitrina reindex` to rebuild it from the catalog."


def photo_mark(sha256: str) -> int:
    """A photo's identity in the index: the first 60 bits of its content hash."""
    return int(sha256[:15], 16)


class SimilarityIndex:
    """Cosine nearest neighbours of L2-normalised embeddings, keyed by catalog photo id."""

    def __init__(
        self, directory: Path, key: str, dim: int, m: int = 16, ef_construction: int = 200
    ) -> None:
        """An empty index; use :meth:`open` to load a saved one."""
        self.directory = Path(directory)
        self.key = key
        self.dim = dim
        self.m = m
        self.ef_construction = ef_construction
        self._index = hnswlib.Index(space="cosine", dim=dim)
        self._index.init_index(INITIAL_CAPACITY, ef_construction=ef_construction, M=m)
        self._ids: set[int] = set()
        self._deleted: set[int] = set()
        self._marks: dict[int, int] = {}
        self._lock = threading.RLock()

    @classmethod
    def open(cls, directory: Path, key: str, dim: int) -> SimilarityIndex:
        """Load the index saved in ``directory`` or start an empty one if there is none.

        Raises IndexMismatchError when the saved index belongs to another bundle key or
        dimension, or is damaged.
        """
        directory = Path(directory)
        meta_path = directory / META_FILE
        if not meta_path.exists():
            return cls(directory, key, dim)
        meta = _read_meta(meta_path)
        if meta["key"] != key or meta["dim"] != dim:
            raise IndexMismatchError(
                f"{directory}: the similarity index was built by bundle {meta['key']} "
                f"({meta['dim']}-d), but the current bundle is {key} ({dim}-d). {REINDEX_HINT}"
            )
        index = cls(directory, key, dim, meta["M"], meta["ef_construction"])
        index._load(directory / INDEX_FILE, meta)
        return index

    def _load(self, path: Path, meta: dict) -> None:
        damaged = f"{path}: the similarity index file is missing or damaged. {REINDEX_HINT}"
        if not path.is_file():
            raise IndexMismatchError(damaged)
        loaded = hnswlib.Index(space="cosine", dim=self.dim)
        try:
            loaded.load_index(str(path), max_elements=max(meta["capacity"], INITIAL_CAPACITY))
        except (RuntimeError, MemoryError, ValueError) as exc:
            raise IndexMismatchError(damaged) from exc
        ids = {int(i) for i in loaded.get_ids_list()}
        deleted = {int(i) for i in meta["deleted"]}
        try:
            pairs = np.load(self.directory / MARKS_FILE, allow_pickle=False)
            marks = dict(zip(pairs[:, 0].tolist(), pairs[:, 1].tolist(), strict=True))
        except (OSError, ValueError, IndexError):
            raise IndexMismatchError(damaged) from None
        if loaded.element_count != meta["count"] or not deleted <= ids or set(marks) != ids:
            raise IndexMismatchError(damaged)
        self._index, self._ids, self._deleted, self._marks = loaded, ids, deleted, marks

    def __len__(self) -> int:
        return len(self._ids) - len(self._deleted)

    def __contains__(self, photo_id: object) -> bool:
        return photo_id in self._ids and photo_id not in self._deleted

    def ids(self) -> set[int]:
        """The photo ids that can be returned by :meth:`nearest`."""
        with self._lock:
            return self._ids - self._deleted

    def marks(self) -> dict[int, int]:
        """Photo id -> the mark (:func:`photo_mark`) of the photo its vector came from."""
        with self._lock:
            return {i: self._marks[i] for i in self._ids - self._deleted}

    def add(
        self, ids: Iterable[int] | np.ndarray, vectors: np.ndarray, marks: Iterable[int]
    ) -> None:
        """Add or replace vectors of photos (with their marks); the index grows as needed."""
        ids = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64)
        marks = [int(m) for m in marks]
        if len(marks) != len(ids):
            raise ValueError(f"{len(ids)} ids but {len(marks)} marks")
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(ids), -1)
        if vectors.shape[1] != self.dim:
            raise ValueError(f"vectors have {vectors.shape[1]} values, the index holds {self.dim}")
        if len(ids) == 0:
            return
        if (ids < 0).any():
            raise ValueError("photo ids must be non-negative")
        with self._lock:
            needed = self._index.element_count + len(ids)
            capacity = self._index.get_max_elements()
            if needed > capacity:
                self._index.resize_index(max(needed, capacity * 2))
            self._index.add_items(vectors, ids)
            added = dict(zip(ids.tolist(), marks, strict=True))
            self._ids |= added.keys()
            self._deleted -= added.keys()
            self._marks |= added

    def remove(self, ids: Iterable[int]) -> int:
        """Hide photos from results; returns how many were present (their marks stay, as
        hnswlib keeps their vectors, until they are added again)."""
        removed = 0
        with self._lock:
            for photo_id in ids:
                photo_id = int(photo_id)
                if photo_id in self._ids and photo_id not in self._deleted:
                    self._index.mark_deleted(photo_id)
                    self._deleted.add(photo_id)
                    removed += 1
        return removed

    def nearest(
        self, vector: np.ndarray, k: int, exclude: int | None = None
    ) -> list[tuple[int, float]]:
        """The ``k`` most similar photos as (photo id, cosine similarity), best first."""
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        if query.shape[1] != self.dim:
            raise ValueError(f"query has {query.shape[1]} values, the index holds {self.dim}")
        with self._lock:
            live = len(self)
            want = min(k + (1 if exclude is not None and exclude in self else 0), live)
            if k <= 0 or want <= 0:
                return []
            self._index.set_ef(max(want * 4, 64))
            try:
                labels, distances = self._index.knn_query(query, k=want)
            except RuntimeError:
                # Sparse graphs after many deletions: search wider before giving up.
                self._index.set_ef(max(self._index.element_count, want))
                labels, distances = self._index.knn_query(query, k=want)
        results = [
            (int(label), float(1.0 - distance))
            for label, distance in zip(labels[0], distances[0], strict=True)
            if int(label) != exclude
        ]
        return results[:k]

    def reconcile(self, items: Iterable[tuple[int, int, np.ndarray]]) -> tuple[int, int]:
        """Make the index hold exactly the catalog's photos, from (id, mark, vector) of each:
        (added or replaced, dropped) counts."""
        seen: set[int] = set()
        have = self.marks()
        ids: list[int] = []
        marks: list[int] = []
        vectors: list[np.ndarray] = []
        for photo_id, mark, vector in items:
            photo_id = int(photo_id)
            seen.add(photo_id)
            if have.get(photo_id) != mark:
                ids.append(photo_id)
                marks.append(mark)
                vectors.append(np.asarray(vector, dtype=np.float32).reshape(-1))
        if ids:
            self.add(np.asarray(ids), np.stack(vectors), marks)
        dropped = self.remove(have.keys() - seen)
        return len(ids), dropped

    def save(self) -> None:
        """Write index.bin then index.json, each via a temp file and os.replace."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._lock:
            meta = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "key": self.key,
                "dim": self.dim,
                "space": "cosine",
                "count": self._index.element_count,
                "live": len(self),
                "capacity": self._index.get_max_elements(),
                "M": self.m,
                "ef_construction": self.ef_construction,
                "deleted": sorted(self._deleted),
            }
            tmp_bin = self.directory / f".{INDEX_FILE}.{os.getpid()}.tmp"
            self._index.save_index(str(tmp_bin))
            _replace(tmp_bin, self.directory / INDEX_FILE)
            tmp_marks = self.directory / f".{MARKS_FILE}.{os.getpid()}.tmp.npy"
            pairs = np.array(sorted(self._marks.items()), dtype=np.int64).reshape(-1, 2)
            np.save(tmp_marks, pairs, allow_pickle=False)
            _replace(tmp_marks, self.directory / MARKS_FILE)
            tmp_meta = self.directory / f".{META_FILE}.{os.getpid()}.tmp"
            tmp_meta.write_text(json.dumps(meta, indent=1), encoding="utf-8")
            _replace(tmp_meta, self.directory / META_FILE)


def _replace(tmp: Path, target: Path) -> None:
    try:
        os.replace(tmp, target)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _read_meta(meta_path: Path) -> dict:
    damaged = f"{meta_path}: the similarity index description is damaged. {REINDEX_HINT}"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise IndexMismatchError(damaged) from None
    fields = {"key": str, "dim": int, "count": int, "capacity": int, "M": int}
    fields |= {"ef_construction": int, "deleted": list}
    if (
        not isinstance(meta, dict)
        or meta.get("format") != FORMAT
        or any(not isinstance(meta.get(name), kind) for name, kind in fields.items())
    ):
        raise IndexMismatchError(damaged)
    if meta.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"{meta_path.parent}: the similarity index was saved by another version of "
            f"Vitrina. {REINDEX_HINT}"
        )
    return meta
