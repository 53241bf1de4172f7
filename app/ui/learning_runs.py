"""Runs app.core.adaptation's learning and forgetting in the background.

The UI thread never fits, reads stored features or reads the learned corrections: a run
hands back the families suggestions are decided with from now on, and what to tell the
user, as plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.ui.workers import JobControl, SingleJob, throttled

if TYPE_CHECKING:
    from app.core.adaptation import LearnReport
    from app.core.bundle import Family
    from app.core.context import AppContext

SHOWN_LABELS = 6  # labels with too few examples named in the result, most examples first


@dataclass(frozen=True)
class LearningOutcome:
    """What a run left: the families suggestions are now decided with, a headline for
    the status bar, and per family what was learned and why (``(line, detail)``)."""

    families: tuple[Family, ...]
    headline: str
    lines: tuple[tuple[str, str], ...] = ()
    cancelled: bool = False


def report_lines(report: LearnReport) -> tuple[tuple[str, str], ...]:
    """Per family: the figures (adaptation.describe) and, beside them, why nothing was
    applied, which new labels are suggested and which need more examples."""
    from app.core.adaptation import describe
    from app.core.learning import MIN_NEW_LABEL

    lines = []
    for correction in report.corrections.values():
        notes = [] if correction.applied else [correction.message]
        if correction.new_labels:
            notes.append(f"new label(s) now suggested: {', '.join(correction.new_labels)}")
        if correction.ignored:
            closest = sorted(correction.ignored.items(), key=lambda item: (-item[1], item[0]))
            shown = ", ".join(f"{label} {count}" for label, count in closest[:SHOWN_LABELS])
            more = f", … ({len(closest)} in all)" if len(closest) > SHOWN_LABELS else ""
            notes.append(f"too few examples yet ({MIN_NEW_LABEL} needed): {shown}{more}")
        lines.append((describe(correction), "; ".join(notes)))
    if report.without_features:
        lines.append(
            (
                f"{report.without_features:,} reviewed photo(s) taught nothing",
                "another bundle tagged them; File → Re-tag with this bundle, then learn again",
            )
        )
    return tuple(lines)


def learn_headline(report: LearnReport) -> str:
    """One line for the status bar: what changed, or why nothing did."""
    from app.core.learning import MIN_REVIEWS

    changed = [
        name for name, c in report.corrections.items() if c.applied or c.threshold is not None
    ]
    if report.cancelled:
        return (
            f"Learning stopped while refreshing suggestions: what was learned is kept, and "
            f"{report.refreshed:,} photo(s) show it; learn again to refresh the others."
        )
    if not changed:
        return (
            f"Nothing learned yet: a family needs {MIN_REVIEWS} reviews of two labels or more "
            "on photos this bundle tagged. The bundle's suggestions stay."
        )
    return (
        f"Learned from this catalog's reviews ({', '.join(changed)}); the suggestions of "
        f"{report.refreshed:,} photo(s) are refreshed."
    )


def learn(ctx: AppContext, control: JobControl) -> LearningOutcome:
    """The job of Tools → Learn from reviews (a worker thread)."""
    from app.core.adaptation import learn_from_reviews

    report = learn_from_reviews(ctx, throttled(control), lambda: control.cancelled)
    if report.cancelled and not report.corrections:
        return LearningOutcome(
            ctx.families, "Learning cancelled: nothing was changed.", cancelled=True
        )
    return LearningOutcome(
        ctx.families, learn_headline(report), report_lines(report), report.cancelled
    )


def forget(ctx: AppContext, control: JobControl) -> LearningOutcome:
    """The job of Tools → Forget what was learned (a worker thread)."""
    from app.core.adaptation import forget as forget_learned

    control.report((0, 0))
    dropped = forget_learned(ctx, None, lambda: control.cancelled)
    if control.cancelled:
        headline = (
            "Forgotten, but stopped before every photo had the bundle's suggestions back: "
            "Forget again to finish."
        )
    elif dropped:
        headline = (
            f"Forgot what the catalog learned ({dropped} correction(s)): the bundle's "
            "suggestions and thresholds are back."
        )
    else:
        headline = "Nothing was learned for this bundle: the suggestions are the bundle's."
    return LearningOutcome(ctx.families, headline, cancelled=control.cancelled)


class LearningRuns(SingleJob):
    """One learning or forgetting run at a time: ``progressed(done, total)`` while it
    fits (``total`` 0: busy, e.g. refreshing suggestions), ``finished(outcome)`` at the end."""

    def start_learn(self, ctx: AppContext) -> bool:
        """Learn in the background; False while a run is going on."""
        return self._start(lambda control: learn(ctx, control), "learn from reviews")

    def start_forget(self, ctx: AppContext) -> bool:
        """Forget in the background; False while a run is going on."""
        return self._start(lambda control: forget(ctx, control), "forget what was learned")
