"""Similar items at catalog scale: hnswlib (app.core.similarity.SimilarityIndex) vs brute force.

Synthetic clustered unit vectors with the default bundle's embedding dimension (300,000
in the full run) and real embeddings of dataset photos made by the bundle (cached in
``.cache/bench/``, so a later run grows the set). Reports query p50/p95 latency,
recall@10 against exact cosine search, build time, index bytes per item and the RSS
growth while building, for both methods, plus an ``ef`` sweep on the built graph.

    python -m bench.similarity --quick      # 20,000 synthetic, 300 real; < 1 minute
    python -m bench.similarity              # 300,000 synthetic, every real photo it can embed
    python -m bench.similarity --count 50000 --ef-construction 200,100   # build-time sweep
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core.similarity import SimilarityIndex
from bench.common import CATALOG_IMAGES, CLOTHING_IMAGES, Timer, percentile_ms, report, rss_mb
from bench.models import CACHE, default_bundle

K = 10
SWEEP_EF = (16, 32, 64, 128)


def clustered(count: int, clusters: int, dim: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around random centres; noise norm about half the centre's."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    which = rng.integers(0, clusters, size=count)
    vectors = centres[which] + rng.normal(scale=0.5 / np.sqrt(dim), size=(count, dim)).astype(
        np.float32
    )
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def real_embeddings(bundle_path: Path, limit: int, seconds: float) -> np.ndarray:
    """Embeddings of dataset photos, cached per bundle key; grows by at most ``seconds`` a run."""
    from app.core.bundle import load_bundle
    from app.core.tagger import Tagger

    bundle = load_bundle(bundle_path)
    cache = CACHE / f"embeddings-{bundle.key.replace('/', '_')}.npy"
    done = np.load(cache) if cache.is_file() else np.empty((0, bundle.embedding.dim), np.float32)
    photos = sorted(CATALOG_IMAGES.glob("*.jpg")) + sorted(CLOTHING_IMAGES.glob("*.jpg"))
    wanted = min(limit, len(photos))
    if len(done) < wanted:
        tagger = Tagger(bundle, batch_size=8)
        parts, started = [done], time.monotonic()
        for first in range(len(done), wanted, 64):
            images = [tagger.open(p).image for p in photos[first : min(first + 64, wanted)]]
            parts.append(np.stack([tagged.embedding for tagged in tagger.tag_images(images)]))
            if time.monotonic() - started > seconds:
                break
        done = np.concatenate(parts)
        np.save(cache, done)
    return done[:wanted]


def exact_top(matrix: np.ndarray, queries: np.ndarray, exclude: np.ndarray | None) -> np.ndarray:
    scores = queries @ matrix.T
    if exclude is not None:
        scores[np.arange(len(queries)), exclude] = -np.inf
    top = np.argpartition(-scores, K, axis=1)[:, :K]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
    return np.take_along_axis(top, order, axis=1)


@dataclass
class Built:
    """An hnswlib index built as the desktop builds it, with what the build cost."""

    index: SimilarityIndex
    build: Timer
    grown_mb: float  # RSS growth while building
    file_bytes: int  # the saved index file


@contextmanager
def built_index(vectors: np.ndarray, key: str = "bench") -> Iterator[Built]:
    """The desktop's index over ``vectors`` (ids 0..n-1, added 10,000 at a time), saved in a
    scratch folder that goes with the context."""
    count, dim = vectors.shape
    ids = np.arange(count, dtype=np.int64)
    with tempfile.TemporaryDirectory() as tmp:
        before = rss_mb()
        index = SimilarityIndex(Path(tmp), key, dim)
        with Timer() as build:
            for first in range(0, count, 10_000):
                part = slice(first, first + 10_000)
                index.add(ids[part], vectors[part], ids[part])
        grown = rss_mb() - before
        index.save()
        yield Built(index, build, grown, (Path(tmp) / "index.bin").stat().st_size)


def evaluate(
    name: str, vectors: np.ndarray, queries: np.ndarray, self_ids: np.ndarray | None
) -> dict:
    """Build the index, time single queries both ways, and compare their answers."""
    count, dim = vectors.shape
    with built_index(vectors) as built:
        index, build, grown, file_bytes = built.index, built.build, built.grown_mb, built.file_bytes
        ann_times, found = [], []
        for row, query in enumerate(queries):
            exclude = None if self_ids is None else int(self_ids[row])
            start = time.perf_counter()
            hits = index.nearest(query, K, exclude=exclude)
            ann_times.append(time.perf_counter() - start)
            found.append([photo_id for photo_id, _ in hits])
        exact_times = []
        for row, query in enumerate(queries[: min(len(queries), 200)]):
            start = time.perf_counter()
            exact_top(vectors, query[None], None if self_ids is None else self_ids[row : row + 1])
            exact_times.append(time.perf_counter() - start)
        truth = exact_top(vectors, queries, self_ids)
        recall = np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)])
        sweep = {}
        raw = index._index  # the sweep sets ef directly; nearest() uses max(4k, 64)
        for ef in SWEEP_EF:
            raw.set_ef(ef)
            start = time.perf_counter()
            labels = [raw.knn_query(q[None], k=K + 1)[0][0] for q in queries]
            per_query = (time.perf_counter() - start) / len(queries)
            hits = [
                [i for i in row if self_ids is None or i != self_ids[n]][:K]
                for n, row in enumerate(labels)
            ]
            sweep[ef] = {
                "recall@10": round(
                    float(
                        np.mean(
                            [len(set(h) & set(t)) / K for h, t in zip(hits, truth, strict=True)]
                        )
                    ),
                    4,
                ),
                "mean_ms": round(per_query * 1000, 3),
            }
    result = {
        "vectors": name,
        "count": count,
        "dim": dim,
        "queries": len(queries),
        "M": index.m,
        "ef_construction": index.ef_construction,
        "hnsw_build_s": round(build.seconds, 2),
        "hnsw_p50_ms": round(percentile_ms(ann_times, 50), 3),
        "hnsw_p95_ms": round(percentile_ms(ann_times, 95), 3),
        "hnsw_recall@10": round(float(recall), 4),
        "exact_p50_ms": round(percentile_ms(exact_times, 50), 3),
        "exact_p95_ms": round(percentile_ms(exact_times, 95), 3),
        "p50_speedup_vs_exact": round(
            percentile_ms(exact_times, 50) / percentile_ms(ann_times, 50), 1
        ),
        "index_file_bytes_per_item": round(file_bytes / count, 1),
        "rss_growth_bytes_per_item": round(grown * 2**20 / count, 1),
        "raw_vector_bytes_per_item": dim * 4,
        "ef_sweep": sweep,
    }
    print(json.dumps(result), flush=True)
    return result


def build_sweep(vectors: np.ndarray, queries: np.ndarray, values: list[int], rounds: int) -> dict:
    """Build time and recall@10 (query ef as the app sets it) per ``ef_construction``.

    Values alternate round by round so load on a shared machine hits them alike; the
    build-time ratio to the first value is the figure to quote.
    """
    count, dim = vectors.shape
    ids = np.arange(count, dtype=np.int64)
    truth = exact_top(vectors, queries, None)
    builds: dict[int, list[float]] = {value: [] for value in values}
    recalls: dict[int, float] = {}
    for round_ in range(rounds):
        for value in values if round_ % 2 == 0 else values[::-1]:
            with tempfile.TemporaryDirectory() as tmp:
                index = SimilarityIndex(Path(tmp), "bench", dim, ef_construction=value)
                with Timer() as build:
                    for first in range(0, count, 10_000):
                        part = slice(first, first + 10_000)
                        index.add(ids[part], vectors[part], ids[part])
                builds[value].append(build.seconds)
                found = [[i for i, _ in index.nearest(q, K)] for q in queries]
                recalls[value] = float(
                    np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)])
                )
    base = np.array(builds[values[0]])
    result = {
        "count": count,
        "rounds": rounds,
        "ef_construction": {
            value: {
                "build_s_median": round(float(np.median(builds[value])), 2),
                "build_time_vs_first": round(float(np.median(np.array(builds[value]) / base)), 2),
                "recall@10": round(recalls[value], 4),
            }
            for value in values
        },
    }
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 synthetic, 300 real")
    parser.add_argument("--bundle", type=Path, help="bundle folder (default: models_onnx/default)")
    parser.add_argument("--count", type=int, help="synthetic vectors (default 300,000)")
    parser.add_argument("--real-seconds", type=float, default=900, help="embedding time budget")
    parser.add_argument(
        "--ef-construction",
        help="compare build time and recall for these values instead, e.g. 200,100",
    )
    parser.add_argument("--rounds", type=int, default=2, help="rounds of --ef-construction")
    parser.add_argument("--out", type=Path, help="write the JSON result here")
    args = parser.parse_args()
    bundle_path = args.bundle or default_bundle()
    manifest = json.loads((bundle_path / "manifest.json").read_text(encoding="utf-8"))
    dim = int((manifest.get("embedding") or {}).get("dim", 256))
    count = args.count or (20_000 if args.quick else 300_000)
    queries = 200 if args.quick else 1000
    synthetic = clustered(count + queries, max(count // 100, 10), dim)
    if args.ef_construction:
        values = [int(v) for v in args.ef_construction.split(",")]
        sweep = build_sweep(synthetic[:count], synthetic[count:], values, args.rounds)
        report("similarity-build", {"bundle": str(bundle_path), **sweep}, args.out)
        return
    results = [evaluate("synthetic clustered", synthetic[:count], synthetic[count:], None)]
    real = real_embeddings(
        bundle_path, 300 if args.quick else 1_000_000, 30 if args.quick else args.real_seconds
    )
    picks = np.random.default_rng(1).choice(len(real), size=min(queries, len(real)), replace=False)
    results.append(evaluate("real (dataset photos)", real, real[picks], picks))
    report("similarity", {"bundle": str(bundle_path), "results": results}, args.out)


if __name__ == "__main__":
    main()
