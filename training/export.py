"""Write a model bundle (docs/bundle.md): model.onnx + manifest.json, or a set of them."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from app.core.bundle import Preprocessing
from training.labelmaps import gates
from training.network import VitrinaNet

OPSET = 17
MODEL_FILE = "model.onnx"
EMBEDDING_DESCRIPTION = (
    "per family: the penultimate (64-d) activation and the family's probabilities, each "
    "L2-normalised, weighted by the family's weight; concatenated, normalised"
)


FEATURES_DESCRIPTION = (
    "for learning from a catalog's reviews: the final pooled features on their first {k} "
    "principal axes, then the mid-level tap, the colour descriptor and the garment tap; all "
    "standardised with the training photos' statistics"
)


def export_onnx(net: VitrinaNet, path: Path, size: tuple[int, int]) -> None:
    """One graph: "image" (N,3,H,W) -> probs_<family>... + "embedding" (+ "features");
    dynamic batch."""
    export_module(net, path, size, net.outputs)


def export_module(
    module: nn.Module, path: Path, size: tuple[int, int], outputs: Sequence[str]
) -> None:
    """``module`` as an ONNX graph: "image" (N,3,H,W) -> ``outputs``; dynamic batch."""
    module = module.eval()
    outputs = list(outputs)
    dummy = torch.zeros(2, 3, *size)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        module,
        (dummy,),
        str(path),
        input_names=["image"],
        output_names=outputs,
        dynamic_axes={"image": {0: "N"}, **{o: {0: "N"} for o in outputs}},
        opset_version=OPSET,
        dynamo=False,
    )
    onnx.checker.check_model(onnx.load(str(path)))


def parity(net: VitrinaNet, path: Path, batch: np.ndarray) -> float:
    """Largest difference between torch and onnxruntime outputs on ``batch``: absolute for
    probabilities and the embedding, relative for outputs larger than 1 (the standardised
    features, where float32 rounding grows with the value)."""
    with torch.no_grad():
        expected = [t.numpy() for t in net.eval()(torch.from_numpy(batch))]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": batch})
    return max(
        float(np.abs(a - b).max() / max(1.0, float(np.abs(a).max())))
        for a, b in zip(expected, got, strict=True)
    )


def code_version() -> str:
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"git {sha}"


def _gate(family: str, labels: dict[str, Sequence[str]]) -> dict | None:
    """The family's ``applies_to`` from families.json, kept to the labels this bundle has.

    Left out when the gating family is not in the bundle (a single-family export): the app
    refuses a gate naming a family it cannot see.
    """
    gate = gates().get(family)
    if gate is None or gate["family"] not in labels:
        return None
    kept = [x for x in labels[gate["family"]] if x in gate["labels"]]
    return {"family": gate["family"], "labels": kept} if kept else None


def manifest_for(
    name: str,
    version: str,
    backbone: str,
    pre: Preprocessing,
    labels: dict[str, Sequence[str]],
    thresholds: dict[str, dict],
    embedding_dim: int,
    provenance: dict,
    metrics: dict,
    features: tuple[int, int] | None = None,
) -> dict:
    """The manifest.json of a model bundle; thresholds[f] holds "threshold" and its
    calibration; ``features`` is (dim, principal axes) of the learning features output."""
    families = []
    for family, names in labels.items():
        calibration = dict(thresholds.get(family, {}))
        threshold = float(calibration.pop("threshold", 0.5))
        entry = {
            "name": family,
            "output": f"probs_{family}",
            "labels": list(names),
            "threshold": round(threshold, 4),
            "calibration": calibration,
        }
        gate = _gate(family, labels)
        if gate:
            entry["applies_to"] = gate
        families.append(entry)
    return {
        "format": "vitrina-bundle",
        "format_version": 1,
        "kind": "model",
        "name": name,
        "version": version,
        "backbone": backbone,
        "model": MODEL_FILE,
        "input": {
            "name": "image",
            "layout": pre.layout,
            "size": list(pre.size),
            "resize": pre.resize,
            "fill": list(pre.fill),
            "mean": list(pre.mean),
            "std": list(pre.std),
        },
        "families": families,
        "embedding": {
            "output": "embedding",
            "dim": embedding_dim,
            "normalized": True,
            "description": EMBEDDING_DESCRIPTION,
        },
        **(
            {
                "features": {
                    "output": "features",
                    "dim": features[0],
                    "description": FEATURES_DESCRIPTION.format(k=features[1]),
                }
            }
            if features
            else {}
        ),
        "provenance": {
            "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "code_version": code_version(),
            **provenance,
        },
        "metrics": metrics,
    }


def thresholds_of(folder: Path) -> dict[str, dict]:
    """Each family's threshold and calibration as a bundle's manifest holds them."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return {
        f["name"]: {"threshold": f["threshold"], **f.get("calibration", {})}
        for f in manifest["families"]
    }


def write_manifest(folder: Path, manifest: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    tmp.replace(folder / "manifest.json")


def write_set_manifest(folder: Path, name: str, version: str, members: Sequence[str]) -> None:
    """The ``kind: set`` manifest listing one sub-folder bundle per family."""
    write_manifest(
        folder,
        {
            "format": "vitrina-bundle",
            "format_version": 1,
            "kind": "set",
            "name": name,
            "version": version,
            "members": list(members),
        },
    )
