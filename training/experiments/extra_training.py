"""A/B of extra training photos (e.g. ``.cache/synth``) on cached features, scored on real photos.

Trains the default heads twice with one seed, without and with ``--extra-train``, and scores
both on the real validation and test splits only (the extra photos never enter them). Runs
in seconds once features are cached, where ``fit --report`` re-runs the backbone on every
test photo through onnxruntime (the heads are the same; torch vs onnxruntime parity ~5e-6).

    python -m training.experiments.extra_training \
        --data ../shared/datasets/clothing ../shared/datasets/catalog \
        --extra-train .cache/synth --out .cache/ab/synth.json
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from training.calibrate import at_threshold
from training.evaluate import precision_at_k
from training.features import DEFAULT_CACHE
from training.heads import Head
from training.network import embed_features
from training.pipeline import (
    DEFAULT_EMBEDDING_WEIGHTS,
    FitConfig,
    Prepared,
    calibrate,
    prepare,
    train_heads,
    validation_scores,
)


def _embedding(prepared: Prepared, heads: dict[str, Head], split_name: str) -> np.ndarray:
    """The bundle's combined embedding from cached features."""
    features = {f: prepared.inputs[split_name].for_family(f) for f in heads}
    return embed_features(heads, features, DEFAULT_EMBEDDING_WEIGHTS)


def split_metrics(
    prepared: Prepared, heads: dict[str, Head], split_name: str, thresholds: dict
) -> dict:
    """Top-1/3 (overall and per source), per-class recall, macro recall, P@5, at-threshold."""
    result: dict = {}
    for family, s in validation_scores(prepared, heads, split_name).items():
        names = prepared.labels[family]
        sources = np.array(s["sources"])
        recall = {
            names[c]: {
                "n": int((s["y"] == c).sum()),
                "recall": float((s["pred"][s["y"] == c] == c).mean()),
            }
            for c in np.unique(s["y"])
        }
        result[family] = {
            "n": len(s["y"]),
            "top1": float(s["correct"].mean()),
            "top3": float(s["top3"].mean()),
            "by_source": {
                src: {
                    "n": int((sources == src).sum()),
                    "top1": float(s["correct"][sources == src].mean()),
                    "top3": float(s["top3"][sources == src].mean()),
                }
                for src in sorted(set(s["sources"]))
            },
            "per_class_recall": recall,
            "macro_recall": float(np.mean([r["recall"] for r in recall.values()])),
            "at_threshold": at_threshold(
                s["confidence"], s["correct"], s["sources"], thresholds[family]["threshold"]
            ),
        }
    photos = prepared.parts[split_name]
    embedding = _embedding(prepared, heads, split_name)
    for name, keyset in {
        "category+colour": ("category", "colour"),
        "category+colour+pattern": ("category", "colour", "pattern"),
    }.items():
        rows = [i for i, p in enumerate(photos) if all(f in p.labels for f in keyset)]
        keys = [tuple(photos[i].labels[f] for f in keyset) for i in rows]
        result.setdefault("similar_p_at_5", {})[name] = {
            "n": len(rows),
            "p_at_5": precision_at_k(embedding[rows], keys, (5,))[5],
        }
    return result


def trained_heads(
    config: FitConfig, adjust: Callable[[Prepared], None] | None = None
) -> tuple[Prepared, dict[str, Head], dict[str, dict]]:
    """Cached features (``adjust`` may change the photos first), heads trained from the
    config's seed, and their thresholds calibrated on validation as ``fit`` does."""
    torch.manual_seed(config.seed)
    prepared = prepare(config)
    if adjust is not None:
        adjust(prepared)
    heads = train_heads(prepared, config.recipe)
    thresholds = calibrate(validation_scores(prepared, heads), config.target_precision, "val")
    return prepared, heads, thresholds


def run(config: FitConfig) -> dict:
    """Metrics without and with ``config.extra_train`` (same recipe, same seed)."""
    report = {}
    for name, extra in (("without", ()), ("with", config.extra_train)):
        prepared, heads, thresholds = trained_heads(replace(config, extra_train=extra))
        report[name] = {
            "train_photos": len(prepared.parts["train"]),
            "thresholds": thresholds,
            "val": split_metrics(prepared, heads, "val", thresholds),
            "test": split_metrics(prepared, heads, "test", thresholds),
        }
    return report


def cached_config(
    description: str, add_arguments: Callable[[argparse.ArgumentParser], None], argv
) -> tuple[argparse.Namespace, FitConfig]:
    """Parse the options every cached-features comparison shares (plus its own) into a
    ``FitConfig`` with the seed applied to the recipe; sets torch's thread count."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", type=Path, nargs="+", required=True)
    parser.add_argument("--weights", type=Path, help="backbone checkpoint (as for fit)")
    parser.add_argument("--out", type=Path, required=True, help="JSON with every variant")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    add_arguments(parser)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = FitConfig(
        data=args.data,
        out=Path("unused"),
        weights=args.weights,
        seed=args.seed,
        cache_dir=args.cache_dir,
    )
    config.recipe = replace(config.recipe, seed=args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    return args, config


def main(argv: list[str] | None = None) -> None:
    args, config = cached_config(
        __doc__.split("\n\n")[0],
        lambda p: p.add_argument("--extra-train", type=Path, nargs="+", required=True),
        argv,
    )
    config.extra_train = args.extra_train
    args.out.write_text(json.dumps(run(config), indent=1, default=float), encoding="utf-8")


if __name__ == "__main__":
    main()
