"""Which layers of a bundle to quantize: validation top-1 per family, ms per photo, size.

Decides the scope ``vitrina-train quantize`` uses (training/quantize.py). Each scope is
the fp32 bundle's graph with only the layers named under it in int8 (the same
``quantize_graph``, calibrated on the same training photos); all run on the same decoded
validation photos of the split ``fit`` used, and the timings alternate scope by scope,
round by round, so machine load hits them alike. Needs the train extra.

    python -m bench.quantization --data ../shared/datasets/clothing ../shared/datasets/catalog
"""

from __future__ import annotations

import argparse
import re
import shutil
import time
from pathlib import Path

import numpy as np

from app.core.bundle import Bundle, load_bundle
from app.core.decode import open_photo, preprocess
from bench.common import report
from bench.models import CACHE, default_bundle
from training.datasets import load_data, split
from training.pipeline import scores_from_probabilities
from training.quantize import TAIL, calibration_batches, quantize_graph

# name: (node-name prefixes that go int8, per-channel weights); None is the fp32 graph.
SCOPES: dict[str, tuple[tuple[str, ...], bool] | None] = {
    "fp32": None,
    "every layer, per-tensor weights": (("",), False),
    "every layer": (("",), True),
    "backbone (stem and tail)": (("/backbone/",), True),
    "backbone tail (vitrina-train quantize)": (TAIL, True),
}
BATCH = 16
TIMED_PHOTOS = 64


def build(bundle: Bundle, scope: str, batches: list[np.ndarray]) -> Bundle:
    """The bundle with ``scope`` in int8, in ``.cache/bench/quantization`` (rebuilt each run)."""
    setting = SCOPES[scope]
    if setting is None:
        return bundle
    slug = re.sub(r"[^a-z0-9]+", "-", scope.split(" (")[0]).strip("-")
    target = CACHE / "quantization" / bundle.path.name / slug
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(bundle.path, target)
    prefixes, per_channel = setting
    quantize_graph(
        bundle.model_path,
        target / bundle.model_path.name,
        bundle.input_name,
        batches,
        prefixes,
        per_channel,
    )
    return load_bundle(target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="as given to fit")
    parser.add_argument("--seed", type=int, default=0, help="the split's seed, as given to fit")
    parser.add_argument("--quick", action="store_true", help="400 validation photos, 2 rounds")
    parser.add_argument("--bundle", type=Path, help="bundle folder (default: models_onnx/default)")
    parser.add_argument("--out", type=Path, help="write the JSON result here")
    args = parser.parse_args()
    bundle = load_bundle(args.bundle or default_bundle())
    parts = split(load_data(args.data), args.seed)
    val = parts["val"][:400] if args.quick else parts["val"]
    pre = bundle.preprocessing
    inputs = np.stack([preprocess(open_photo(p.path, pre.min_side).image, pre) for p in val])
    calibration = calibration_batches(bundle, parts["train"])
    bundles = {scope: build(bundle, scope, calibration) for scope in SCOPES}
    labels = {f.name: list(f.labels) for f in bundle.families}
    results: dict[str, dict] = {}
    outputs: dict[str, np.ndarray] = {}
    for scope, candidate in bundles.items():
        probs: dict[str, list[np.ndarray]] = {name: [] for name in labels}
        embeddings = []
        for first in range(0, len(inputs), BATCH):
            output = candidate.run(inputs[first : first + BATCH])
            for name, values in output.probabilities.items():
                probs[name].append(values)
            embeddings.append(output.embedding)
        stacked = {name: np.concatenate(values) for name, values in probs.items()}
        scores = scores_from_probabilities(stacked, val, labels)
        outputs[scope] = np.concatenate(embeddings)
        results[scope] = {
            "validation_top1": {f: round(float(s["correct"].mean()), 4) for f, s in scores.items()},
            "embedding_cosine_to_fp32": round(
                float((outputs[scope] * outputs["fp32"]).sum(axis=1).mean()), 4
            ),
            "mb": round(candidate.model_path.stat().st_size / 1e6, 1),
        }
    timed = inputs[:TIMED_PHOTOS]
    times: dict[str, list[float]] = {scope: [] for scope in SCOPES}
    for _ in range(2 if args.quick else 5):
        for scope, candidate in bundles.items():
            start = time.perf_counter()
            for first in range(0, len(timed), BATCH):
                candidate.run(timed[first : first + BATCH])
            times[scope].append((time.perf_counter() - start) / len(timed))
    fp32_ms = float(np.median(times["fp32"])) * 1000
    for scope, seconds in times.items():
        ms = float(np.median(seconds)) * 1000
        results[scope].update(ms_per_photo=round(ms, 1), speedup_vs_fp32=round(fp32_ms / ms, 2))
    report(
        "quantization",
        {
            "bundle": str(bundle.path),
            "validation_photos": len(val),
            "calibration_photos": len(calibration),
            "batch": BATCH,
            "scopes": results,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
