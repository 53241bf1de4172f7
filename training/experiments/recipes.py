"""Recipe comparison on cached features: the study's recipe against each change, measured.

Everything here scores the validation split (it is the tuning split); the shipped
bundle's test numbers come from ``evaluate`` once, on the held-out test split.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from training.evaluate import precision_at_k
from training.heads import Head, Recipe, head_parts
from training.network import embed_features
from training.pipeline import Prepared, train_heads, validation_scores

STUDY = Recipe(
    epochs=10,
    dropout=0.0,
    weight_decay=0.0,
    label_smoothing=0.0,
    class_weights=False,
    mirrored=False,
    colour_descriptor=False,
    colour_mid=False,
    colour_final=True,
    garment_tap=False,
    one_cycle=False,
)

VARIANTS: dict[str, Recipe] = {
    "study (10 ep, Adam)": STUDY,
    "+ one-cycle LR, dropout, weight decay": replace(
        STUDY, one_cycle=True, dropout=0.2, weight_decay=1e-4
    ),
    "+ class weights": replace(STUDY, class_weights=True),
    "+ label smoothing 0.1": replace(STUDY, label_smoothing=0.1),
    "+ mirrored features": replace(STUDY, mirrored=True),
    "+ colour: mid-level tap": replace(STUDY, colour_mid=True),
    "+ colour: garment histogram": replace(STUDY, colour_descriptor=True),
    "+ colour: mid tap + histogram": replace(STUDY, colour_mid=True, colour_descriptor=True),
    "+ colour: mid tap + histogram, no final": replace(
        STUDY, colour_mid=True, colour_descriptor=True, colour_final=False
    ),
    "all": replace(Recipe(), class_weights=True, mirrored=True),
    "all but class weights": replace(Recipe(), class_weights=False, mirrored=True),
    "all but mirroring (default)": Recipe(),
    "all but class weights and mirroring": replace(Recipe(), class_weights=False),
    "default, 30 epochs": Recipe(epochs=30),
}

EMBEDDING_WEIGHTS = {
    "equal": {},
    "colour x1.5, sleeve x0.5": {"colour": 1.5, "sleeve": 0.5},
    "colour x2, pattern x1.5, sleeve x0.5": {"colour": 2.0, "pattern": 1.5, "sleeve": 0.5},
}


def _with_parts(prepared: Prepared, recipe: Recipe) -> Prepared:
    parts = {f: head_parts(f, recipe) for f in prepared.labels}
    for inputs in [*prepared.inputs.values(), prepared.mirrored]:
        if inputs is not None:
            inputs.parts = parts
    return prepared


def _macro_recall(s: dict) -> float:
    classes = np.unique(s["y"])
    return float(np.mean([(s["pred"][s["y"] == c] == c).mean() for c in classes]))


def _embedding(prepared: Prepared, heads: dict[str, Head], weights: dict) -> np.ndarray:
    features = {f: prepared.inputs["val"].for_family(f) for f in heads}
    return embed_features(heads, features, weights)


def compare(prepared: Prepared) -> list[str]:
    """Markdown lines: validation top-1 per family per recipe, and P@5 per embedding weighting."""
    families = list(prepared.labels)
    header = " | ".join(f"{f} top-1" for f in families)
    lines = [
        f"| recipe | {header} | colour macro recall | pattern macro recall "
        "| category top-1 clothing | seconds |",
        "| --- | " + " | ".join("---" for _ in families) + " | --- | --- | --- | --- |",
    ]
    best_heads = None
    for name, recipe in VARIANTS.items():
        _with_parts(prepared, recipe)
        began = time.monotonic()
        heads = train_heads(prepared, recipe)
        seconds = time.monotonic() - began
        scores = validation_scores(prepared, heads)
        cells = " | ".join(f"{scores[f]['correct'].mean():.3f}" for f in families)
        pattern = _macro_recall(scores["pattern"]) if "pattern" in scores else float("nan")
        colour = _macro_recall(scores["colour"]) if "colour" in scores else float("nan")
        cat = scores.get("category")
        clothing = (
            float(cat["correct"][np.array(cat["sources"]) == "clothing"].mean())
            if cat is not None and "clothing" in cat["sources"]
            else float("nan")
        )
        lines.append(
            f"| {name} | {cells} | {colour:.3f} | {pattern:.3f} | {clothing:.3f} | {seconds:.0f} |"
        )
        if recipe == Recipe():
            best_heads = heads
    _with_parts(prepared, Recipe())
    lines += ["", "| embedding weighting | P@5 category+colour | P@5 category+colour+pattern |"]
    lines.append("| --- | --- | --- |")
    val = prepared.parts["val"]
    for name, weights in EMBEDDING_WEIGHTS.items():
        emb = _embedding(prepared, best_heads, weights)
        cells = []
        for keyset in (("category", "colour"), ("category", "colour", "pattern")):
            rows = [i for i, p in enumerate(val) if all(f in p.labels for f in keyset)]
            keys = [tuple(val[i].labels[f] for f in keyset) for i in rows]
            cells.append(f"{precision_at_k(emb[rows], keys, (5,))[5]:.3f}")
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return lines
