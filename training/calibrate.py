"""Per-family thresholds: the lowest confidence at which precision reaches a target.

The lowest such threshold leaves the most photos tagged. Precision and coverage are
also reported per source, because a threshold that holds on catalog shots may not hold
on consumer photos.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MIN_ABOVE = 20
# A source with at least this many validation photos of a family gets its own say.
MIN_SOURCE = 100


def precision_coverage(confidence: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, ...]:
    """Thresholds (descending confidences) with the precision and coverage each leaves."""
    order = np.argsort(-confidence, kind="stable")
    conf, hit = confidence[order], correct[order].astype(np.float64)
    kept = np.arange(1, len(conf) + 1)
    precision = np.cumsum(hit) / kept
    coverage = kept / max(len(conf), 1)
    return conf, precision, coverage


def threshold_for(
    confidence: np.ndarray, correct: np.ndarray, target: float = 0.95, min_kept: int = MIN_ABOVE
) -> dict[str, float]:
    """Lowest threshold whose kept photos (at least ``min_kept``) reach ``target`` precision
    (1.0 when none does)."""
    if len(confidence) == 0:
        return {"threshold": 1.0, "precision": 0.0, "coverage": 0.0, "n": 0}
    conf, precision, _ = precision_coverage(confidence, correct)
    ok = np.nonzero((precision >= target) & (np.arange(1, len(conf) + 1) >= min_kept))[0]
    if len(ok) == 0:
        return {"threshold": 1.0, "precision": 0.0, "coverage": 0.0, "n": len(conf)}
    # A threshold keeps every photo at or above it, ties included, so measure it directly.
    threshold = float(conf[ok[-1]])
    kept = confidence >= threshold
    return {
        "threshold": threshold,
        "precision": float(correct[kept].mean()),
        "coverage": float(kept.mean()),
        "n": len(conf),
    }


def threshold_for_every_source(
    confidence: np.ndarray, correct: np.ndarray, sources: Sequence[str], target: float = 0.95
) -> dict:
    """The lowest threshold that reaches ``target`` on all photos *and* on each source with
    at least ``MIN_SOURCE`` photos: one pooled over catalog shots gave consumer photos
    0.90 precision (issue 8), so the strictest source sets it.

    A source whose precision never reaches ``target`` (e.g. consumer pattern plateaus at
    ~0.92) cannot set it; it is listed under ``unreached`` instead of silencing the family.
    A source's own threshold must keep ``MIN_SOURCE`` of its photos: a precision measured
    on its top twenty is noise (21 of 22 consumer pattern photos right on validation set a
    threshold that kept 5 % of pattern tags, at 0.87 precision on test; docs/quality.md).
    """
    source_array = np.asarray(sources)
    own_thresholds, unreached = [], []
    for source in sorted(set(sources)):
        sel = source_array == source
        if sel.sum() < MIN_SOURCE:
            continue
        own = threshold_for(confidence[sel], correct[sel], target, min_kept=MIN_SOURCE)
        if own["coverage"] == 0.0:
            unreached.append(source)
        else:
            own_thresholds.append(own["threshold"])
    # Pooled over the sources that can reach it: an unreached source's photos would
    # otherwise set the threshold through the pool after all.
    reached = ~np.isin(source_array, unreached)
    found = threshold_for(confidence[reached], correct[reached], target)
    strictest = max([found["threshold"], *own_thresholds])
    kept = confidence >= strictest
    return {
        "threshold": strictest,
        "precision": float(correct[kept].mean()) if kept.any() else 0.0,
        "coverage": float(kept.mean()) if len(kept) else 0.0,
        "n": len(confidence),
        "unreached": unreached,
    }


def at_threshold(
    confidence: np.ndarray, correct: np.ndarray, sources: Sequence[str], threshold: float
) -> dict[str, dict[str, float]]:
    """Precision and coverage per source at a given threshold."""
    result = {}
    source_array = np.asarray(sources)
    for source in sorted(set(sources)):
        sel = source_array == source
        kept = confidence[sel] >= threshold
        result[source] = {
            "n": int(sel.sum()),
            "coverage": float(kept.mean()) if sel.any() else 0.0,
            "precision": float(correct[sel][kept].mean()) if kept.any() else float("nan"),
        }
    return result
