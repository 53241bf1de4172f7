"""Leave one source out: how the heads do on photos from a source they never trained on.

A test split drawn from the training sources flatters: every shop's photos come from
elsewhere. For each source with enough labelled photos, heads are trained on the training
split of the *other* sources (and on extra photos not made from this one) and scored on
every photo of the held-out source. Thresholds calibrated on these scores hold on a new
source, which is what the app promises; ``fit`` uses the stricter of this threshold and
the in-source one. The backbone is shared: where it was fine-tuned on a source, that
source's held-out figures are an upper bound (docs/quality.md says which).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from training.calibrate import MIN_SOURCE, at_threshold, threshold_for_every_source
from training.datasets import Photo
from training.heads import Recipe, predict
from training.pipeline import Prepared, _scores, encoded, train_heads


def held_out_sources(prepared: Prepared, min_photos: int = MIN_SOURCE) -> list[str]:
    """Sources of real photos with at least ``min_photos`` labelled in some family."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for photo in prepared.photos:
        if not photo.origin:
            for family in photo.labels:
                counts[(photo.source, family)] += 1
    return sorted({source for (source, _), n in counts.items() if n >= min_photos})


def held_out_scores(prepared: Prepared, recipe: Recipe) -> dict[str, dict[str, dict]]:
    """Source -> family -> scores (``pipeline._scores``) of heads trained without it."""
    stems: dict[str, set[str]] = defaultdict(set)
    for photo in prepared.photos:
        if not photo.origin:
            stems[photo.source].add(photo.path.stem)
    result = {}
    for source in held_out_sources(prepared):

        def keep(photo: Photo, source: str = source) -> bool:
            return photo.source != source and photo.origin not in stems[source]

        heads = train_heads(prepared, recipe, keep)
        taught = {
            family: {
                p.labels[family] for p in prepared.parts["train"] if keep(p) and family in p.labels
            }
            for family in prepared.labels
        }
        result[source] = _score_source(prepared, heads, source, taught)
    return result


def _score_source(
    prepared: Prepared, heads: dict, source: str, taught: dict[str, set[str]]
) -> dict[str, dict]:
    """Scores on the source's photos whose label the heads were taught: a label only this
    source has (the catalog's watches and bags) says nothing about how a confident answer
    holds elsewhere, and would set every threshold of the family."""
    scores = {}
    for family, names in prepared.labels.items():
        probs, ys = [], []
        for split_name, photos in prepared.parts.items():
            rows, y = encoded(photos, family, names)
            rows_y = [(r, label) for r, label in zip(rows, y, strict=True)]
            mine = [
                (r, label)
                for r, label in rows_y
                if photos[r].source == source and names[label] in taught[family]
            ]
            if not mine:
                continue
            index = np.array([r for r, _ in mine])
            probs.append(
                predict(heads[family], prepared.inputs[split_name].for_family(family)[index])
            )
            ys.append(np.array([label for _, label in mine]))
        if probs:
            y = np.concatenate(ys)
            scores[family] = _scores(np.concatenate(probs), y, [source] * len(y))
    return scores


def pooled(by_source: dict[str, dict[str, dict]]) -> dict[str, dict]:
    """Family -> the held-out scores of every source together (sources kept apart in
    ``sources``), for ``pipeline.calibrate``."""
    families = sorted({family for scores in by_source.values() for family in scores})
    result = {}
    for family in families:
        parts = [scores[family] for scores in by_source.values() if family in scores]
        result[family] = {
            key: (
                [source for p in parts for source in p[key]]
                if key == "sources"
                else np.concatenate([p[key] for p in parts])
            )
            for key in parts[0]
        }
    return result


def honest_thresholds(
    in_source: dict[str, dict], held_out: dict[str, dict[str, dict]], target: float
) -> dict[str, dict]:
    """Per family, the stricter of the in-source validation threshold and the one the
    held-out sources set (``threshold_for_every_source`` on each source's held-out scores),
    with precision and coverage at it on both, per source: what the manifest records."""
    pooled_scores = pooled(held_out)
    result = {}
    for family, s in in_source.items():
        own = threshold_for_every_source(s["confidence"], s["correct"], s["sources"], target)
        held = pooled_scores.get(family)
        found = (
            threshold_for_every_source(held["confidence"], held["correct"], held["sources"], target)
            if held is not None
            else None
        )
        threshold = own["threshold"]
        set_on = "validation"
        if found is not None and found["threshold"] > threshold:
            threshold, set_on = found["threshold"], "held-out sources"
        entry = {
            "threshold": threshold,
            "target_precision": target,
            "set_on": set_on,
            **_at(s, threshold),
            "split": f"validation ({' + '.join(sorted(set(s['sources'])))}), n={len(s['correct'])}",
            "rule": "the stricter of: the target reached on validation, on all and on each "
            f"source with >= {MIN_SOURCE} photos; the same on every held-out source",
            "unreached": own["unreached"],
        }
        if found is not None:
            entry["held_out"] = {
                "split": "each source scored by heads trained without it",
                "threshold": found["threshold"],
                "unreached": found["unreached"],
                **_at(held, threshold),
            }
        result[family] = entry
    return result


def _at(scores: dict, threshold: float) -> dict:
    """Precision and coverage at ``threshold``, on all and per source."""
    kept = scores["confidence"] >= threshold
    per_source = at_threshold(scores["confidence"], scores["correct"], scores["sources"], threshold)
    return {
        "precision": round(float(scores["correct"][kept].mean()) if kept.any() else 0.0, 4),
        "coverage": round(float(kept.mean()), 4),
        "by_source": {k: {m: round(v, 4) for m, v in d.items()} for k, d in per_source.items()},
    }


def held_out_metrics(held_out: dict[str, dict[str, dict]], labels: dict) -> dict:
    """Family -> source -> top-1, top-3, n and per-label recall of the held-out heads."""
    result: dict[str, dict] = defaultdict(dict)
    for source, families in held_out.items():
        for family, s in families.items():
            recall = {
                labels[family][k]: round(float((s["pred"][s["y"] == k] == k).mean()), 4)
                for k in np.unique(s["y"])
            }
            result[family][source] = {
                "n": len(s["y"]),
                "top1": round(float(s["correct"].mean()), 4),
                "top3": round(float(s["top3"].mean()), 4),
                "recall": recall,
            }
    return dict(result)
