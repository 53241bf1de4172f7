"""Helpers the benchmarks share: photo sets, machine description, memory, result output."""

from __future__ import annotations

import datetime
import json
import os
import platform
import resource
import subprocess
import time
from pathlib import Path

import numpy as np

from bench.models import CACHE, REPO

CATALOG_IMAGES = REPO.parent / "shared" / "datasets" / "catalog" / "images"
CLOTHING_IMAGES = REPO.parent / "shared" / "datasets" / "clothing" / "images"
TWELVE_MP = CACHE / "12mp"
TWELVE_MP_SIZE = (4000, 3000)


def catalog_photos(count: int, offset: int = 0) -> list[Path]:
    """Real ~320 px catalog photos, in a fixed order so runs compare."""
    photos = sorted(CATALOG_IMAGES.glob("*.jpg"))
    return photos[offset : offset + count]


def twelve_mp_photos(count: int = 20) -> list[Path]:
    """4000x3000 JPEGs upscaled from real photos, with sensor-like grain.

    Grain keeps the files at phone-photo sizes (a few MB): a smooth upscale compresses
    to far less and would decode unrealistically fast.
    """
    from PIL import Image, ImageOps

    TWELVE_MP.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i, source in enumerate(catalog_photos(count, offset=5000)):
        path = TWELVE_MP / f"12mp-{i:03d}.jpg"
        if not path.is_file():
            with Image.open(source) as small:
                big = ImageOps.fit(small.convert("RGB"), TWELVE_MP_SIZE, Image.Resampling.BICUBIC)
            pixels = np.asarray(big, dtype=np.int16)
            pixels = pixels + rng.normal(0, 6, pixels.shape).astype(np.int16)
            noisy = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
            noisy.save(path, quality=92)
        paths.append(path)
    return paths


def machine() -> dict:
    """CPU model, core count, load and versions, written next to every figure."""
    model = platform.processor() or "unknown"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next(
            (line.split(":", 1)[1].strip() for line in out.splitlines() if "Model name" in line),
            model,
        )
    except OSError:
        pass
    import onnxruntime

    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "date": datetime.date.today().isoformat(),
    }


def rss_mb() -> float:
    """Current resident set size in MiB (Linux /proc; peak RSS elsewhere)."""
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Timer:
    """``with Timer() as t: ...`` then ``t.seconds``."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def percentile_ms(seconds: list[float] | np.ndarray, q: float) -> float:
    return float(np.percentile(np.asarray(seconds) * 1000.0, q))


def report(name: str, result: dict, out: Path | None) -> None:
    """Print the result as JSON and write it to ``out`` (or .cache/bench/results/)."""
    result = {"benchmark": name, "machine": machine(), **result}
    text = json.dumps(result, indent=1, default=float)
    print(text)
    target = out or CACHE / "results" / f"{name}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def synthetic_catalog(
    db: Path, count: int, bundle_key: str, families: dict[str, tuple[str, ...]], dim: int
) -> Path:
    """A catalog of ``count`` photos inserted in bulk through the catalog's models.

    Each photo points at a real dataset photo (so thumbnails are real work), has a
    top-1 prediction per family and a unit embedding of the bundle; the similarity
    index is built and saved beside it, as after an import. Reused when present.
    """
    from sqlalchemy import insert

    from app.core.catalog import Catalog
    from app.core.catalog.engine import create_catalog_engine
    from app.core.catalog.models import Embedding, Photo, Prediction
    from app.core.paths import index_dir_for
    from app.core.similarity import SimilarityIndex, photo_mark

    done = db.with_suffix(".done")
    if done.is_file() and done.read_text() == f"{count} {bundle_key} marked":
        return db
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    Catalog.open(db).close()  # creates the schema through the migrations
    photos = sorted(CATALOG_IMAGES.glob("*.jpg"))
    rng = np.random.default_rng(0)
    engine = create_catalog_engine(f"sqlite:///{db}", 5000)
    index = SimilarityIndex(index_dir_for(f"sqlite:///{db}"), bundle_key, dim)
    now = datetime.datetime.now(datetime.UTC)
    chunk = 20_000
    with engine.begin() as connection:
        for first in range(0, count, chunk):
            ids = range(first + 1, min(first + chunk, count) + 1)
            connection.execute(
                insert(Photo),
                [
                    {
                        "id": i,
                        "path": str(photos[i % len(photos)]),
                        "sha256": f"{i:064x}",
                        "size_bytes": 20_000,
                        "width": 240,
                        "height": 320,
                        "added_at": now,
                        "review_state": "suggested",
                        "bundle": "synthetic@1",
                    }
                    for i in ids
                ],
            )
            connection.execute(
                insert(Prediction),
                [
                    {
                        "photo_id": i,
                        "bundle": "synthetic@1",
                        "family": name,
                        "label": labels[(i * 7 + n) % len(labels)],
                        "confidence": float((i * 37 + n * 11) % 100) / 100,
                        "rank": 1,
                        "threshold": 0.5,
                    }
                    for i in ids
                    for n, (name, labels) in enumerate(families.items())
                ],
            )
            vectors = rng.normal(size=(len(ids), dim)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            connection.execute(
                insert(Embedding),
                [
                    {"photo_id": i, "bundle_key": bundle_key, "dim": dim, "vector": v.tobytes()}
                    for i, v in zip(ids, vectors, strict=True)
                ],
            )
            index.add(ids, vectors, [photo_mark(f"{i:064x}") for i in ids])
    engine.dispose()
    index.save()
    done.write_text(f"{count} {bundle_key} marked")
    return db
