"""What the review panel lists for a photo: gated families (applies_to) stay off shoes."""

from __future__ import annotations

from datetime import UTC, datetime

from app.core.bundle import Family, Gate
from app.core.catalog.rows import PhotoRow, PredictionRow, TagRow
from app.ui.review_data import build_review

NOW = datetime(2026, 1, 1, tzinfo=UTC)
PHOTO = PhotoRow(1, "/p.jpg", "0" * 64, 10, 100, 100, NOW, "new", "tiny@1")
FAMILIES = (
    Family("category", "probs_category", ("shirt", "shoes"), 0.5),
    Family(
        "sleeve",
        "probs_sleeve",
        ("short", "long"),
        0.5,
        applies_to=Gate("category", frozenset({"shirt"})),
    ),
)


def prediction(family: str, label: str) -> PredictionRow:
    return PredictionRow(1, "tiny@1", family, label, 0.9, 1, 0.5)


def category_tag(value: str) -> TagRow:
    return TagRow(1, 1, "category", value, "human", "accepted", None, NOW, "me", 1)


def rows(predictions, tags=()) -> list[str]:
    return [f.family for f in build_review(PHOTO, predictions, tags, FAMILIES, {}).families]


def test_shoes_get_no_sleeve_row() -> None:
    assert rows([prediction("category", "shoes")]) == ["category"]


def test_a_shirt_shows_its_sleeve() -> None:
    shirt = [prediction("category", "shirt"), prediction("sleeve", "long")]
    assert rows(shirt) == ["category", "sleeve"]


def test_gate_follows_the_accepted_label_over_the_suggestion() -> None:
    # the model said shoes (so no sleeve suggestion), a human corrected it to shirt
    assert rows([prediction("category", "shoes")], [category_tag("shirt")]) == [
        "category",
        "sleeve",
    ]


def test_untagged_photo_keeps_every_row_for_manual_tagging() -> None:
    assert rows([]) == ["category", "sleeve"]
