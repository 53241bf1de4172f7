"""int8 for the backbone's tail, kept only when every family stays within 1 point of fp32.

Why the tail only: static int8 over the whole graph cost the fine-tuned Lite2 12 points
of validation colour top-1 (9 with per-channel weights, 4 with only the backbone in
int8). The colour heads read the in-graph colour descriptor (raw pixels) and the
mid-level tap (the stem's output), and the heads are small, so those stay fp32; the
tail's convolutions hold most of the weights and the time, and go int8 with per-channel
weights (measured: ``python -m bench.quantization``, docs/backbones.md). Thresholds are
calibrated again on the int8 graph's own validation outputs, so the manifest describes
what the app runs.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from app.core.bundle import Bundle, load_bundle
from app.core.decode import open_photo, preprocess
from app.core.errors import VitrinaError
from training.datasets import Photo, load_data, split
from training.evaluate import run_bundle
from training.export import write_manifest
from training.pipeline import calibrate, report_on_test, scores_from_probabilities

CALIBRATION_PHOTOS = 128
TOLERANCE = 0.01
# What goes int8: node names of the exported VitrinaNet (training.network) start with the
# module path, so these are the backbone's layers after the mid-level tap.
TAIL = ("/backbone/tail/",)
SCOPE = (
    "the backbone tail's layers in int8 (per-channel weights, uint8 activations); "
    "stem, colour descriptor and heads in fp32"
)


class QuantizeError(VitrinaError):
    """The graph cannot be quantized the way vitrina-train does it."""


class _Reader(CalibrationDataReader):
    def __init__(self, name: str, batches: Sequence[np.ndarray]) -> None:
        self.name = name
        self.batches = iter(batches)

    def get_next(self) -> dict | None:
        batch = next(self.batches, None)
        return None if batch is None else {self.name: batch}


def calibration_batches(bundle: Bundle, photos: Sequence[Photo]) -> list[np.ndarray]:
    """One preprocessed photo per batch, a seeded sample of ``photos`` (every source, not
    only the first in the list)."""
    sample = random.Random(0).sample(list(photos), min(CALIBRATION_PHOTOS, len(photos)))
    pre = bundle.preprocessing
    return [preprocess(open_photo(p.path, pre.min_side).image, pre)[None] for p in sample]


def quantize_graph(
    source: Path,
    target: Path,
    input_name: str,
    batches: Sequence[np.ndarray],
    prefixes: Sequence[str] = TAIL,
    per_channel: bool = True,
) -> None:
    """Write an int8 copy of ``source`` where only nodes named under ``prefixes`` are
    quantized. The graph is shape-inferred and optimised first, as onnxruntime's
    quantization tool asks: in a one-off trial here, the int8 tail without that step was
    hardly faster than fp32."""
    with tempfile.TemporaryDirectory() as work:
        prepared = Path(work) / "prepared.onnx"
        quant_pre_process(str(source), str(prepared))
        names = [n.name for n in onnx.load(str(prepared)).graph.node]
        chosen = {n for n in names if n.startswith(tuple(prefixes))}
        if not chosen:
            raise QuantizeError(
                f"{source}: no layer is named {' or '.join(prefixes)}; only graphs exported "
                "by vitrina-train fit can be quantized. Quantize the fp32 bundle it wrote."
            )
        quantize_static(
            str(prepared),
            str(target),
            _Reader(input_name, batches),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            nodes_to_exclude=[n for n in names if n not in chosen],
        )


def bundle_scores(folder: Path, photos: Sequence[Photo]) -> dict[str, dict]:
    """Per family, what calibration reads off the bundle's own outputs on ``photos``."""
    bundle = load_bundle(folder)
    probabilities, _ = run_bundle(bundle, [p.path for p in photos])
    labels = {f.name: list(f.labels) for f in bundle.families}
    return scores_from_probabilities(probabilities, photos, labels)


def quantize_if_accurate(folder: Path, parts: dict[str, Sequence[Photo]]) -> dict:
    """Quantize ``folder``'s tail (calibrated on training photos); keep it when every
    family's validation top-1 is within ``TOLERANCE`` of fp32, then calibrate the
    thresholds again on the int8 outputs. The outcome goes into the manifest's metrics."""
    bundle = load_bundle(folder)
    if not isinstance(bundle, Bundle):
        raise QuantizeError(f"{folder}: a bundle set; quantize each member folder instead.")
    if bundle.manifest.get("metrics", {}).get("quantization", {}).get("kept"):
        raise QuantizeError(f"{folder}: already int8; quantize the fp32 bundle it came from.")
    before = bundle_scores(folder, parts["val"])
    unchecked = [f.name for f in bundle.families if f.name not in before]
    if unchecked:
        raise QuantizeError(
            f"{folder}: no validation photo is labelled for {', '.join(unchecked)}, so int8 "
            "cannot be checked; give the photos the bundle was trained on (--data)."
        )
    trial = folder.with_name(folder.name + ".int8")
    shutil.copytree(folder, trial, dirs_exist_ok=True)
    try:
        quantize_graph(
            bundle.model_path,
            trial / bundle.model_path.name,
            bundle.input_name,
            calibration_batches(bundle, parts["train"]),
        )
        after = bundle_scores(trial, parts["val"])
        fp32 = {f: round(float(s["correct"].mean()), 4) for f, s in before.items()}
        int8 = {f: round(float(s["correct"].mean()), 4) for f, s in after.items()}
        kept = all(int8[f] >= fp32[f] - TOLERANCE for f in fp32)
        result = {
            "kept": kept,
            "scope": SCOPE,
            "calibration_photos": min(CALIBRATION_PHOTOS, len(parts["train"])),
            "tolerance": TOLERANCE,
            "fp32_validation_top1": fp32,
            "int8_validation_top1": int8,
            "fp32_bytes": bundle.model_path.stat().st_size,
        }
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        if kept:
            shutil.copy2(trial / bundle.model_path.name, bundle.model_path)
            result["int8_bytes"] = bundle.model_path.stat().st_size
            _describe_int8(manifest, after)
        manifest["metrics"]["quantization"] = result
        write_manifest(folder, manifest)
    finally:
        shutil.rmtree(trial)
    return result


def _describe_int8(manifest: dict, scores: dict[str, dict]) -> None:
    """Thresholds and validation metrics of the int8 graph, in place of fp32's."""
    for family in manifest["families"]:
        name = family["name"]
        if name not in scores:
            continue
        target = family["calibration"].get("target_precision", 0.95)
        found = calibrate({name: scores[name]}, target, "validation, int8 graph")[name]
        family["threshold"] = round(float(found.pop("threshold")), 4)
        family["calibration"] = found
        manifest["metrics"].setdefault(name, {}).update(
            validation_top1=round(float(scores[name]["correct"].mean()), 4),
            validation_top3=round(float(scores[name]["top3"].mean()), 4),
        )


def quantize_bundle(
    source: Path,
    out: Path,
    data: Sequence[Path] | None = None,
    seed: int = 0,
    version: str | None = None,
    report: Path | None = None,
    command: str = "",
) -> dict:
    """An int8 copy of a ``vitrina-train fit`` bundle in ``out``, on the split fit used
    (``data`` defaults to the manifest's own); nothing is left in ``out`` when int8 loses
    more than ``TOLERANCE`` on any family. ``report``: evaluate it on the test split."""
    bundle = load_bundle(source)
    if not isinstance(bundle, Bundle):
        raise QuantizeError(f"{source}: a bundle set; quantize each member folder instead.")
    if out.exists():
        raise QuantizeError(f"{out}: already exists; give a new folder for the int8 bundle.")
    paths = [Path(p) for p in (data or bundle.manifest.get("provenance", {}).get("data", []))]
    missing = [str(p) for p in paths if not p.exists()]
    if not paths or missing:
        raise QuantizeError(
            f"{source}: the photos it was trained on are needed (calibration and the "
            f"validation check); {'not found: ' + ', '.join(missing) if missing else 'none named'}"
            ". Give them with --data, as given to fit."
        )
    parts = split(load_data(paths), seed)
    shutil.copytree(source, out)
    try:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        manifest["version"] = version or f"{bundle.version}-int8"
        manifest.setdefault("provenance", {})["quantized"] = {
            "from": bundle.label,
            "command": command,
        }
        write_manifest(out, manifest)
        result = quantize_if_accurate(out, parts)
    except BaseException:
        shutil.rmtree(out)
        raise
    if not result["kept"]:
        shutil.rmtree(out)
    elif report is not None:
        result["test"] = report_on_test(out, parts["test"], report, seed)
    return result
