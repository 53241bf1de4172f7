"""Import photos: walk, hash, skip duplicates, decode + tag in batches, write rows, grow the index.

A bad file never stops the batch: it is collected with its reason. Decoding of the next
batch runs in a thread pool while the current one is tagged (onnxruntime releases the GIL).
A tagged batch is written in one catalog transaction (one commit, not one per photo), so
cancel takes effect between batches of writes.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TypeVar

import numpy as np

from app.core.adaptation import pack_probabilities
from app.core.catalog import DuplicatePhotoError, NewPhoto, PhotoRow
from app.core.catalog.rows import Retagged
from app.core.decode import (
    SUPPORTED_SUFFIXES,
    DecodedPhoto,
    PhotoFile,
    decode_photo,
    open_photo,
    read_photo,
)
from app.core.errors import CatalogError, VitrinaError
from app.core.near_duplicates import HashIndex, perceptual_hash
from app.core.similarity import photo_mark

if TYPE_CHECKING:
    from PIL import Image

    from app.core.catalog import Catalog
    from app.core.context import AppContext
    from app.core.tagger import Tagged, Tagger

Progress = Callable[[int, int, Path], None]
Cancel = Callable[[], bool]
T = TypeVar("T")

SAVE_EVERY = 256
DECODE_WORKERS = max(1, min(4, os.cpu_count() or 1))
READS = ", ".join(sorted(SUPPORTED_SUFFIXES))
# Picture types people expect to import: in a folder they are reported, other files skipped.
UNREAD_PICTURE_SUFFIXES = frozenset(
    {".gif", ".heic", ".heif", ".avif", ".svg", ".svgz", ".jxl", ".jp2", ".j2k", ".psd", ".pdf"}
    | {".eps", ".ico", ".tga", ".dng", ".cr2", ".cr3", ".nef", ".arw", ".orf", ".rw2", ".raf"}
)


class Failure(NamedTuple):
    """A file that was not imported; ``reason`` is a complete sentence naming the file."""

    path: Path
    reason: str


class Duplicate(NamedTuple):
    """A file whose content is already in the catalog (or earlier in the batch)."""

    path: Path
    original: str


class Moved(NamedTuple):
    """A catalog photo found again at another path, its recorded file being gone: the
    catalog now points at ``path`` and keeps its tags."""

    path: Path
    was: str


class NearMatch(NamedTuple):
    """A photo added and flagged: it looks like an earlier one (app.core.near_duplicates)."""

    path: Path
    photo_id: int
    original_id: int
    original: str  # the earlier photo's path
    distance: int


@dataclass
class ImportReport:
    """What an import did; ``ok`` when no file failed."""

    added: list[int] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    near_duplicates: list[NearMatch] = field(default_factory=list)
    moved: list[Moved] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # what went wrong after the commits
    cancelled: bool = False
    elapsed: float = 0.0
    total: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures


def _moved_from(recorded: str, found: Path) -> bool:
    """The catalog's file for this content is gone and it turned up at ``found``: a folder
    renamed or moved since the import (a copy next to a file still there is a duplicate)."""
    return recorded != str(found) and not os.path.lexists(recorded)


# --- finding files --------------------------------------------------------------------


def _unreadable(path: Path, exc: OSError) -> Failure:
    if exc.errno == errno.ELOOP:
        return Failure(path, f"{path}: is a symbolic link loop; skipped. Remove or fix the link.")
    if path.is_symlink():
        return Failure(
            path, f"{path}: is a broken symbolic link (its target is missing); fix or remove it."
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return Failure(path, f"{path}: permission denied; make it readable and import it again.")
    return Failure(path, f"{path}: cannot be read ({exc.strerror or exc}). Check the path.")


def _supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES


def _unsupported(path: Path) -> Failure:
    return Failure(
        path,
        f"{path}: {path.suffix or 'a file without suffix'} is not a photo type "
        f"Vitrina reads ({READS}); convert it to JPEG or PNG to import it.",
    )


def _walk(
    folder: Path, ancestors: frozenset, visited: set, failures: list[Failure]
) -> Iterator[Path]:
    """Photos under ``folder``, sorted; symlinked folders followed once, loops reported."""
    try:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError as exc:
        failures.append(_unreadable(folder, exc))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            info = os.stat(path)
        except OSError as exc:
            if _supported(path) or exc.errno == errno.ELOOP:
                failures.append(_unreadable(path, exc))
            continue
        if stat.S_ISDIR(info.st_mode):
            key = (info.st_dev, info.st_ino)
            if key in ancestors:
                failures.append(
                    Failure(path, f"{path}: links back to a folder that holds it; skipped.")
                )
            elif key not in visited:
                visited.add(key)
                yield from _walk(path, ancestors | {key}, visited, failures)
        elif _supported(path):
            if stat.S_ISREG(info.st_mode):
                yield path
            else:
                failures.append(Failure(path, f"{path}: is not a regular file; skipped."))
        elif path.suffix.lower() in UNREAD_PICTURE_SUFFIXES:
            failures.append(_unsupported(path))


def collect_files(paths: Iterable[Path | str]) -> tuple[list[Path], list[Failure]]:
    """The photo files named by ``paths`` (files, or folders walked recursively), and failures.

    In folders, picture types Vitrina does not read (HEIC, GIF, SVG, ...) are failures and
    other files are skipped silently; an unsupported file named explicitly, a missing path,
    a broken link, an unreadable folder or a name that is not UTF-8 is a failure.
    """
    files: list[Path] = []
    failures: list[Failure] = []
    visited: set = set()
    for given in paths:
        path = Path(os.path.abspath(os.path.expanduser(given)))
        try:
            info = os.stat(path)
        except OSError as exc:
            if exc.errno == errno.ENOENT and not path.is_symlink():
                failures.append(Failure(path, f"{path}: does not exist. Check the path."))
            else:
                failures.append(_unreadable(path, exc))
            continue
        if stat.S_ISDIR(info.st_mode):
            key = (info.st_dev, info.st_ino)
            if key not in visited:
                visited.add(key)
                files += _walk(path, frozenset({key}), visited, failures)
        elif not _supported(path):
            failures.append(_unsupported(path))
        elif not stat.S_ISREG(info.st_mode):
            failures.append(Failure(path, f"{path}: is not a regular file; skipped."))
        else:
            files.append(path)
    unique = [path for path in dict.fromkeys(files) if _storable(path, failures)]
    return unique, failures


def _storable(path: Path, failures: list[Failure]) -> bool:
    """False (and a failure) for a name that is not valid UTF-8: the catalog stores text."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(path).decode("utf-8", "backslashreplace")
        failures.append(
            Failure(
                path,
                f"{shown}: its name is not valid UTF-8 text, so the catalog cannot store it; "
                "rename the file and import it again.",
            )
        )
        return False
    return True


# --- the import pipeline -----------------------------------------------------------------


@dataclass
class _Item:
    path: Path
    sha256: str
    size: int
    decoded: Future[DecodedPhoto]
    photo_id: int | None = None  # a catalog photo tagged again


def failure_reason(path: Path, exc: BaseException) -> str:
    if isinstance(exc, VitrinaError):
        return str(exc)
    if isinstance(exc, OSError):
        return _unreadable(path, exc).reason
    return f"{path}: could not be imported ({type(exc).__name__}: {exc})."


def tag_batch(tagger: Tagger, images: list) -> list:
    """Tag a batch; if the batch fails, tag one by one so only the bad photo fails."""
    try:
        return list(tagger.tag_images(images))
    except Exception:
        results: list = []
        for image in images:
            try:
                results.extend(tagger.tag_images([image]))
            except Exception as exc:
                results.append(exc)
        return results


def _add_batch(catalog: Catalog, photos: list[NewPhoto]) -> list[PhotoRow | CatalogError]:
    """The batch's rows; if the catalog cannot be written at all, every photo fails with it."""
    try:
        return catalog.add_tagged_photos(photos)
    except CatalogError as exc:
        return [exc] * len(photos)


class _Importer:
    """One run of :func:`import_paths`; holds the counters the stages share."""

    def __init__(
        self, ctx: AppContext, report: ImportReport, progress: Progress | None, cancel: Cancel
    ) -> None:
        self.ctx = ctx
        self.report = report
        self.progress = progress
        self.cancel = cancel
        self.done = 0
        self.unsaved = 0
        self.hashes: HashIndex | None = None  # read from the catalog at the first new photo

    def tick(self, path: Path) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.report.total, path)

    def stopped(self) -> bool:
        if not self.report.cancelled and self.cancel():
            self.report.cancelled = True
        return self.report.cancelled

    def stage(self, pool: ThreadPoolExecutor, chunk: list[Path], min_side: int) -> list[_Item]:
        """Read and hash a chunk, drop duplicates (one catalog query), and start decoding
        the rest from the bytes that were hashed (a file rewritten meanwhile cannot get the
        hash of one version and the tags of another)."""
        futures = [(path, pool.submit(read_photo, path)) for path in chunk]
        read: list[PhotoFile] = []
        for path, future in futures:
            if self.stopped():
                break
            try:
                read.append(future.result())
            except (VitrinaError, OSError) as exc:
                self.fail(path, exc)
        new = self.settle_known([(photo.path, photo.sha256) for photo in read])
        return [
            _Item(
                photo.path,
                photo.sha256,
                len(photo.data),
                pool.submit(decode_photo, photo, min_side),
            )
            for photo, is_new in zip(read, new, strict=True)
            if is_new
        ]

    def settle_known(self, found: list[tuple[Path, str]]) -> list[bool]:
        """Of files read and hashed, report those whose content the catalog holds (a
        duplicate, or its photo found again at a new path, which is recorded) in one query;
        which files are new."""
        known = self.ctx.catalog.find_by_hashes(sha for _, sha in found) if found else {}
        moves: dict[int, str] = {}
        for path, sha in found:
            photo = known.get(sha)
            if photo is None:
                continue
            if photo.id not in moves and _moved_from(photo.path, path):
                moves[photo.id] = str(path)
                self.report.moved.append(Moved(path, photo.path))
            else:
                self.report.duplicates.append(Duplicate(path, moves.get(photo.id, photo.path)))
            self.tick(path)
        if moves:
            self.ctx.catalog.move_photos(moves)
        return [sha not in known for _, sha in found]

    def fail(self, path: Path, exc: BaseException) -> None:
        self.report.failures.append(Failure(path, failure_reason(path, exc)))
        self.tick(path)

    def stage_known(
        self, pool: ThreadPoolExecutor, photos: list[PhotoRow], min_side: int
    ) -> list[_Item]:
        """Start decoding catalog photos to tag them again."""
        return [
            _Item(
                Path(p.path),
                p.sha256,
                p.size_bytes,
                pool.submit(open_photo, p.path, min_side),
                p.id,
            )
            for p in photos
        ]

    def process(self, items: list[_Item]) -> None:
        """Wait for the decodes, tag the batch, and write it in one transaction (new photos,
        or new suggestions of catalog photos tagged again)."""
        ready: list[tuple[_Item, DecodedPhoto]] = []
        for item in items:
            try:
                ready.append((item, item.decoded.result()))
            except Exception as exc:
                self.fail(item.path, exc)
        if not ready:
            return
        results = tag_batch(self.ctx.tagger, [decoded.image for _, decoded in ready])
        if self.stopped():
            return
        tagged: list[tuple[_Item, DecodedPhoto, Tagged]] = []
        for (item, decoded), result in zip(ready, results, strict=True):
            if isinstance(result, Exception):
                self.fail(item.path, result)
            else:
                tagged.append((item, decoded, result))
        if tagged and tagged[0][0].photo_id is not None:
            self.rewrite(tagged)
        else:
            news = [
                self.new_photo(
                    item.path, item.sha256, item.size, (decoded.width, decoded.height), result
                )
                for item, decoded, result in tagged
            ]
            news = self.look_alikes(news, [decoded.image for _, decoded, _ in tagged])
            self.write(news, [item.path for item, _, _ in tagged])

    def look_alikes(self, photos: list[NewPhoto], images: list[Image.Image]) -> list[NewPhoto]:
        """Each new photo with its perceptual hash and, when it looks like an earlier photo
        (of the catalog, or of this import), that photo, to be flagged in the same write."""
        if self.hashes is None:
            self.hashes = HashIndex(self.ctx.catalog.near_hashes())
        flagged = []
        for photo, image in zip(photos, images, strict=True):
            value = perceptual_hash(image)
            match = self.hashes.closest(value)
            self.hashes.extend([(photo.sha256, value)])
            flagged.append(
                dataclasses.replace(
                    photo,
                    near_hash=value,
                    near_original=match.sha256 if match else None,
                    near_distance=match.distance if match else 0,
                )
            )
        return flagged

    def rewrite(self, tagged: list[tuple[_Item, DecodedPhoto, Tagged]]) -> None:
        """New suggestions, embeddings and features of catalog photos, in one transaction."""
        tagger, adaptation = self.ctx.tagger, self.ctx.adaptation
        items = [
            Retagged(
                photo_id=item.photo_id,
                bundle_label=tagger.bundle.label,
                decisions=adaptation.decide(
                    result.probabilities, result.features, self.ctx.thresholds
                ),
                bundle_key=tagger.embedding_key,
                embedding=result.embedding,
                features=result.features,
                probabilities=_packed(tagger, result),
                near_hash=perceptual_hash(decoded.image),
            )
            for item, decoded, result in tagged
            if item.photo_id is not None
        ]
        try:
            self.ctx.catalog.record_tagging(items)
        except CatalogError as exc:
            for item, _, _ in tagged:
                self.fail(item.path, exc)
            return
        embedded = [(item, result) for item, _, result in tagged if result.embedding is not None]
        for item, _, _ in tagged:
            self.report.added.append(int(item.photo_id))
            self.tick(item.path)
        self.grow_index(
            [int(item.photo_id) for item, _ in embedded],
            [result.embedding for _, result in embedded],
            [photo_mark(item.sha256) for item, _ in embedded],
        )

    def new_photo(
        self, path: Path, sha256: str, size: int, pixels: tuple[int, int], result: Tagged
    ) -> NewPhoto:
        """A tagged file's rows, its suggestions decided as this catalog learned to."""
        tagger = self.ctx.tagger
        return NewPhoto(
            path=str(path),
            sha256=sha256,
            size_bytes=size,
            width=pixels[0],
            height=pixels[1],
            bundle_label=tagger.bundle.label,
            decisions=self.ctx.adaptation.decide(
                result.probabilities, result.features, self.ctx.thresholds
            ),
            bundle_key=tagger.embedding_key,
            embedding=result.embedding,
            features=result.features,
            probabilities=_packed(tagger, result),
        )

    def write(self, photos: list[NewPhoto], paths: list[Path]) -> None:
        """One transaction for the batch; each photo still added, duplicate or failed alone."""
        if not photos:
            return
        ids, vectors, marks = [], [], []
        flagged: dict[int, Path] = {}
        results = _add_batch(self.ctx.catalog, photos)
        for new, path, result in zip(photos, paths, results, strict=True):
            if isinstance(result, DuplicatePhotoError):
                self.report.duplicates.append(Duplicate(path, result.existing.path))
                self.tick(path)
            elif isinstance(result, CatalogError):
                self.fail(path, result)
            else:
                self.report.added.append(result.id)
                self.tick(path)
                if new.near_original:
                    flagged[result.id] = path
                if new.embedding is not None:
                    ids.append(result.id)
                    vectors.append(new.embedding)
                    marks.append(photo_mark(new.sha256))
        self.grow_index(ids, vectors, marks)
        for flag in self.ctx.catalog.near_duplicates(flagged) if flagged else []:
            if flag.photo_id in flagged:
                near = (flag.photo_id, flag.original_id, flag.original_path, flag.distance)
                self.report.near_duplicates.append(NearMatch(flagged[flag.photo_id], *near))

    def grow_index(self, ids: list[int], vectors: list[np.ndarray], marks: list[int]) -> None:
        index = self.ctx.index
        if index is None or not ids:
            return
        index.add(ids, np.stack(vectors).astype(np.float32), marks)
        self.unsaved += len(ids)
        if self.unsaved >= SAVE_EVERY:
            self.save()

    def pipeline(
        self,
        items: list[T],
        stage: Callable[[ThreadPoolExecutor, list[T]], list[_Item]],
        decode_workers: int,
        after: str = "importing photos",
    ) -> None:
        """Run ``items`` a batch at a time, the next batch staged (read, decoded) on the
        pool's threads while this one is tagged and written; stop at a cancel, and save
        the index however it ends. Import and re-tag differ only in ``stage``."""
        batch = self.ctx.tagger.batch_size
        chunks = [items[i : i + batch] for i in range(0, len(items), batch)]
        pool = ThreadPoolExecutor(decode_workers, thread_name_prefix="vitrina-decode")
        try:
            pending = stage(pool, chunks[0])
            for chunk in [*chunks[1:], None]:
                upcoming = stage(pool, chunk) if chunk and not self.stopped() else []
                self.process(pending)
                pending = upcoming
                if self.stopped():
                    break
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            self.save(after)

    def save(self, after: str = "importing photos") -> None:
        if self.unsaved and self.ctx.index is not None:
            _note(self.report, self.ctx.save(after))
        self.unsaved = 0


def _packed(tagger: Tagger, result: Tagged) -> np.ndarray | None:
    """The probabilities stored beside the features (only they are learned from)."""
    if result.features is None:
        return None
    return pack_probabilities(tagger.families, result.probabilities)


def _note(report: ImportReport, notice: str | None) -> None:
    if notice and notice not in report.notices:
        report.notices.append(notice)


def import_paths(
    paths: Iterable[Path | str],
    ctx: AppContext,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    decode_workers: int = DECODE_WORKERS,
) -> ImportReport:
    """Import files and folders into ``ctx``'s catalog and similarity index.

    ``progress(done, total, path)`` is called after each file; ``cancel()`` is checked
    between files and batches and stops the import cleanly (what was written stays, the
    index is saved). Per-file problems land in ``report.failures``; only a fatal problem
    (no bundle, unusable catalog) raises. ``decode_workers``: hashing and decoding threads
    (the window passes 1 to leave a core to its event loop).
    """
    started = time.monotonic()
    files, failures = collect_files(paths)
    report = ImportReport(failures=failures, total=len(files))
    run = _Importer(ctx, report, progress, cancel or (lambda: False))
    if files:
        min_side = ctx.tagger.decode_side
        run.pipeline(files, lambda pool, chunk: run.stage(pool, chunk, min_side), decode_workers)
    report.elapsed = time.monotonic() - started
    return report


def retag_photos(
    photo_ids: list[int],
    ctx: AppContext,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    decode_workers: int = DECODE_WORKERS,
) -> ImportReport:
    """Tag catalog photos again with the current bundle: new predictions, embedding and
    features, written a batch per transaction by the import pipeline (same decode threads,
    progress and cancel). Used by ``reindex`` and File → Re-tag; human tags stay. A photo
    whose file is gone or unreadable is a failure; the rest go on."""
    started = time.monotonic()
    report = ImportReport(total=len(photo_ids))
    run = _Importer(ctx, report, progress, cancel or (lambda: False))
    if photo_ids:
        min_side = ctx.tagger.decode_side
        run.pipeline(
            photo_ids,
            lambda pool, chunk: run.stage_known(pool, _photos(ctx.catalog, chunk), min_side),
            decode_workers,
            "tagging photos again",
        )
    report.elapsed = time.monotonic() - started
    return report


def _photos(catalog: Catalog, ids: list[int]) -> list[PhotoRow]:
    return [catalog.get_photo(photo_id) for photo_id in ids]
