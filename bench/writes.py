"""Catalog writes: ms per imported photo, one transaction per photo vs one per batch; and what
a file catalog without a connection pool costs per read and per edit.

One photo = the photo row, a top-3 prediction per family and its embedding (what the
importer writes). ``add_tagged_photo`` (a commit per photo) and ``add_tagged_photos``
(a commit per batch of 16, what the importer now does) alternate round by round, each
into a fresh SQLite catalog, so load on a shared machine hits both alike.

A file catalog opens SQLite for each transaction and closes it after (no pool, so no POSIX
lock is held between transactions: docs/architecture.md, "One catalog, several programs").
``--pool`` times a read (a photo's tags) and an edit (a free tag) that way and with
SQLAlchemy's default pool, alternated round by round.

    python -m bench.writes --quick
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from sqlalchemy.pool import QueuePool

from app.core.bundle import load_bundle
from app.core.catalog import Catalog, NewPhoto
from app.core.catalog import engine as catalog_engine
from app.core.tagging import decide
from bench.common import report
from bench.models import default_bundle

BATCH = 16


def sample_photos(bundle_path: Path, count: int) -> list[NewPhoto]:
    bundle = load_bundle(bundle_path)
    rng = np.random.default_rng(0)
    dim = bundle.embedding.dim if bundle.embedding else 0
    photos = []
    for i in range(count):
        probabilities = {
            f.name: rng.dirichlet(np.ones(len(f.labels))).astype(np.float32)
            for f in bundle.families
        }
        photos.append(
            NewPhoto(
                path=f"/photos/{i}.jpg",
                sha256=f"{i:064x}",
                size_bytes=1000,
                width=320,
                height=240,
                bundle_label=bundle.label,
                decisions=decide(probabilities, bundle.families),
                bundle_key=bundle.key if dim else None,
                embedding=rng.normal(size=dim).astype(np.float32) if dim else None,
            )
        )
    return photos


def ms_per_photo(photos: list[NewPhoto], batched: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        catalog = Catalog.open(Path(tmp) / "catalog.sqlite")
        start = time.perf_counter()
        if batched:
            for first in range(0, len(photos), BATCH):
                catalog.add_tagged_photos(photos[first : first + BATCH])
        else:
            for p in photos:
                catalog.add_tagged_photo(
                    p.path,
                    p.sha256,
                    p.size_bytes,
                    p.width,
                    p.height,
                    p.bundle_label,
                    p.decisions,
                    p.bundle_key,
                    p.embedding,
                )
        seconds = time.perf_counter() - start
        catalog.close()
    return seconds / len(photos) * 1000


def compare(photos: list[NewPhoto], rounds: int) -> dict:
    """Per-photo and batched writes alternated (ABBA); ratio = per-photo / batched time."""
    times: dict[str, list[float]] = {"per_photo": [], "batched": []}
    for round_ in range(rounds):
        order = (False, True) if round_ % 2 == 0 else (True, False)
        for batched in order:
            times["batched" if batched else "per_photo"].append(ms_per_photo(photos, batched))
    ratios = np.array(times["per_photo"]) / np.array(times["batched"])
    return {
        "photos_per_round": len(photos),
        "rounds": rounds,
        "batch": BATCH,
        "per_photo_ms": round(float(np.median(times["per_photo"])), 2),
        "batched_ms": round(float(np.median(times["batched"])), 2),
        "speed_up_median_of_rounds": round(float(np.median(ratios)), 2),
        "speed_up_per_round": [round(float(r), 2) for r in ratios],
    }


@contextmanager
def pooled(enabled: bool) -> Iterator[None]:
    """Catalogs opened inside keep a pooled connection (the rule measured, undone)."""
    shipped = catalog_engine.NullPool
    catalog_engine.NullPool = QueuePool if enabled else shipped
    try:
        yield
    finally:
        catalog_engine.NullPool = shipped


def edit_costs(photos: list[NewPhoto], pool: bool, repeats: int) -> tuple[float, float]:
    """(ms per read, ms per edit) on a fresh catalog holding ``photos``."""
    with tempfile.TemporaryDirectory() as tmp, pooled(pool):
        catalog = Catalog.open(Path(tmp) / "catalog.sqlite")
        ids = [row.id for row in catalog.add_tagged_photos(photos)]
        start = time.perf_counter()
        for i in range(repeats):
            catalog.tags(ids[i % len(ids)])
        read = time.perf_counter() - start
        start = time.perf_counter()
        for i in range(repeats):
            catalog.add_free_tag(ids[i % len(ids)], f"tag {i}")
        edit = time.perf_counter() - start
        catalog.close()
    return read / repeats * 1000, edit / repeats * 1000


def compare_pool(photos: list[NewPhoto], rounds: int, repeats: int) -> dict:
    """Pooled and unpooled alternated (ABBA); medians of the rounds."""
    times: dict[str, list[tuple[float, float]]] = {"pooled": [], "no_pool": []}
    for round_ in range(rounds):
        for pool in (True, False) if round_ % 2 == 0 else (False, True):
            times["pooled" if pool else "no_pool"].append(edit_costs(photos, pool, repeats))
    return {
        f"{name}_{what}_ms": round(float(np.median([t[i] for t in runs])), 2)
        for name, runs in times.items()
        for i, what in enumerate(("read", "edit"))
    } | {"rounds": rounds, "repeats": repeats}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="4 rounds of 192 photos")
    parser.add_argument("--bundle", type=Path, help="bundle folder (default: models_onnx/default)")
    parser.add_argument("--out", type=Path, help="write the JSON result here")
    parser.add_argument("--pool", action="store_true", help="reads and edits, pool or none")
    args = parser.parse_args()
    bundle_path = args.bundle or default_bundle()
    count, rounds = (192, 4) if args.quick else (1024, 8)
    photos = sample_photos(bundle_path, count)
    if args.pool:
        result = compare_pool(photos[:64], rounds, 100 if args.quick else 500)
        report("writes-pool", {"bundle": str(bundle_path), **result}, args.out)
    else:
        result = compare(photos, rounds)
        report("writes", {"bundle": str(bundle_path), **result}, args.out)


if __name__ == "__main__":
    main()
