"""What the review panel shows of one photo, read from the catalog in the background.

Stored predictions are turned into ``tagging.FamilyDecision`` with the user's
threshold overrides, so "confident" is decided by app.core.tagging, not by a widget.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from app.core.catalog.states import TagStatus

if TYPE_CHECKING:
    from app.core.bundle import Family
    from app.core.catalog.rows import PhotoRow, PredictionRow, TagRow
    from app.core.tagging import FamilyDecision


@dataclass(frozen=True)
class FamilyReview:
    """One family of one photo: the model's decision and the human tag in its slot."""

    family: str
    labels: tuple[str, ...]
    decision: FamilyDecision | None
    tag: TagRow | None
    empty_version: int | None = None

    @property
    def seen_version(self) -> int | None:
        """The slot version this view shows; edits pass it so a newer change is not lost."""
        return self.tag.version if self.tag is not None else self.empty_version

    @property
    def accepted(self) -> str | None:
        return self.tag.value if self.tag and self.tag.status == TagStatus.ACCEPTED else None

    @property
    def rejected(self) -> str | None:
        return self.tag.value if self.tag and self.tag.status == TagStatus.REJECTED else None

    @property
    def current_label(self) -> str | None:
        """The label Change (C) starts on: the accepted one, else the best suggestion not
        rejected (Enter then keeps what the photo shows, not the family's first label)."""
        if self.accepted:
            return self.accepted
        ranked = self.decision.ranked if self.decision is not None else ()
        return next((s.label for s in ranked if s.label != self.rejected), None)

    @property
    def pending_confident(self) -> bool:
        """Confident and not yet decided by a human: what "accept confident" accepts."""
        return self.tag is None and self.decision is not None and self.decision.confident


@dataclass(frozen=True)
class PhotoReview:
    photo: PhotoRow
    families: tuple[FamilyReview, ...]
    free_tags: tuple[TagRow, ...]

    def with_versions(self, versions: Mapping[str, int]) -> PhotoReview:
        """The same review knowing the versions of its empty slots."""
        families = tuple(
            replace(f, empty_version=versions.get(f.family)) if f.tag is None else f
            for f in self.families
        )
        return replace(self, families=families)

    def family(self, name: str) -> FamilyReview | None:
        return next((f for f in self.families if f.family == name), None)

    @property
    def uncertain(self) -> bool:
        return any(
            f.tag is None and f.decision is not None and not f.decision.confident
            for f in self.families
        )


def decisions_from_predictions(
    predictions: Sequence[PredictionRow], overrides: Mapping[str, float]
) -> dict[str, FamilyDecision]:
    """Group stored predictions by family, ranked, with the user's thresholds applied."""
    from app.core.tagging import FamilyDecision, Suggestion

    by_family: dict[str, list[PredictionRow]] = {}
    for row in predictions:
        by_family.setdefault(row.family, []).append(row)
    decisions = {}
    for family, rows in by_family.items():
        rows.sort(key=lambda r: r.rank)
        threshold = float(overrides.get(family, rows[0].threshold))
        ranked = tuple(Suggestion(r.label, r.confidence, r.rank) for r in rows)
        decisions[family] = FamilyDecision(family, threshold, ranked)
    return decisions


def build_review(
    photo: PhotoRow,
    predictions: Sequence[PredictionRow],
    tags: Sequence[TagRow],
    families: Sequence[Family],
    overrides: Mapping[str, float],
) -> PhotoReview:
    """Families in bundle order, then any family only the stored predictions or tags know.

    A bundle family with nothing stored whose ``applies_to`` gate fails for this photo's
    accepted (else suggested) label is left out: shoes get no sleeve row.
    """
    from app.core.tagging import gate_holds

    decisions = decisions_from_predictions(predictions, overrides)
    slots = {t.family: t for t in tags if t.family is not None}
    chosen = {name: d.top.label for name, d in decisions.items()}
    chosen.update({name: t.value for name, t in slots.items() if t.status == TagStatus.ACCEPTED})
    family_labels = {
        f.name: f.labels
        for f in families
        if f.name in decisions or f.name in slots or gate_holds(f, chosen)
    }
    names = list(family_labels)
    names += [f for f in decisions if f not in names]
    names += [f for f in slots if f not in names]
    rows = []
    for name in names:
        decision = decisions.get(name)
        labels = tuple(family_labels.get(name, ()))
        if not labels and decision is not None:
            labels = tuple(s.label for s in decision.ranked)
        rows.append(FamilyReview(name, labels, decision, slots.get(name)))
    free = tuple(t for t in tags if t.family is None and t.status == TagStatus.ACCEPTED)
    return PhotoReview(photo, tuple(rows), free)
