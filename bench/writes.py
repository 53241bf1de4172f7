"""Catalog writes during an import: ms per photo for ``Catalog.add_tagged_photo``.

One photo = the photo row, a top-3 prediction per family and its embedding, in one
transaction (what the importer writes per photo), into a fresh SQLite catalog.

    python -m bench.writes --quick
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from app.core.bundle import load_bundle
from app.core.catalog import Catalog
from app.core.tagging import decide
from bench.common import report
from bench.models import default_bundle


def photos_per_second(bundle_path: Path, count: int) -> dict:
    bundle = load_bundle(bundle_path)
    rng = np.random.default_rng(0)
    decisions = [
        decide(
            {
                f.name: rng.dirichlet(np.ones(len(f.labels))).astype(np.float32)
                for f in bundle.families
            },
            bundle.families,
        )
        for _ in range(64)
    ]
    dim = bundle.embedding.dim if bundle.embedding else 0
    vectors = rng.normal(size=(64, max(dim, 1))).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        catalog = Catalog.open(Path(tmp) / "catalog.sqlite")
        start = time.perf_counter()
        for i in range(count):
            catalog.add_tagged_photo(
                path=f"/photos/{i}.jpg",
                sha256=f"{i:064x}",
                size_bytes=1000,
                width=320,
                height=240,
                bundle_label=bundle.label,
                decisions=decisions[i % 64],
                bundle_key=bundle.key if dim else None,
                embedding=vectors[i % 64] if dim else None,
            )
        seconds = time.perf_counter() - start
        catalog.close()
    return {"photos": count, "ms_per_photo": round(seconds / count * 1000, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="300 photos")
    parser.add_argument("--bundle", type=Path, help="bundle folder (default: models_onnx/default)")
    parser.add_argument("--out", type=Path, help="write the JSON result here")
    args = parser.parse_args()
    bundle_path = args.bundle or default_bundle()
    result = photos_per_second(bundle_path, 300 if args.quick else 2000)
    report("writes", {"bundle": str(bundle_path), **result}, args.out)


if __name__ == "__main__":
    main()
