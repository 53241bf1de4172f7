"""Tagging a backlog on Ray (`vitrina batch`): the import pipeline split where Ray runs it.

Each Ray actor holds one onnxruntime session (its threads = the CPUs the actor asks for)
and does for a file what `vitrina import` does: reads it once, hashes and decodes those
bytes, and runs the bundle (:func:`tag_files`). This process keeps the catalog: files
whose content the catalog holds are reported as an import reports them, suggestions are
decided with the catalog's learned corrections, and each batch is written in one
transaction by the importer's own writer, which also grows the similarity index. So a
batch leaves the same rows, the same dedup by content and the same audit as an import.

Resumable: a file already in the catalog under its path (same size) is skipped before
anything is read, so a run killed midway loses at most the batch it was writing.

Ray (the `scale` extra) is imported only when a batch runs; nothing else imports this
module, so the window and the other commands never load Ray.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import threading
import time
from collections.abc import Generator, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from app.core.adaptation import family_slices, pack_probabilities
from app.core.bundle import load_bundle
from app.core.decode import DecodedPhoto, PhotoFile, decode_photo, read_photo
from app.core.errors import VitrinaError
from app.core.importer import (
    Cancel,
    Failure,
    ImportReport,
    Progress,
    _Importer,
    collect_files,
    failure_reason,
    tag_batch,
)
from app.core.tagger import Tagged, Tagger

if TYPE_CHECKING:
    from app.core.catalog import Catalog
    from app.core.context import AppContext

FILES_PER_BLOCK = 64  # Ray Data blocks of the file list
INSTALL_HINT = "install the scale extra: pip install -e '.[scale]'"

log = logging.getLogger(__name__)


@dataclass
class BatchReport(ImportReport):
    """An import's report, plus the files skipped as already tagged and the Ray workers."""

    skipped: int = 0
    workers: int = 0
    threads: int = 0


# --- where Ray runs: files -> rows of the bundle's outputs -------------------------------------


def _read_and_decode(path: str, min_side: int) -> tuple[PhotoFile, DecodedPhoto] | str:
    """(read file, decoded photo) or why the file cannot be imported."""
    try:
        photo = read_photo(path)
        return photo, decode_photo(photo, min_side)
    except Exception as exc:
        return failure_reason(Path(path), exc)


def tag_files(tagger: Tagger, paths: Sequence[str], threads: int = 1) -> dict[str, np.ndarray]:
    """Read, hash, decode and tag files as an import does, as columns: path, sha256, size,
    width, height, failure ('' when tagged), probabilities (every family's, packed in the
    bundle's order), and embedding and features where the bundle has them. ``threads``
    decode at once; the session's own threads were set when the bundle was loaded."""
    bundle = tagger.bundle
    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            opened = list(pool.map(_read_and_decode, paths, [tagger.decode_side] * len(paths)))
    else:
        opened = [_read_and_decode(path, tagger.decode_side) for path in paths]
    ready = [i for i, found in enumerate(opened) if not isinstance(found, str)]
    results = tag_batch(tagger, [opened[i][1].image for i in ready]) if ready else []
    n = len(paths)
    width = sum(len(f.labels) for f in tagger.families)
    columns: dict[str, np.ndarray] = {
        "path": np.asarray(paths, dtype=object),
        "sha256": np.full(n, "", dtype=object),
        "size": np.zeros(n, dtype=np.int64),
        "width": np.zeros(n, dtype=np.int64),
        "height": np.zeros(n, dtype=np.int64),
        "failure": np.asarray([f if isinstance(f, str) else "" for f in opened], dtype=object),
        "probabilities": np.zeros((n, width), dtype=np.float32),
    }
    if bundle.embedding:
        columns["embedding"] = np.zeros((n, bundle.embedding.dim), dtype=np.float32)
    if bundle.features:
        columns["features"] = np.zeros((n, bundle.features.dim), dtype=np.float32)
    for row, result in zip(ready, results, strict=True):
        photo, decoded = opened[row]
        if isinstance(result, Exception):
            columns["failure"][row] = failure_reason(Path(paths[row]), result)
            continue
        columns["sha256"][row] = photo.sha256
        columns["size"][row] = len(photo.data)
        columns["width"][row], columns["height"][row] = decoded.width, decoded.height
        columns["probabilities"][row] = pack_probabilities(tagger.families, result.probabilities)
        for name, value in (("embedding", result.embedding), ("features", result.features)):
            if name in columns and value is not None:
                columns[name][row] = value
    return columns


class TagWorker:
    """A Ray actor: one bundle session with ``threads`` threads, tagging batches of paths."""

    def __init__(self, bundle_path: str, threads: int) -> None:
        self.tagger = Tagger(load_bundle(bundle_path, threads))
        self.threads = threads

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return tag_files(self.tagger, [str(p) for p in batch["path"]], self.threads)


def _worker_class(bundle_path: str, threads: int) -> type[TagWorker]:
    """TagWorker bound to its bundle and threads. Ray ships this class with its closure;
    constructor arguments would go through the object store instead, and an actor whose
    arguments were lost could not be restarted on another node."""

    class BoundTagWorker(TagWorker):
        def __init__(self) -> None:
            super().__init__(bundle_path, threads)

    return BoundTagWorker


# --- where the catalog is: rows -> catalog -------------------------------------------------------


def not_yet_tagged(catalog: Catalog, files: list[Path]) -> tuple[list[Path], int]:
    """The files to tag, and how many are skipped: in the catalog under the same path and
    size (a file rewritten since, with another size, is tagged again)."""
    todo: list[Path] = []
    skipped = 0
    chunk = 500
    for start in range(0, len(files), chunk):
        part = files[start : start + chunk]
        known = catalog.sizes_at(str(path) for path in part)
        for path in part:
            size = known.get(str(path))
            if size is not None and _size(path) == size:
                skipped += 1
            else:
                todo.append(path)
    return todo, skipped


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _write(run: _Importer, tagger: Tagger, batch: dict[str, np.ndarray]) -> None:
    """One batch of Ray's rows into the catalog: failures reported, known content settled
    as an import settles it, the rest written in one transaction."""
    paths = [Path(str(p)) for p in batch["path"]]
    tagged: list[int] = []
    for row, path in enumerate(paths):
        if batch["failure"][row]:
            run.report.failures.append(Failure(path, str(batch["failure"][row])))
            run.tick(path)
        else:
            tagged.append(row)
    found = [(paths[row], str(batch["sha256"][row])) for row in tagged]
    new = [row for row, is_new in zip(tagged, run.settle_known(found), strict=True) if is_new]
    slices = family_slices(tagger.families)
    photos = []
    for row in new:
        result = Tagged(
            {name: batch["probabilities"][row][part] for name, part in slices.items()},
            batch["embedding"][row] if "embedding" in batch else None,
            batch["features"][row] if "features" in batch else None,
        )
        pixels = (int(batch["width"][row]), int(batch["height"][row]))
        size = int(batch["size"][row])
        photos.append(run.new_photo(paths[row], str(batch["sha256"][row]), size, pixels, result))
    run.write(photos, [paths[row] for row in new])


def _ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise VitrinaError(
            f"`vitrina batch` runs on Ray, which is not installed; {INSTALL_HINT}."
        ) from exc
    return ray


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _start(ray: Any, address: str | None) -> None:
    """Connect to the Ray cluster at ``address``, or start a local one for this run."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # A terminal's Ctrl-C reaches the whole foreground process group: a local Ray's
    # processes must leave it to this one, which stops between batches (cancel).
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if _main_thread() else None
    try:
        ray.init(
            address=address,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.ERROR,  # Vitrina reports progress and problems itself
        )
    except Exception as exc:  # Ray raises bare Exception too ("node timed out during startup")
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise VitrinaError(
            f"Cannot start or reach {where} ({exc}). Check the address (the head node's "
            "`ray start --head` prints it) or leave --address out to run on this machine."
        ) from exc
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    context.execution_options.preserve_order = True  # ids in path order, as an import's
    logging.getLogger("ray.data").setLevel(logging.ERROR)


def _let_go(ray: Any, batches: Generator) -> None:
    """Stop the local Ray (or leave the cluster). Actors stopped with tasks queued (a
    cancelled run) make Ray print a line each on stdout, which is the command's output:
    they go to the log."""
    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        batches.close()
        ray.shutdown()
    if said.getvalue().strip():
        log.info("Ray, while stopping: %s", said.getvalue().strip())


def run_batch(
    paths: Iterable[Path | str],
    ctx: AppContext,
    address: str | None = None,
    workers: int | None = None,
    threads: int = 1,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> BatchReport:
    """Tag files and folders on Ray into ``ctx``'s catalog (see the module's docstring).

    ``workers`` actors of ``threads`` CPUs each (default: as many as the cluster's CPUs
    hold); ``progress(done, total, path)`` after each file written; ``cancel()`` is asked
    between batches: what was written stays, the index is saved, Ray is let go.
    """
    if threads < 1 or (workers is not None and workers < 1):
        raise VitrinaError("--workers and --threads must be at least 1.")
    started = time.monotonic()
    files, failures = collect_files(paths)
    todo, skipped = not_yet_tagged(ctx.catalog, files)
    report = BatchReport(failures=failures, total=len(todo), skipped=skipped, threads=threads)
    run = _Importer(ctx, report, progress, cancel or (lambda: False))
    if todo:
        ray = _ray()
        tagger = ctx.tagger  # the bundle loads here first: a bad one stops before Ray starts
        _start(ray, address)
        batches: Generator = iter(())
        try:
            cpus = int(ray.cluster_resources().get("CPU", 1))
            report.workers = workers or max(1, cpus // threads)
            blocks = max(4 * report.workers, len(todo) // FILES_PER_BLOCK)
            dataset = ray.data.from_items(
                [{"path": str(path)} for path in todo],
                override_num_blocks=min(len(todo), blocks),
            ).map_batches(
                _worker_class(str(Path(tagger.bundle.path).resolve()), threads),
                batch_size=tagger.batch_size,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=report.workers),
                num_cpus=threads,
            )
            batches = iter(dataset.iter_batches(batch_size=tagger.batch_size, batch_format="numpy"))
            for batch in batches:
                _write(run, tagger, batch)
                if run.stopped():
                    break
        except ray.exceptions.RayError as exc:
            raise VitrinaError(
                f"Ray stopped the batch ({type(exc).__name__}: {str(exc).splitlines()[0]}). "
                f"The {len(report.added)} photo(s) written are kept; run the same command "
                "again to tag the rest (photos already in the catalog are skipped)."
            ) from exc
        finally:
            run.save("tagging a backlog")
            _let_go(ray, batches)
    report.elapsed = time.monotonic() - started
    return report
