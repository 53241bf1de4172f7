"""What each step of the shipped recipe buys, on cached features (docs/quality.md).

Trains the heads once per variant with one seed, on the same split and the same backbone
(``--weights``), adding one ingredient at a time: backdrop-swapped catalog shots, the
hand-checked consumer labels (counted once, twice, four times), synthetic photos, the
hand-checked catalog photos; then two recipe changes that were tried and not kept, and
the shipped recipe without the garment tap and with one colour head instead of the
mean of three (what each buys).
Scores every variant on the real validation and test photos per source, with thresholds
calibrated as ``vitrina-train fit`` does, per-class recall on consumer photos, and P@5
of the shipped embedding against the study's (activations only).

    python -m training.experiments.ablation \
        --data ../shared/datasets/clothing ../shared/datasets/catalog \
        --backdrops .cache/backdrops --synthetic .cache/synth \
        --weights .cache/ft/lite2_finetuned_backbone.pt --out .cache/ablation.json
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from training.evaluate import precision_at_k
from training.experiments.extra_training import cached_config, split_metrics, trained_heads
from training.heads import Head
from training.pipeline import DEFAULT_EMBEDDING_WEIGHTS, FitConfig, Prepared, validation_scores

CONSUMER = "clothing"
KEYSETS = {"category+colour": ("category", "colour"), "+pattern": ("category", "colour", "pattern")}


@dataclass(frozen=True)
class Variant:
    name: str
    backdrops: bool
    checked_weight: int
    synthetic: bool
    checked_from: tuple[str, ...] = ()  # sources whose hand-checked labels train
    recipe: dict = field(default_factory=dict)  # Recipe fields changed from the default


BOTH = (CONSUMER, "catalog")
VARIANTS = (
    Variant("catalog labels only", False, 1, False),
    Variant("+ backdrop-swapped catalog shots", True, 1, False),
    Variant("+ hand-checked consumer labels x1", True, 1, False, (CONSUMER,)),
    Variant("+ hand-checked x2", True, 2, False, (CONSUMER,)),
    Variant("+ hand-checked x4", True, 4, False, (CONSUMER,)),
    Variant("+ synthetic photos", True, 4, True, (CONSUMER,)),
    Variant("+ hand-checked catalog photos (shipped)", True, 4, True, BOTH),
    Variant(
        "shipped, colour head reads final features", True, 4, True, BOTH, {"colour_final": True}
    ),
    Variant("shipped, 20 epochs", True, 4, True, BOTH, {"epochs": 20}),
    Variant("shipped without the garment tap", True, 4, True, BOTH, {"garment_tap": False}),
    Variant("shipped with one colour head", True, 4, True, BOTH, {"colour_members": 1}),
)


def keep_checked_training(prepared: Prepared, sources: Sequence[str]) -> None:
    """Hand-checked labels stay in validation and test; training photos of other sources
    get back the labels they had before the check (the shop's, or none)."""
    prepared.parts["train"] = [
        p
        if p.source in sources
        else replace(p, labels=p.split_labels(), checked=frozenset(), unchecked=None)
        for p in prepared.parts["train"]
    ]


@torch.no_grad()
def study_embedding(prepared: Prepared, heads: dict[str, Head], split_name: str) -> np.ndarray:
    """The study's combined descriptor: weighted, normalised 64-d activations only."""
    pieces = []
    for family, head in heads.items():
        x = torch.from_numpy(prepared.inputs[split_name].for_family(family).astype(np.float32))
        weight = DEFAULT_EMBEDDING_WEIGHTS.get(family, 1.0)
        pieces.append(F.normalize(head(x)[1], dim=1) * weight)
    return F.normalize(torch.cat(pieces, dim=1), dim=1).numpy()


def consumer_recall(prepared: Prepared, heads: dict[str, Head], split_name: str) -> dict:
    """Per family and class: (recall, n) on the consumer photos of a split."""
    result = {}
    for family, s in validation_scores(prepared, heads, split_name).items():
        mine = np.asarray(s["sources"]) == CONSUMER
        y, pred, names = s["y"][mine], s["pred"][mine], prepared.labels[family]
        result[family] = {
            names[c]: (float((pred[y == c] == c).mean()), int((y == c).sum())) for c in np.unique(y)
        }
    return result


def run_variant(config: FitConfig, variant: Variant, backdrops: Path, synthetic: Path) -> dict:
    extra = [p for p, on in ((backdrops, variant.backdrops), (synthetic, variant.synthetic)) if on]
    recipe = replace(config.recipe, checked_weight=max(1, variant.checked_weight), **variant.recipe)
    config = replace(config, extra_train=extra, recipe=recipe)
    prepared, heads, thresholds = trained_heads(
        config, lambda prepared: keep_checked_training(prepared, variant.checked_from)
    )
    result: dict = {"thresholds": thresholds}
    for split_name in ("val", "test"):
        metrics = split_metrics(prepared, heads, split_name, thresholds)
        metrics["consumer_recall"] = consumer_recall(prepared, heads, split_name)
        study = study_embedding(prepared, heads, split_name)
        photos = prepared.parts[split_name]
        for name, keyset in KEYSETS.items():
            rows = [i for i, p in enumerate(photos) if all(f in p.labels for f in keyset)]
            keys = [tuple(photos[i].labels[f] for f in keyset) for i in rows]
            metrics.setdefault("study_p_at_5", {})[name] = precision_at_k(study[rows], keys, (5,))[
                5
            ]
        result[split_name] = metrics
    return result


def table(results: dict[str, dict], split_name: str) -> list[str]:
    """Markdown: top-1 per family and source, colour's coverage at its threshold, and P@5,
    one row per variant."""
    lines = [
        f"| variant ({split_name}) | colour catalog | colour consumer | pattern catalog "
        "| pattern consumer | category consumer | colour coverage at threshold catalog / "
        "consumer | P@5 study / shipped embedding |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in results.items():
        m = r[split_name]

        def top1(family: str, source: str, m: dict = m) -> str:
            return f"{m[family]['by_source'][source]['top1']:.3f}"

        kept = m["colour"]["at_threshold"]
        coverage = f"{kept['catalog']['coverage']:.3f} / {kept[CONSUMER]['coverage']:.3f}"
        p5 = f"{m['study_p_at_5']['category+colour']:.3f} / "
        p5 += f"{m['similar_p_at_5']['category+colour']['p_at_5']:.3f}"
        lines.append(
            f"| {name} | {top1('colour', 'catalog')} | {top1('colour', CONSUMER)} | "
            f"{top1('pattern', 'catalog')} | {top1('pattern', CONSUMER)} | "
            f"{top1('category', CONSUMER)} | {coverage} | {p5} |"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--backdrops", type=Path, required=True)
        parser.add_argument("--synthetic", type=Path, required=True)

    args, config = cached_config(__doc__.split("\n\n")[0], add_arguments, argv)
    results = {v.name: run_variant(config, v, args.backdrops, args.synthetic) for v in VARIANTS}
    args.out.write_text(json.dumps(results, indent=1, default=float), encoding="utf-8")
    print("\n".join([*table(results, "val"), "", *table(results, "test")]))


if __name__ == "__main__":
    main()
