"""THE place a tag is decided: ranked suggestions per family, confident or uncertain.

A top label below its family's threshold is *uncertain*: it is kept and shown as a
suggestion for review, never dropped. A family gated by ``applies_to`` (docs/bundle.md)
whose gate does not hold is left out: no sleeve length for shoes. Widgets and the CLI
ask this module, not a number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from app.core.errors import VitrinaError

if TYPE_CHECKING:
    from app.core.bundle import Family


def is_confident(confidence: Any, threshold: Any) -> Any:
    """THE rule: a suggestion is confident when its confidence reaches its family's
    threshold. Given numbers it answers a bool, given arrays an array, and given SQL
    columns the SQL condition, so the review panel, accept-confident and the grid's
    filters all ask this one function."""
    return confidence >= threshold


@dataclass(frozen=True)
class Suggestion:
    label: str
    confidence: float
    rank: int  # 1 = the model's top choice


@dataclass(frozen=True)
class FamilyDecision:
    family: str
    threshold: float
    ranked: tuple[Suggestion, ...]
    correction_id: int | None = None  # the catalog's learned correction behind the ranking

    @property
    def top(self) -> Suggestion:
        return self.ranked[0]

    @property
    def confident(self) -> bool:
        """The top label reaches the family's threshold (manifest or user override)."""
        return bool(is_confident(self.top.confidence, self.threshold))


def effective_thresholds(
    families: Sequence[Family], overrides: Mapping[str, float] | None = None
) -> dict[str, float]:
    """Each family's threshold: the user's override where given, else the calibrated one."""
    overrides = dict(overrides or {})
    known = {f.name for f in families}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise VitrinaError(
            f"Threshold override for unknown family {', '.join(unknown)}: the bundle's families "
            f"are {', '.join(sorted(known))}. Fix the family name in the override."
        )
    for name, value in overrides.items():
        if not 0.0 <= float(value) <= 1.0:
            raise VitrinaError(
                f"Threshold override {value!r} for family {name} is outside [0, 1]. "
                "Give a confidence between 0 and 1."
            )
    return {f.name: float(overrides.get(f.name, f.threshold)) for f in families}


def gate_holds(family: Family, chosen: Mapping[str, str]) -> bool:
    """Whether ``family`` applies, given the chosen label per family.

    Ungated families always apply; so does a gated one whose gating family has no chosen
    label yet (unknown is not "not applicable", so a reviewer can still fill it in).
    """
    gate = family.applies_to
    if gate is None or gate.family not in chosen:
        return True
    return chosen[gate.family] in gate.labels


def decide(
    probabilities: Mapping[str, np.ndarray],
    families: Sequence[Family],
    overrides: Mapping[str, float] | None = None,
    top_k: int = 3,
) -> list[FamilyDecision]:
    """Rank each family's labels for one photo; ``top_k <= 0`` keeps every label.

    A gated family is left out unless its gating family is kept and the gating family's
    top label is one the gate lists.
    """
    thresholds = effective_thresholds(families, overrides)
    ranked_by_family = {}
    for family in families:
        probs = np.asarray(probabilities[family.name], dtype=np.float64).reshape(-1)
        if probs.shape[0] != len(family.labels):
            raise ValueError(
                f"family {family.name}: {probs.shape[0]} probabilities for "
                f"{len(family.labels)} labels"
            )
        order = np.argsort(-probs, kind="stable")
        if top_k > 0:
            order = order[:top_k]
        ranked_by_family[family.name] = tuple(
            Suggestion(family.labels[i], float(probs[i]), rank)
            for rank, i in enumerate(order, start=1)
        )
    by_name = {f.name: f for f in families}
    tops = {name: ranked[0].label for name, ranked in ranked_by_family.items()}

    def applies(family: Family) -> bool:
        gate = family.applies_to
        return gate is None or (applies(by_name[gate.family]) and gate_holds(family, tops))

    return [
        FamilyDecision(f.name, thresholds[f.name], ranked_by_family[f.name])
        for f in families
        if applies(f)
    ]


def confident_share(confidences: np.ndarray, threshold: float) -> float:
    """Share of photos whose top confidence reaches ``threshold`` (the coverage it gives)."""
    values = np.asarray(confidences, dtype=np.float64).reshape(-1)
    if values.size == 0:
        return 0.0
    return float(np.count_nonzero(is_confident(values, threshold)) / values.size)
