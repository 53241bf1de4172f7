"""Similar-items P@5 of embedding variants, recomputed from one bundle's outputs.

Why: a family's part of a vitrina-train embedding is its head activation next to its
probabilities, and the bundle outputs both. So any weighting of the parts, or form of the
probabilities, can be scored on the same validation and test photos without retraining
or re-running the backbone; the shipped one is chosen on validation (docs/quality.md).

    python -m training.experiments.embedding_weights models_onnx/default \\
        --data ../shared/datasets/clothing ../shared/datasets/catalog
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from app.core.bundle import load_bundle
from training.datasets import load_data, split
from training.evaluate import MATCHES, embedding_parts, match_keys, precision_at_k, run_bundle
from training.network import PROBABILITY_WEIGHT, combine
from training.pipeline import DEFAULT_EMBEDDING_WEIGHTS

K = 5


@dataclass(frozen=True)
class Variant:
    """Family weights, and the probability part's weight and power (0.5: square root)."""

    weights: dict[str, float] = field(default_factory=dict)
    probability_weight: float = PROBABILITY_WEIGHT
    power: float = 1.0


VARIANTS = {
    "activations only (the study)": Variant(probability_weight=0.0),
    "√p at 2×; colour 1.5, sleeve 0.5 (until @2026.12.03.3)": Variant(
        {"colour": 1.5, "sleeve": 0.5}, 2.0, 0.5
    ),
    "p at 1×; colour 1.5, sleeve 0.5": Variant({"colour": 1.5, "sleeve": 0.5}),
    "√p at 2×; category 2, colour 2, sleeve 0.5": Variant(DEFAULT_EMBEDDING_WEIGHTS, 2.0, 0.5),
    "p at 1×; category 2, colour 2, sleeve 0.5 (shipped)": Variant(DEFAULT_EMBEDDING_WEIGHTS),
    "p at 1×; category 2, colour 2, pattern 1.5, sleeve 0.5": Variant(
        {**DEFAULT_EMBEDDING_WEIGHTS, "pattern": 1.5}
    ),
    "p alone; category 2, colour 2, sleeve 0.5": Variant(DEFAULT_EMBEDDING_WEIGHTS, 1e3),
}


def recombine(
    activations: dict[str, np.ndarray], probabilities: dict[str, np.ndarray], variant: Variant
) -> np.ndarray:
    """``training.network.combine`` (what the graph computes) with the variant's settings."""
    return combine(
        {name: torch.from_numpy(a) for name, a in activations.items()},
        {name: torch.from_numpy(probabilities[name]) for name in activations},
        variant.weights,
        variant.probability_weight,
        variant.power,
    ).numpy()


def precision_at_5(embedding: np.ndarray, photos: Sequence) -> dict[str, float]:
    """P@5 for each way of matching neighbours (``training.evaluate.MATCHES``); NaN where
    too few photos carry the labels to have five neighbours."""
    result = {}
    for name, families in MATCHES.items():
        rows, keys = match_keys(photos, families)
        enough = len(rows) > K
        result[name] = precision_at_k(embedding[rows], keys, (K,))[K] if enough else np.nan
    return result


def compare(bundle_path: Path, data: Sequence[Path], seed: int = 0) -> list[str]:
    """A Markdown table: P@5 of every variant on the validation and test photos."""
    bundle = load_bundle(bundle_path)
    parts = split(load_data(data), seed)
    scores: dict[str, dict[str, dict[str, float]]] = {name: {} for name in VARIANTS}
    for part in ("val", "test"):
        photos = parts[part]
        probabilities, embedding = run_bundle(bundle, [p.path for p in photos])
        family_parts = embedding_parts(bundle, embedding)
        if not family_parts:
            raise SystemExit(
                f"{bundle_path}: its embedding is not laid out as vitrina-train writes it "
                "(activation, then probabilities, per family), so it cannot be re-weighted."
            )
        activations = {f.name: family_parts[f.name][:, : -len(f.labels)] for f in bundle.families}
        for name, variant in VARIANTS.items():
            scores[name][part] = precision_at_5(
                recombine(activations, probabilities, variant), photos
            )
    columns = [(part, match) for part in ("val", "test") for match in MATCHES]
    lines = [
        "| embedding | " + " | ".join(f"{part} P@{K} {match}" for part, match in columns) + " |",
        "| --- | " + " | ".join("---" for _ in columns) + " |",
    ]
    for name in VARIANTS:
        cells = " | ".join(f"{scores[name][part][match]:.3f}" for part, match in columns)
        lines.append(f"| {name} | {cells} |")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m training.experiments.embedding_weights", description=__doc__
    )
    parser.add_argument("bundle", type=Path, help="a bundle folder written by vitrina-train")
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="as given to fit")
    parser.add_argument("--seed", type=int, default=0, help="the split's seed, as given to fit")
    parser.add_argument("--out", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    text = "\n".join(compare(args.bundle, args.data, args.seed)) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
