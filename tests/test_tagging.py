"""decide(): ranked suggestions, confident vs uncertain, per-family overrides."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.bundle import Family, Gate
from app.core.errors import VitrinaError
from app.core.tagging import confident_share, decide, effective_thresholds, gate_holds

FAMILIES = (
    Family("category", "probs_category", ("t-shirt", "pants", "shoes", "dress"), 0.6),
    Family("colour", "probs_colour", ("red", "green", "blue"), 0.8),
)
PROBS = {
    "category": np.array([0.1, 0.7, 0.15, 0.05], dtype=np.float32),
    "colour": np.array([0.5, 0.2, 0.3], dtype=np.float32),
}


def test_ranked_top_k_and_confidence() -> None:
    category, colour = decide(PROBS, FAMILIES)
    assert [s.label for s in category.ranked] == ["pants", "shoes", "t-shirt"]
    assert [s.rank for s in category.ranked] == [1, 2, 3]
    assert category.top.confidence == pytest.approx(0.7)
    assert category.threshold == 0.6
    assert category.confident
    assert colour.top.label == "red"
    assert not colour.confident  # uncertain, but kept as a suggestion
    assert len(colour.ranked) == 3


def test_top_k_zero_keeps_all_and_one_keeps_top() -> None:
    assert len(decide(PROBS, FAMILIES, top_k=0)[0].ranked) == 4
    assert [s.label for s in decide(PROBS, FAMILIES, top_k=1)[1].ranked] == ["red"]


def test_threshold_reached_exactly_is_confident() -> None:
    (decision,) = decide({"colour": np.array([0.8, 0.1, 0.1])}, FAMILIES[1:])
    assert decision.confident


def test_overrides_change_only_their_family() -> None:
    category, colour = decide(PROBS, FAMILIES, overrides={"colour": 0.45})
    assert colour.threshold == 0.45 and colour.confident
    assert category.threshold == 0.6
    category, _ = decide(PROBS, FAMILIES, overrides={"category": 0.9})
    assert not category.confident


def test_ties_keep_label_order() -> None:
    (decision,) = decide({"colour": np.array([0.2, 0.4, 0.4])}, FAMILIES[1:])
    assert [s.label for s in decision.ranked] == ["green", "blue", "red"]


def test_bad_overrides_are_user_errors() -> None:
    with pytest.raises(VitrinaError, match="unknown family sleeve"):
        effective_thresholds(FAMILIES, {"sleeve": 0.5})
    with pytest.raises(VitrinaError, match="outside"):
        decide(PROBS, FAMILIES, overrides={"colour": 1.5})


def test_wrong_probability_count() -> None:
    with pytest.raises(ValueError, match="2 probabilities for 3 labels"):
        decide({"colour": np.array([0.5, 0.5])}, FAMILIES[1:])


def test_confident_share() -> None:
    values = np.array([0.9, 0.5, 0.61, 0.6, 0.1])
    assert confident_share(values, 0.6) == pytest.approx(0.6)
    assert confident_share(values, 0.0) == 1.0
    assert confident_share(np.array([]), 0.5) == 0.0


GATED = (
    *FAMILIES,
    Family(
        "sleeve",
        "probs_sleeve",
        ("short", "long"),
        0.5,
        applies_to=Gate("category", frozenset({"t-shirt", "dress"})),
    ),
    Family(
        "neckline",
        "probs_neckline",
        ("round", "v"),
        0.5,
        applies_to=Gate("sleeve", frozenset({"short", "long"})),
    ),
)
GATED_PROBS = {
    **PROBS,
    "sleeve": np.array([0.2, 0.8], dtype=np.float32),
    "neckline": np.array([0.6, 0.4], dtype=np.float32),
}


def test_gated_family_is_left_out_when_its_gate_fails() -> None:
    # category's top is "pants": no sleeve, and so no neckline (gated by sleeve) either
    assert [d.family for d in decide(GATED_PROBS, GATED)] == ["category", "colour"]


def test_gated_family_is_kept_when_its_gate_holds() -> None:
    probs = {**GATED_PROBS, "category": np.array([0.1, 0.2, 0.0, 0.7], dtype=np.float32)}
    decisions = decide(probs, GATED)
    assert [d.family for d in decisions] == ["category", "colour", "sleeve", "neckline"]
    assert decisions[2].top.label == "long"


def test_gate_reads_the_top_label_even_when_uncertain() -> None:
    probs = {**GATED_PROBS, "category": np.array([0.4, 0.3, 0.2, 0.1], dtype=np.float32)}
    category, *_, sleeve, _neckline = decide(probs, GATED)
    assert not category.confident and sleeve.family == "sleeve"


def test_gate_holds_on_a_chosen_label_and_when_unknown() -> None:
    sleeve = GATED[2]
    assert gate_holds(sleeve, {"category": "dress"})
    assert not gate_holds(sleeve, {"category": "shoes"})
    assert gate_holds(sleeve, {})  # unknown category: a reviewer may still fill it in
    assert gate_holds(FAMILIES[0], {})
