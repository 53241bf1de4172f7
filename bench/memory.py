"""Resident memory with a large catalog open: catalog + bundle + similarity index.

A synthetic catalog (photo rows, top-1 prediction per family, one embedding each, the
saved index beside it; built once into ``.cache/bench/``) is opened in a fresh process
the way the window opens it (``AppContext``: catalog, bundle, index reconciled with the
stored embeddings); RSS is noted after each step, and the open time of each step.

    python -m bench.memory --quick      # 30,000 photos
    python -m bench.memory              # 300,000 photos
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from bench.common import CACHE, report, rss_mb, synthetic_catalog
from bench.models import REPO, default_bundle


def measure(db: Path, bundle: Path) -> dict:
    """Open step by step in this (fresh) process; RSS in MiB after each step."""
    steps: dict[str, dict] = {}
    start = time.perf_counter()

    def note(step: str) -> None:
        nonlocal start
        steps[step] = {"rss_mib": round(rss_mb(), 1), "s": round(time.perf_counter() - start, 2)}
        start = time.perf_counter()

    note("python")
    from app.core.context import AppContext

    note("imports")
    ctx = AppContext.open(db, bundle)
    count = ctx.catalog.count(None)
    note("catalog open + count")
    _ = ctx.tagger
    note("bundle loaded")
    index = ctx.index
    note("index loaded + reconciled")
    ctx.catalog.list_photos(None, 0, 256)
    index.nearest(next(iter(ctx.catalog.embeddings(ctx.tagger.embedding_key)))[1], 12)
    note("first grid page + similar query")
    ctx.close()
    total = steps["first grid page + similar query"]["rss_mib"]
    return {
        "photos": count,
        "steps": steps,
        "rss_total_mib": total,
        "rss_over_python_mib": round(total - steps["imports"]["rss_mib"], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="30,000 photos")
    parser.add_argument("--bundle", type=Path, help="bundle folder (default: models_onnx/default)")
    parser.add_argument("--out", type=Path, help="write the JSON result here")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the fresh process
    args = parser.parse_args()
    bundle_path = (args.bundle or default_bundle()).resolve()
    if args.measure:
        print(json.dumps(measure(args.measure, bundle_path)))
        return
    from app.core.bundle import load_bundle

    bundle = load_bundle(bundle_path)
    count = 30_000 if args.quick else 300_000
    families = {f.name: f.labels for f in bundle.families}
    dim = bundle.embedding.dim if bundle.embedding else 0
    db = synthetic_catalog(CACHE / f"memory-{count}.sqlite", count, bundle.key, families, dim)
    out = subprocess.run(
        [sys.executable, "-m", "bench.memory", "--measure", str(db), "--bundle", str(bundle_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    index_bytes = sum(p.stat().st_size for p in db.with_name(db.stem + ".index").iterdir())
    result["index_file_mib"] = round(index_bytes / 2**20, 1)
    result["db_file_mib"] = round(db.stat().st_size / 2**20, 1)
    result["rss_per_photo_bytes"] = round(result["rss_over_python_mib"] * 2**20 / count)
    report("memory", {"bundle": str(bundle_path), **result}, args.out)


if __name__ == "__main__":
    main()
