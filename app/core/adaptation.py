"""The catalog's learned corrections in use, and the runs that change them.

THE place a photo's suggestions are decided once a catalog has learned from its reviews:
the bundle's probabilities, corrected per family where a correction is applied, ranked by
``tagging.decide`` against the threshold this catalog's reviews set. Import, re-tag,
learning and forgetting all go through :class:`Adaptation`, so a suggestion always says
whether it came from the bundle alone or from the catalog's correction.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from app.core import learning
from app.core.bundle import Bundle, BundleSet, Family
from app.core.tagging import FamilyDecision, decide

if TYPE_CHECKING:
    from app.core.catalog import Catalog
    from app.core.context import AppContext

Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]

SET_ON_REVIEWS = "this catalog's reviews"


def family_slices(families: Sequence[Family]) -> dict[str, slice]:
    """Where each family's probabilities sit in a photo's stored, concatenated ones."""
    slices, start = {}, 0
    for family in families:
        slices[family.name] = slice(start, start + len(family.labels))
        start += len(family.labels)
    return slices


def pack_probabilities(families: Sequence[Family], probabilities: Mapping) -> np.ndarray:
    """One photo's probabilities of every family, concatenated in the bundle's order."""
    return np.concatenate([np.asarray(probabilities[f.name]).reshape(-1) for f in families])


class Adaptation:
    """The current bundle's families as this catalog sees them, and its corrections."""

    def __init__(
        self, families: Sequence[Family], corrections: Mapping[str, tuple[int, learning.Correction]]
    ) -> None:
        self.bundle_families = tuple(families)
        self.corrections = dict(corrections)  # family -> (stored id, correction)
        self.families = tuple(self._family(f) for f in self.bundle_families)
        self._slices = family_slices(self.bundle_families)

    @classmethod
    def load(cls, catalog: Catalog, bundle: Bundle | BundleSet) -> Adaptation:
        """The corrections in use for ``bundle`` (those of another bundle are set aside)."""
        known = {f.name for f in bundle.families}
        stored = {
            c.family: (c.id, learning.Correction.stored(c.family, c.summary, c.weights))
            for c in catalog.corrections(bundle.key)
            if c.family in known
        }
        return cls(bundle.families, stored)

    def _family(self, family: Family) -> Family:
        found = self.corrections.get(family.name)
        if found is None:
            return family
        correction = found[1]
        labels = correction.labels if correction.applied else family.labels
        if correction.threshold is None:
            return dataclasses.replace(family, labels=labels)
        calibration = {
            "set_on": SET_ON_REVIEWS,
            "target_precision": family.calibration.get("target_precision", 0.95),
            "precision": correction.precision,
            "precision_low": correction.precision_low,
            "coverage": correction.coverage,
            "reviews": correction.reviews,
            "bundle": family.calibration,
            "bundle_threshold": family.threshold,
        }
        return dataclasses.replace(
            family, labels=labels, threshold=correction.threshold, calibration=calibration
        )

    def adapted(self, family: str, features: np.ndarray | None, probs: np.ndarray) -> np.ndarray:
        """One family's probabilities (N, K) over its labels as this catalog sees them."""
        found = self.corrections.get(family)
        if found is None:
            return probs
        correction = found[1]
        if features is None or not correction.applied:
            return learning.extended(probs, len(self.family(family).labels))
        return correction.adapt(np.atleast_2d(features), np.atleast_2d(probs))

    def family(self, name: str) -> Family:
        return next(f for f in self.families if f.name == name)

    def adapt(
        self, probabilities: Mapping[str, np.ndarray], features: np.ndarray | None
    ) -> dict[str, np.ndarray]:
        """Every family's probabilities (N, K) for N photos, as this catalog sees them."""
        return {
            name: self.adapted(name, features, np.atleast_2d(values))
            for name, values in probabilities.items()
        }

    def decide(
        self,
        probabilities: Mapping[str, np.ndarray],
        features: np.ndarray | None,
        overrides: Mapping[str, float] | None = None,
    ) -> list[FamilyDecision]:
        """One photo's ranked suggestions per family, each marked with its correction."""
        adapted = self.adapt(
            {name: np.asarray(values)[None, :] for name, values in probabilities.items()},
            None if features is None else np.asarray(features)[None, :],
        )
        return self.ranked({name: values[0] for name, values in adapted.items()}, overrides)

    def ranked(
        self, adapted: Mapping[str, np.ndarray], overrides: Mapping[str, float] | None = None
    ) -> list[FamilyDecision]:
        """One photo's ranked suggestions from its adapted probabilities (:meth:`adapt`)."""
        return [self._marked(d) for d in decide(adapted, self.families, overrides)]

    def _marked(self, decision: FamilyDecision) -> FamilyDecision:
        found = self.corrections.get(decision.family)
        if found is None or not found[1].applied:
            return decision
        return dataclasses.replace(decision, correction_id=found[0])

    def unpack(self, packed: np.ndarray) -> dict[str, np.ndarray]:
        """Stored probabilities (N, sum K) back into family -> (N, K)."""
        return {name: packed[:, part] for name, part in self._slices.items()}


# --- runs --------------------------------------------------------------------------------


@dataclass
class LearnReport:
    """What ``learn_from_reviews`` did, family by family."""

    corrections: dict[str, learning.Correction]  # empty when cancelled before storing
    without_features: int  # reviewed photos the bundle stored no features for
    refreshed: int = 0  # photos whose suggestions were redone
    cancelled: bool = False


class Cancelled(Exception):
    """Raised by a step when the run was asked to stop: nothing learned is stored."""


def learn_from_reviews(
    ctx: AppContext, progress: Progress | None = None, cancel: Cancel | None = None
) -> LearnReport:
    """Learn every family's correction from the catalog's reviews, keep it in the catalog
    and refresh the suggestions of its photos (tags are never touched). ``progress(done,
    total)`` counts the fits, then the photos refreshed; ``cancel()`` is asked between fits
    (nothing is stored then) and between chunks of the refresh (what was learned stays)."""
    bundle, catalog = ctx.bundle, ctx.catalog
    reviews = [catalog.reviews(bundle.key, family.name) for family in bundle.families]
    slices = family_slices(bundle.families)
    steps = learning.FITS_PER_FAMILY * len(bundle.families)
    done = 0

    def step() -> None:
        nonlocal done
        if cancel is not None and cancel():
            raise Cancelled
        done += 1
        if progress is not None:
            progress(done, steps)

    corrections: dict[str, learning.Correction] = {}
    try:
        for family, found in zip(bundle.families, reviews, strict=True):
            part = slices[family.name]
            probs = found.probabilities[:, part] if len(found.ids) else found.features
            corrections[family.name] = learning.learn_family(
                learning.FamilyReviews(
                    family.name,
                    family.labels,
                    found.features,
                    probs,
                    found.accepted,
                    found.rejected,
                    family.calibration.get("target_precision", 0.95),
                    family.threshold,
                ),
                step,
            )
    except Cancelled:
        return LearnReport({}, 0, cancelled=True)  # nothing stored
    learned = [
        (name, c.summary(), c.packed_weights())
        for name, c in corrections.items()
        if c.applied or c.threshold is not None
    ]
    catalog.save_corrections(bundle.key, learned)
    ctx.reload_adaptation()
    report = LearnReport(corrections, catalog.reviewed_without_features(bundle.key))
    report.refreshed, report.cancelled = refresh_suggestions(ctx, progress, cancel)
    return report


def forget(ctx: AppContext, progress: Progress | None = None, cancel: Cancel | None = None) -> int:
    """Drop what the catalog learned for the current bundle and give its photos the
    bundle's own suggestions back; how many corrections there were."""
    dropped = ctx.catalog.forget_corrections(ctx.bundle.key)
    ctx.reload_adaptation()
    refresh_suggestions(ctx, progress, cancel)
    return dropped


def refresh_suggestions(
    ctx: AppContext, progress: Progress | None = None, cancel: Cancel | None = None
) -> tuple[int, bool]:
    """Redo the suggestions of every photo with stored features from them (no photo is
    decoded), a chunk per transaction, and give every prediction of the bundle its family's
    threshold now; (photos redone, cancelled). A user's threshold setting is applied when
    shown, not stored."""
    bundle, catalog, adaptation = ctx.bundle, ctx.catalog, ctx.adaptation
    catalog.set_thresholds(bundle.label, {f.name: f.threshold for f in adaptation.families})
    total = catalog.count_with_features(bundle.key)
    done = 0
    for chunk in catalog.feature_chunks(bundle.key):
        if cancel is not None and cancel():
            return done, True
        adapted = adaptation.adapt(adaptation.unpack(chunk.probabilities), chunk.features)
        decisions = {
            int(photo_id): adaptation.ranked({name: p[row] for name, p in adapted.items()})
            for row, photo_id in enumerate(chunk.ids)
        }
        catalog.replace_suggestions(bundle.label, decisions)
        done += len(chunk.ids)
        if progress is not None:
            progress(done, total)
    return done, False


def describe(correction: learning.Correction) -> str:
    """One line per family for `vitrina learn` and the window."""
    change = ""
    if correction.top1_bundle is not None and correction.top1_learned is not None:
        delta = correction.top1_learned - correction.top1_bundle
        change = f"top-1 {correction.top1_bundle:.2f} -> {correction.top1_learned:.2f}"
        change += f" ({delta:+.2f}); "
    threshold = "threshold: the bundle's"
    if correction.threshold is not None and correction.precision is not None:
        low = correction.precision_low or math.nan
        threshold = (
            f"threshold {correction.threshold:.2f}: precision {correction.precision:.2f} "
            f"(at least {low:.2f}) on {correction.coverage or 0:.0%} of reviewed photos"
        )
    elif correction.threshold is not None:
        threshold = "no threshold reaches the target: nothing marked confident"
    used = "applied" if correction.applied else "not applied"
    return f"{correction.family}: {correction.reviews} reviews, {used}; {change}{threshold}"
