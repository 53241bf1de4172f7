"""Turn the remote job's results into a model bundle here, with the training package's export.

Why here: calibration, ONNX export, the parity check and int8 quantization need the
original photos and the app's decoder (what users' photos go through), not the GPU pack.
Thresholds are calibrated on the same validation split the job reported on.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from app.core.bundle import load_bundle
from app.core.decode import open_photo, preprocess
from training.backbones import build_backbone
from training.cli import bundle_options, embedding_weights_of
from training.colour import ColourDescriptor
from training.datasets import load_data, split
from training.export import thresholds_of
from training.features import preprocessing_for
from training.heads import Recipe, head_parts, make_head
from training.network import VitrinaNet
from training.pipeline import (
    DEFAULT_EMBEDDING_WEIGHTS,
    FitConfig,
    Prepared,
    calibrate,
    finetuned_scores,
    write_bundle,
)
from training.remote import blob
from training.remote.pack import DEFAULT_DATA


def job_recipe(summary: dict) -> Recipe:
    """The recipe a job ran; jobs from before the garment tap and the colour ensemble did
    not record them (off)."""
    return Recipe(**{"garment_tap": False, "colour_members": 1, **summary["recipe"]})


def load_net(results: Path, backbone: str, embedding_weights: dict[str, float]) -> tuple:
    """(VitrinaNet with the fine-tuned weights, the job's metrics.json, that backbone's entry)."""
    summary = json.loads((results / "metrics.json").read_text(encoding="utf-8"))
    if backbone not in summary["results"]:
        raise SystemExit(
            f"{results}/metrics.json: no result for {backbone!r}; "
            f"it has {sorted(summary['results'])}."
        )
    entry = summary["results"][backbone]
    state = blob.loads(blob.read_chunks(results, entry["blob"]["chunks"], entry["blob"]["sha256"]))
    recipe = job_recipe(summary)
    labels = {f: tuple(names) for f, names in summary["labels"].items()}
    size = entry["size"]
    pre = preprocessing_for(backbone, size)
    net = VitrinaNet(
        build_backbone(backbone, size, from_scratch=True),
        ColourDescriptor(size, pre.mean, pre.std),
        {f: make_head(f, entry["in_dim"][f], len(labels[f]), recipe) for f in labels},
        {f: head_parts(f, recipe) for f in labels},
        embedding_weights,
    )
    missing, unexpected = net.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith(blob.SKIPPED_SUFFIX)]
    if missing or unexpected:
        raise SystemExit(
            f"{results}: weights do not fit {backbone} "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]})."
        )
    return net.eval(), summary, entry


def unpack(
    results: Path,
    backbone: str,
    out: Path,
    data: Sequence[Path] = DEFAULT_DATA,
    name: str | None = None,
    version: str = "2026.11.26",
    int8: bool = True,
    target_precision: float = 0.95,
    embedding_weights: dict[str, float] | None = None,
    report: Path | None = None,
    seed: int = 0,
) -> dict:
    """Write the bundle folder ``out``; return thresholds, validation metrics, quantization.

    ``embedding_weights`` defaults to ``vitrina-train fit``'s (category 2, colour 2, sleeve 0.5).
    """
    if embedding_weights is None:
        embedding_weights = dict(DEFAULT_EMBEDDING_WEIGHTS)
    net, summary, entry = load_net(results, backbone, embedding_weights)
    labels = {f: tuple(n) for f, n in summary["labels"].items()}
    photos = load_data(data)
    parts = split(photos, seed)
    pre = preprocessing_for(backbone, entry["size"])
    prepared = Prepared(photos, parts, labels, {}, None, net.descriptor)
    scores = finetuned_scores(net, prepared, pre)
    thresholds = calibrate(scores, target_precision, "validation")
    metrics = {
        f: {
            "validation_top1": round(float(s["correct"].mean()), 4),
            "validation_top3": round(float(s["top3"].mean()), 4),
        }
        for f, s in scores.items()
    }
    config = FitConfig(
        data=list(data),
        out=out,
        backbone=backbone,
        size=entry["size"],
        recipe=job_recipe(summary),
        name=name or f"vitrina-{backbone.replace('_', '-')}",
        version=version,
        embedding_weights=embedding_weights,
        command="python -m training.remote.unpack " + shlex.join(sys.argv[1:]),
    )
    sample = np.stack(
        [preprocess(open_photo(p.path, pre.min_side).image, pre) for p in parts["val"][:4]]
    )
    write_bundle(config, net, out, labels, thresholds, metrics, sample)
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    chosen = entry["variants"][entry["chosen"]]
    manifest["provenance"]["gpu_finetune"] = {
        "device": summary["device"],
        "batch_norm": entry["chosen"],
        "stage2_epochs": chosen["epochs_done"],
        "epoch_wall_s": [h["wall_s"] for h in chosen["history"]],
        "job_validation_top1": {f: m["top1"] for f, m in chosen["val"].items()},
        "stage1_validation_top1": {
            f: m["top1"] for f, m in entry["stage1"].items() if isinstance(m, dict) and "top1" in m
        },
        "settings": summary["settings"],
    }
    quantization = {"fp32_bytes": (out / "model.onnx").stat().st_size}
    manifest["metrics"]["quantization"] = quantization
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    if int8:
        from training.quantize import quantize_if_accurate

        quantization = quantize_if_accurate(out, parts)
        if quantization["kept"]:
            thresholds = thresholds_of(out)
    load_bundle(out)
    result = {"thresholds": thresholds, "validation": metrics, "quantization": quantization}
    if report is not None:
        from training.evaluate import evaluate

        test = parts["test"]
        result["test"] = evaluate(out, test, report, f"Held-out test split: {len(test)} photos.")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.remote.unpack", description=__doc__)
    parser.add_argument(
        "results", type=Path, help="the job's results folder, copied back from the GPU machine"
    )
    parser.add_argument("--backbone", required=True)
    parser.add_argument("--out", type=Path, help="bundle folder to write")
    parser.add_argument(
        "--save-backbone",
        type=Path,
        metavar="FILE",
        help="also save the fine-tuned backbone as a checkpoint for vitrina-train --weights",
    )
    parser.add_argument("--data", type=Path, nargs="+", default=list(DEFAULT_DATA))
    parser.add_argument("--name")
    parser.add_argument("--version", default="2026.11.26")
    parser.add_argument("--no-int8", action="store_true")
    bundle_options(parser)
    parser.add_argument("--report", type=Path, help="also evaluate the test split here")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    weights = embedding_weights_of(args)
    if args.save_backbone:
        net, _, _ = load_net(args.results, args.backbone, weights)
        args.save_backbone.parent.mkdir(parents=True, exist_ok=True)
        torch.save(net.backbone.checkpoint(), args.save_backbone)
        print(f"wrote {args.save_backbone}")
    if args.out is None:
        if not args.save_backbone:
            parser.error("give --out (a bundle folder) and/or --save-backbone FILE")
        return 0
    result = unpack(
        args.results,
        args.backbone,
        args.out,
        args.data,
        args.name,
        args.version,
        not args.no_int8,
        args.target_precision,
        weights,
        args.report,
    )
    print(json.dumps({k: result[k] for k in ("validation", "quantization")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
