"""Per-family thresholds: the lowest confidence at which precision reaches a target.

The lowest such threshold leaves the most photos tagged. Precision and coverage are
also reported per source, because a threshold that holds on catalog shots may not hold
on consumer photos.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MIN_ABOVE = 20


def precision_coverage(confidence: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, ...]:
    """Thresholds (descending confidences) with the precision and coverage each leaves."""
    order = np.argsort(-confidence, kind="stable")
    conf, hit = confidence[order], correct[order].astype(np.float64)
    kept = np.arange(1, len(conf) + 1)
    precision = np.cumsum(hit) / kept
    coverage = kept / max(len(conf), 1)
    return conf, precision, coverage


def threshold_for(
    confidence: np.ndarray, correct: np.ndarray, target: float = 0.95
) -> dict[str, float]:
    """Lowest threshold whose kept photos reach ``target`` precision (1.0 when none does)."""
    if len(confidence) == 0:
        return {"threshold": 1.0, "precision": 0.0, "coverage": 0.0, "n": 0}
    conf, precision, _ = precision_coverage(confidence, correct)
    ok = np.nonzero((precision >= target) & (np.arange(1, len(conf) + 1) >= MIN_ABOVE))[0]
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
