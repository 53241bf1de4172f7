"""Tiny model bundles built with onnx.helper, so tests never need torch or a trained model.

The graph averages the image to its mean colour (after mean/std normalisation) and
scores each label by closeness to a prototype colour, so a red photo gets "red"
in a "colour" family and photos of similar colours get similar embeddings.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8

DEFAULT_FAMILIES: dict[str, list[str]] = {
    "category": ["t-shirt", "pants", "shoes", "dress"],
    "colour": ["red", "green", "blue", "white", "black"],
}

# Prototype colours in 0..255 RGB for labels that name a colour; other labels get a
# pseudo-random colour seeded by family and label, so every run builds the same graph.
NAMED_COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 20, 20),
    "green": (20, 180, 40),
    "blue": (20, 40, 220),
    "white": (250, 250, 250),
    "black": (10, 10, 10),
    "yellow": (240, 220, 20),
    "grey": (128, 128, 128),
    "gray": (128, 128, 128),
}

MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)
SHARPNESS = 4.0


def label_colour(family: str, label: str) -> tuple[int, int, int]:
    """The RGB colour whose photos this tiny model gives ``label`` in ``family``."""
    if label in NAMED_COLOURS:
        return NAMED_COLOURS[label]
    rng = np.random.default_rng(zlib.crc32(f"{family}/{label}".encode()))
    return tuple(int(v) for v in rng.integers(0, 256, size=3))


def _normalised(rgb: Sequence[float]) -> np.ndarray:
    return (np.asarray(rgb, dtype=np.float32) / 255.0 - np.float32(MEAN)) / np.float32(STD)


def _family_weights(family: str, labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Logit_k = -s * |x - p_k|^2 + const, written as the linear map 2s x.p_k - s |p_k|^2."""
    protos = np.stack([_normalised(label_colour(family, lab)) for lab in labels])
    weight = (2 * SHARPNESS * protos.T).astype(np.float32)
    bias = (-SHARPNESS * (protos**2).sum(axis=1)).astype(np.float32)
    return weight, bias


def _embedding_weights(dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    weight = rng.normal(size=(3, dim)).astype(np.float32)
    bias = (rng.normal(size=(dim,)) * 0.1).astype(np.float32)
    return weight, bias


def build_model(
    families: Mapping[str, Sequence[str]],
    dim: int | None = 8,
    size: tuple[int, int] = (32, 32),
    layout: str = "NCHW",
    fixed_batch: bool = False,
    seed: int = 0,
    features: bool = True,
) -> onnx.ModelProto:
    """The ONNX graph: image -> mean colour -> per-family softmax + L2-normalised embedding,
    and the mean colour itself as the ``features`` a catalog learns from."""
    h, w = size
    batch: int | str = 1 if fixed_batch else "N"
    shape = [batch, 3, h, w] if layout == "NCHW" else [batch, h, w, 3]
    inputs = [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)]
    nodes, inits, outputs = [], [], []
    src = "image"
    if layout == "NHWC":
        nodes.append(helper.make_node("Transpose", ["image"], ["nchw"], perm=[0, 3, 1, 2]))
        src = "nchw"
    nodes.append(helper.make_node("GlobalAveragePool", [src], ["pooled"]))
    nodes.append(helper.make_node("Flatten", ["pooled"], ["feat"], axis=1))
    for name, labels in families.items():
        weight, bias = _family_weights(name, labels)
        inits += [numpy_helper.from_array(weight, f"w_{name}")]
        inits += [numpy_helper.from_array(bias, f"b_{name}")]
        nodes.append(helper.make_node("Gemm", ["feat", f"w_{name}", f"b_{name}"], [f"l_{name}"]))
        nodes.append(helper.make_node("Softmax", [f"l_{name}"], [f"probs_{name}"], axis=1))
        outputs.append(
            helper.make_tensor_value_info(f"probs_{name}", TensorProto.FLOAT, [batch, len(labels)])
        )
    if dim:
        weight, bias = _embedding_weights(dim, seed)
        inits += [numpy_helper.from_array(weight, "w_emb"), numpy_helper.from_array(bias, "b_emb")]
        nodes.append(helper.make_node("Gemm", ["feat", "w_emb", "b_emb"], ["raw_emb"]))
        nodes.append(helper.make_node("LpNormalization", ["raw_emb"], ["embedding"], axis=1, p=2))
        outputs.append(helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [batch, dim]))
    if features:
        nodes.append(helper.make_node("Identity", ["feat"], ["features"]))
        outputs.append(helper.make_tensor_value_info("features", TensorProto.FLOAT, [batch, 3]))
    graph = helper.make_graph(nodes, "tiny", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def make_manifest(
    families: Mapping[str, Sequence[str]],
    dim: int | None = 8,
    size: tuple[int, int] = (32, 32),
    resize: str = "letterbox",
    layout: str = "NCHW",
    name: str = "tiny",
    version: str = "1",
    thresholds: Mapping[str, float] | None = None,
    applies_to: Mapping[str, dict] | None = None,
    features: bool = True,
) -> dict:
    """A model-bundle manifest (docs/bundle.md) matching :func:`build_model`.

    ``applies_to`` maps a family to its gate, written as given (so tests can break it).
    """
    thresholds = thresholds or {}
    applies_to = applies_to or {}
    manifest: dict = {
        "format": "vitrina-bundle",
        "format_version": 1,
        "kind": "model",
        "name": name,
        "version": version,
        "backbone": "tiny-mean-colour",
        "model": "model.onnx",
        "input": {
            "name": "image",
            "layout": layout,
            "size": list(size),
            "resize": resize,
            "fill": [255, 255, 255],
            "mean": list(MEAN),
            "std": list(STD),
        },
        "families": [
            {
                "name": fam,
                "output": f"probs_{fam}",
                "labels": list(labels),
                "threshold": thresholds.get(fam, 0.5),
                "calibration": {"target_precision": 0.9, "split": "tiny test bundle"},
                **({"applies_to": applies_to[fam]} if fam in applies_to else {}),
            }
            for fam, labels in families.items()
        ],
        "provenance": {"created": "2026-01-01T00:00:00Z", "command": "tests/tinybundle.py"},
        "metrics": {},
    }
    if dim:
        manifest["embedding"] = {
            "output": "embedding",
            "dim": dim,
            "normalized": True,
            "description": "random projection of the mean colour, L2-normalised",
        }
    if features:
        manifest["features"] = {"output": "features", "dim": 3, "description": "mean colour"}
    return manifest


def make_tiny_bundle(
    directory: Path,
    families: Mapping[str, Sequence[str]] | None = None,
    dim: int | None = 8,
    size: tuple[int, int] = (32, 32),
    resize: str = "letterbox",
    name: str = "tiny",
    version: str = "1",
    layout: str = "NCHW",
    fixed_batch: bool = False,
    thresholds: Mapping[str, float] | None = None,
    seed: int = 0,
    applies_to: Mapping[str, dict] | None = None,
    features: bool = True,
) -> Path:
    """Write ``model.onnx`` + ``manifest.json`` into ``directory`` and return the folder.

    ``dim=None`` leaves out the embedding; ``fixed_batch`` fixes the graph's batch to 1.
    """
    families = families if families is not None else DEFAULT_FAMILIES
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model = build_model(families, dim, size, layout, fixed_batch, seed, features)
    onnx.save(model, directory / "model.onnx")
    manifest = make_manifest(
        families,
        dim,
        size,
        resize,
        layout,
        name,
        version,
        thresholds,
        applies_to,
        features=features,
    )
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return directory


def make_tiny_set(
    directory: Path,
    families: Mapping[str, Sequence[str]] | None = None,
    dim: int = 8,
    sizes: Mapping[str, tuple[int, int]] | None = None,
    resize: str = "letterbox",
    name: str = "tiny-set",
    version: str = "1",
) -> Path:
    """Write a ``kind: set`` bundle with one single-family member folder per family.

    ``sizes`` gives members different input sizes, so per-member preprocessing is exercised.
    """
    families = families if families is not None else DEFAULT_FAMILIES
    sizes = sizes or {}
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for i, (fam, labels) in enumerate(families.items()):
        make_tiny_bundle(
            directory / fam,
            {fam: labels},
            dim=dim,
            size=sizes.get(fam, (32, 32)),
            resize=resize,
            name=f"{name}-{fam}",
            version=version,
            seed=i + 1,
        )
    manifest = {
        "format": "vitrina-bundle",
        "format_version": 1,
        "kind": "set",
        "name": name,
        "version": version,
        "members": list(families),
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return directory


def solid_image_array(rgb: Sequence[int], size: tuple[int, int] = (32, 32)) -> np.ndarray:
    """An NCHW batch of one solid-colour image, normalised like the tiny manifest says."""
    h, w = size
    chw = np.broadcast_to(_normalised(rgb)[:, None, None], (3, h, w))
    return np.ascontiguousarray(chw[None], dtype=np.float32)
