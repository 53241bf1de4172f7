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

from training.calibrate import MIN_SOURCE
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
        result[source] = _score_source(prepared, heads, source)
    return result


def _score_source(prepared: Prepared, heads: dict, source: str) -> dict[str, dict]:
    scores = {}
    for family, names in prepared.labels.items():
        probs, ys = [], []
        for split_name, photos in prepared.parts.items():
            rows, y = encoded(photos, family, names)
            rows_y = [(r, label) for r, label in zip(rows, y, strict=True)]
            mine = [(r, label) for r, label in rows_y if photos[r].source == source]
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
