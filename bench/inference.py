"""Inference alone, per photo: batch size, intra-op threads, fp32 vs int8.

Decides the Tagger's batch size and the session's thread count, and shows what an int8
bundle would buy. The int8 variant is the bundle with the backbone's tail in int8, the
scope ``vitrina-train quantize`` uses (training/quantize.py), calibrated on real catalog
photos into ``.cache/bench/<bundle>-int8-tail`` for timing only: whether a shipped
bundle may be int8 is decided by its accuracy (``vitrina-train quantize``).
Variants are interleaved round by round so machine load hits them alike.

    python -m bench.inference --quick
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from app.core.bundle import Bundle, load_bundle
from app.core.decode import open_photo, preprocess
from bench.common import catalog_photos, report
from bench.models import CACHE, default_bundle

CALIBRATION_PHOTOS = 32


def int8_bundle(bundle: Bundle) -> Path:
    """The bundle with the tail scope ``vitrina-train quantize`` uses in int8 (built once,
    cached), calibrated on real catalog photos; needs the train extra."""
    from training.quantize import quantize_graph

    target = CACHE / f"{bundle.path.name}-int8-tail"
    if (target / "manifest.json").is_file():
        return target
    pre = bundle.preprocessing
    batches = [
        preprocess(open_photo(p, pre.min_side).image, pre)[None]
        for p in catalog_photos(CALIBRATION_PHOTOS, offset=7000)
    ]
    target.mkdir(parents=True, exist_ok=True)
    quantize_graph(bundle.model_path, target / bundle.model_path.name, bundle.input_name, batches)
    manifest = dict(bundle.manifest, version=f"{bundle.version}-int8")
    (target / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return target


def session(model: Path, threads: int, spin: bool) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (< 1 min)")
    parser.add_argument("--bundle", type=Path, help="bundle folder (default: models_onnx/default)")
    parser.add_argument("--out", type=Path, help="write the JSON result here")
    args = parser.parse_args()
    bundle_path = args.bundle or default_bundle()
    bundle = load_bundle(bundle_path)
    quantized = load_bundle(int8_bundle(bundle))
    pre = bundle.preprocessing
    photos = catalog_photos(16)
    inputs = np.stack([preprocess(open_photo(p, pre.min_side).image, pre) for p in photos])
    rounds = 2 if args.quick else 6
    models = {"fp32": bundle.model_path, "int8": quantized.model_path}
    settings = [(16, 2, True), (16, 2, False), (16, 1, True), (4, 2, False), (1, 2, False)]
    if not args.quick:
        settings += [(4, 2, True), (1, 2, True), (4, 1, True), (1, 1, True)]
    variants = {
        f"{kind} b{batch} t{threads}{'' if spin else ' nospin'}": (model, batch, threads, spin)
        for kind, model in models.items()
        for batch, threads, spin in settings
    }
    sessions = {name: session(m, t, spin) for name, (m, _b, t, spin) in variants.items()}
    for name, (_m, batch, _t, _s) in variants.items():
        sessions[name].run(None, {bundle.input_name: inputs[:batch]})
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, (_m, batch, _t, _s) in variants.items():
            start = time.perf_counter()
            for first in range(0, len(inputs), batch):
                sessions[name].run(None, {bundle.input_name: inputs[first : first + batch]})
            times[name].append((time.perf_counter() - start) / len(inputs))
    baseline = "fp32 b16 t2"
    per_photo = {name: float(np.median(t)) * 1000 for name, t in times.items()}
    results = {
        name: {
            "ms_per_photo": round(ms, 1),
            "speedup_vs_" + baseline: round(per_photo[baseline] / ms, 2),
        }
        for name, ms in per_photo.items()
    }
    out = quantized.model_path.stat().st_size / bundle.model_path.stat().st_size
    report(
        "inference",
        {
            "bundle": str(bundle_path),
            "rounds": rounds,
            "int8_size_ratio": round(out, 2),
            "variants": results,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
