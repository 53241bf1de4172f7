"""AppContext: the catalog, the bundle's tagger and the similarity index, opened together.

The CLI and the window share it. The bundle and the index are loaded on first use, so
commands that need no model (show, accept, export, stats) work without a bundle.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from functools import cached_property
from pathlib import Path

import numpy as np

from app.core import paths
from app.core.adaptation import Adaptation
from app.core.bundle import Bundle, BundleSet, Family, load_bundle
from app.core.catalog import Catalog, RemovedPhotos
from app.core.errors import BundleError, IndexMismatchError
from app.core.server_index import ServerIndex
from app.core.similarity import SimilarityIndex, photo_mark
from app.core.tagger import Tagger

BULK_RECONCILE = 256

log = logging.getLogger(__name__)


class AppContext:
    """What every command works on; ``notices`` collects things worth telling the user."""

    def __init__(
        self,
        catalog: Catalog,
        bundle_path: Path,
        thresholds: dict[str, float] | None = None,
        inference_threads: int | None = None,
    ) -> None:
        self.catalog = catalog
        self.bundle_path = Path(bundle_path)
        self.inference_threads = inference_threads  # None: every core (CLI); the window: fewer
        self.thresholds: dict[str, float] = dict(thresholds or {})
        self.notices: list[str] = []
        self._index: SimilarityIndex | ServerIndex | None = None
        self._index_opened = False

    @classmethod
    def open(
        cls,
        db: str | Path | None = None,
        bundle: str | Path | None = None,
        inference_threads: int | None = None,
    ) -> AppContext:
        """Open (and migrate) the catalog; the bundle (default or ``bundle``) loads lazily."""
        catalog = Catalog.open(db)
        bundle_path = Path(bundle) if bundle else paths.default_bundle_path()
        return cls(catalog, bundle_path, inference_threads=inference_threads)

    @cached_property
    def bundle(self) -> Bundle | BundleSet:
        """The model bundle, loaded on first use; BundleError says how to get one."""
        if not self.bundle_path.exists():
            raise BundleError(
                f"No model bundle at {self.bundle_path}. The default bundle ships in "
                f"models_onnx/default; or train one with `vitrina-train`; then pass its "
                "folder with --bundle or set VITRINA_BUNDLE."
            )
        return load_bundle(self.bundle_path, self.inference_threads)

    @cached_property
    def tagger(self) -> Tagger:
        return Tagger(self.bundle)

    @cached_property
    def adaptation(self) -> Adaptation:
        """The bundle's families as this catalog learned to see them (app.core.adaptation)."""
        return Adaptation.load(self.catalog, self.bundle)

    @property
    def families(self) -> tuple[Family, ...]:
        """The families suggestions are decided with: labels and thresholds the catalog
        learned from its reviews where it did, else the bundle's."""
        return self.adaptation.families

    def reload_adaptation(self) -> None:
        """Read the learned corrections again (after learning or forgetting)."""
        self.__dict__.pop("adaptation", None)

    @property
    def index_dir(self) -> Path:
        return paths.index_dir_for(self.catalog.url)

    @property
    def index(self) -> SimilarityIndex | ServerIndex | None:
        """The similarity index of the current bundle, reconciled with the catalog on first use.

        ``None`` when the bundle has no embedding. An index built by another bundle, or a
        damaged one, is rebuilt from the embeddings the catalog stores. A PostgreSQL server
        with pgvector answers itself (ServerIndex); one without says so once, here.
        """
        if not self._index_opened:
            self._index = self._open_index()
            self._index_opened = True
        return self._index

    def _open_index(self) -> SimilarityIndex | ServerIndex | None:
        tagger = self.tagger
        if not tagger.embedding_dim:
            return None
        key, dim = tagger.embedding_key, tagger.embedding_dim
        if self.catalog.server_vectors:
            return ServerIndex(self.catalog, key, dim)
        self._say_without_server_vectors()
        try:
            index = SimilarityIndex.open(self.index_dir, key, dim)
        except IndexMismatchError as exc:
            self.notices.append(f"{exc} Rebuilding it now from the catalog.")
            index = SimilarityIndex(self.index_dir, key, dim)
        before = len(index)
        added, dropped = self._reconcile(index, key)
        if added or dropped:
            if before:
                self.notices.append(
                    f"Similarity index brought in line with the catalog: "
                    f"{added} added, {dropped} dropped."
                )
            self._save(index, "bringing it in line with the catalog")
        return index

    def _say_without_server_vectors(self) -> None:
        """Once: a PostgreSQL catalog whose server cannot serve similar items (no pgvector)."""
        notice = self.catalog.without_server_vectors
        if notice and notice not in self.notices:
            self.notices.append(notice)

    def _reconcile(self, index: SimilarityIndex, key: str) -> tuple[int, int]:
        """Compare (id, mark) pairs first and read only the vectors the index lacks or holds
        for another photo: opening stays quick at 100,000 photos. (added, dropped)."""
        catalog = self.catalog
        wanted = {i: photo_mark(sha) for i, sha in catalog.embedded_photos(key).items()}
        have = index.marks()
        missing = sorted(i for i, mark in wanted.items() if have.get(i) != mark)
        if len(missing) > BULK_RECONCILE:
            return index.reconcile(_marked(catalog.embeddings(key), wanted))
        vectors = [(i, catalog.embedding(i, key)) for i in missing]
        vectors = [(i, v) for i, v in vectors if v is not None]
        if vectors:
            ids = [i for i, _ in vectors]
            index.add(ids, np.stack([v for _, v in vectors]), [wanted[i] for i in ids])
        return len(vectors), index.remove(have.keys() - wanted.keys())

    def rebuild_index(self) -> SimilarityIndex | ServerIndex | None:
        """A fresh index from the catalog's stored embeddings of the current bundle; on a
        PostgreSQL server that has pgvector, the server's index (made now if it got pgvector
        after the catalog was created), and no copy on this machine."""
        tagger = self.tagger
        if not tagger.embedding_dim:
            return None
        key = tagger.embedding_key
        if self.catalog.enable_server_vectors():
            self._index, self._index_opened = (
                ServerIndex(self.catalog, key, tagger.embedding_dim),
                True,
            )
            return self._index
        self._say_without_server_vectors()
        index = SimilarityIndex(self.index_dir, key, tagger.embedding_dim)
        wanted = {i: photo_mark(sha) for i, sha in self.catalog.embedded_photos(key).items()}
        index.reconcile(_marked(self.catalog.embeddings(key), wanted))
        index.save()
        self._index, self._index_opened = index, True
        return index

    def remove_photos(self, photo_ids: Iterable[int]) -> RemovedPhotos:
        """Remove photos from the catalog and from the similarity index if it is open (an
        index opened later drops them when it is reconciled). The files stay on disk."""
        removed = self.catalog.remove_photos(photo_ids)
        if removed.ids and self._index is not None:
            self._index.remove(removed.ids)
            self.save("removing photos")
        return removed

    def restore_photos(self, removed: RemovedPhotos) -> dict[int, int]:
        """Undo a removal in the catalog and in the open index; removed id -> id now
        (see ``Catalog.restore_photos`` for the photos that stay out)."""
        back = self.catalog.restore_photos(removed)
        if back and self._index is not None:
            vectors = removed.vectors(self._index.key)
            ids = [photo_id for photo_id in back if photo_id in vectors]
            if ids:
                marks = [photo_mark(removed.sha256(i)) for i in ids]
                self._index.add([back[i] for i in ids], np.stack([vectors[i] for i in ids]), marks)
                self.save("putting photos back")
        return back

    def save(self, after: str) -> str | None:
        """Save the open index once the catalog has committed a change (``after`` names it).
        The index is only the catalog's cache, reconciled whenever it opens, so a failed
        save (a full disk) must not report the committed change as failed: an import would
        look lost, and a removal's caller would drop the rows that its undo needs. Returns
        the notice when the save failed."""
        return None if self._index is None else self._save(self._index, after)

    def _save(self, index: SimilarityIndex, after: str) -> str | None:
        try:
            index.save()
        except OSError as exc:
            notice = (
                f"The similarity index could not be saved after {after} ({exc}); the "
                "catalog has the change, and the index catches up the next time it opens."
            )
            log.warning(notice)
            if notice not in self.notices:  # an import saves every few hundred photos
                self.notices.append(notice)
            return notice
        return None

    def close(self) -> None:
        """Close the catalog; the importer and ``reindex`` have saved the index already."""
        self.catalog.close()

    def __enter__(self) -> AppContext:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _marked(
    embeddings: Iterable[tuple[int, np.ndarray]], marks: dict[int, int]
) -> Iterator[tuple[int, int, np.ndarray]]:
    """(id, mark, vector) for the index; a photo added since the marks were read is left
    to the import adding it."""
    for photo_id, vector in embeddings:
        if photo_id in marks:
            yield photo_id, marks[photo_id], vector
