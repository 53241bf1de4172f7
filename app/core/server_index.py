"""Similar items asked of a pgvector catalog's server, behind the similarity index's face.

AppContext hands this out instead of an hnswlib SimilarityIndex when the catalog's server
keeps the vectors (app.core.catalog.vectors): the importer, the window and `similar` call
the same methods, and nothing of the catalog's vectors is held on this machine. The
catalog writes each vector with its photo in one transaction, so adding, removing and
saving here have nothing left to do.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from app.core.catalog import Catalog


class ServerIndex:
    """Nearest neighbours of one bundle key's vectors, found by the server's HNSW index."""

    def __init__(self, catalog: Catalog, key: str, dim: int) -> None:
        self.catalog = catalog
        self.key = key
        self.dim = dim

    def nearest(
        self, vector: np.ndarray, k: int, exclude: int | None = None
    ) -> list[tuple[int, float]]:
        """The ``k`` most similar photos as (photo id, cosine similarity), best first."""
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        if query.size != self.dim:
            raise ValueError(f"query has {query.size} values, the index holds {self.dim}")
        return self.catalog.nearest_on_server(self.key, query, k, exclude)

    def __len__(self) -> int:
        return self.catalog.count_embedded(self.key)

    def add(self, ids: Iterable[int], vectors: np.ndarray, marks: Iterable[int]) -> None:
        """Nothing to do: the catalog stored the vectors with their photos."""

    def remove(self, ids: Iterable[int]) -> int:
        """Nothing to do: the vectors went with their photos' rows."""
        return 0

    def save(self) -> None:
        """Nothing to do: the server's index is part of the committed transaction."""
