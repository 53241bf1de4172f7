"""Optional int8 static quantization, kept only when accuracy stays within 1 point of fp32."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from onnxruntime.quantization import CalibrationDataReader, QuantType, quantize_static

from app.core.bundle import load_bundle
from app.core.decode import open_photo, preprocess

CALIBRATION_PHOTOS = 128
TOLERANCE = 0.01


class _Reader(CalibrationDataReader):
    def __init__(self, batches: list[np.ndarray]) -> None:
        self.batches = iter(batches)

    def get_next(self) -> dict | None:
        batch = next(self.batches, None)
        return None if batch is None else {"image": batch}


def _top1(folder: Path, photos) -> dict[str, float]:
    from training.evaluate import run_bundle

    bundle = load_bundle(folder)
    probs, _ = run_bundle(bundle, [p.path for p in photos])
    scores = {}
    for family in bundle.families:
        index = {lab: i for i, lab in enumerate(family.labels)}
        rows = [i for i, p in enumerate(photos) if p.labels.get(family.name) in index]
        y = np.array([index[photos[i].labels[family.name]] for i in rows])
        scores[family.name] = float((probs[family.name][rows].argmax(1) == y).mean())
    return scores


def quantize_if_accurate(folder: Path, parts: dict) -> dict:
    """Quantize ``folder/model.onnx`` (calibrated on training photos); keep it if accurate."""
    bundle = load_bundle(folder)
    pre = bundle.preprocessing
    train = parts["train"][:CALIBRATION_PHOTOS]
    batches = [preprocess(open_photo(p.path, pre.min_side).image, pre)[None] for p in train]
    trial = folder.with_name(folder.name + ".int8")
    shutil.copytree(folder, trial, dirs_exist_ok=True)
    quantize_static(
        str(folder / "model.onnx"),
        str(trial / "model.onnx"),
        _Reader(batches),
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
    )
    fp32, int8 = _top1(folder, parts["val"]), _top1(trial, parts["val"])
    kept = all(int8[f] >= fp32[f] - TOLERANCE for f in fp32)
    if kept:
        shutil.copy2(trial / "model.onnx", folder / "model.onnx")
    shutil.rmtree(trial)
    return {"fp32_top1": fp32, "int8_top1": int8, "kept": kept}
