"""The Tools menu's learning: learn from the catalog's reviews, forget what was learned,
and the status bar's offer to learn once OFFER_AFTER new decisions piled up.

Runs go through :class:`LearningRuns` (background); this module asks, shows progress
and the result, and hands the window the families suggestions are decided with now.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QMessageBox

from app.ui.learning_offer import LearningOffer
from app.ui.learning_runs import LearningOutcome, LearningRuns
from app.ui.questions import confirm_destructive
from app.ui.window_state import WindowHelper

if TYPE_CHECKING:
    from app.ui.import_progress import ImportProgress
    from app.ui.window_state import WindowHost, WindowState

# Tag decisions (accept, set, reject, and their undos) since the last learning before the
# status bar offers to learn again: about an hour of keyboard review, and enough for a
# family below the 30 reviews learning needs to reach them.
OFFER_AFTER = 200
CHECK_AFTER_MS = 3000  # quiet time after the last edit before the (one COUNT) check


def outcome_html(outcome: LearningOutcome) -> str:
    """The result dialog's text: the headline, then a line per family."""
    items = "".join(
        f"<li>{html.escape(line)}"
        + (f"<br><span style='color:#555'>{html.escape(detail)}</span>" if detail else "")
        + "</li>"
        for line, detail in outcome.lines
    )
    return f"<p>{html.escape(outcome.headline)}</p>" + (f"<ul>{items}</ul>" if items else "")


class LearningActions(WindowHelper):
    """``finished(outcome)`` once a run's families are in use in the window;
    ``running_changed`` when a run starts or ends (the job actions follow)."""

    finished = Signal(object)
    running_changed = Signal()

    def __init__(
        self,
        state: WindowState,
        host: WindowHost,
        progress: ImportProgress,
        job_running: Callable[[], bool],
    ) -> None:
        super().__init__(state, host)
        self.progress, self.job_running = progress, job_running
        self.runs = LearningRuns(self)
        self.offer = LearningOffer()
        self.result_box: QMessageBox | None = None
        self.confirm = self._confirm  # tests answer in its place
        # Decisions after ``since`` are new (None: every decision); the offer comes back
        # after "Later" once another OFFER_AFTER have been made.
        self.since: datetime | None = None
        self._later = 0
        self._count = 0  # what the offer last counted
        self._checking = False
        self._check_soon = QTimer(self)
        self._check_soon.setSingleShot(True)
        self._check_soon.setInterval(CHECK_AFTER_MS)
        self._check_soon.timeout.connect(self.check_offer)
        self.runs.progressed.connect(self._progressed)
        self.runs.finished.connect(self._finished)
        self.runs.failed.connect(self._failed)
        self.offer.learn_requested.connect(self.learn)
        self.offer.later_requested.connect(self._later_requested)

    @property
    def running(self) -> bool:
        return self.runs.running

    # --- runs ------------------------------------------------------------------------
    def _can_run(self, doing: str) -> bool:
        w = self.window
        if not self.state.has_bundle:
            w.show_problem(
                f"{doing} needs an open catalog and a model bundle "
                "(File → Open catalog…, File → Choose bundle…)."
            )
            return False
        if self.job_running():
            w.statusBar().showMessage(
                f"An import, re-tag or learning is running; {doing.lower()} when it ends.", 5000
            )
            return False
        return True

    def learn(self) -> bool:
        """Tools → Learn from reviews…: fit, re-set thresholds and refresh suggestions in
        the background; False (with a message) when it cannot start now."""
        ctx, info = self.state.ctx, self.state.bundle_info
        if not self._can_run("Learning from reviews") or ctx is None:
            return False
        if info is not None and not info.learns:
            self.window.show_problem(
                f"The bundle {info.label} has no features output, so this catalog "
                "cannot learn from its reviews with it; bundles exported by vitrina-train "
                "have one."
            )
            return False
        started = datetime.now(UTC)
        self.runs.start_learn(ctx)
        self.since, self._later = started, 0  # what is decided from now on is new
        self.offer.hide()
        self._started("Learning from reviews", "Reading the reviews…")
        return True

    def forget(self) -> bool:
        """Tools → Forget what was learned…: asks, then restores the bundle's suggestions
        and thresholds in the background."""
        ctx = self.state.ctx
        if not self._can_run("Forgetting what was learned") or ctx is None:
            return False
        if not self.confirm(
            "Forget what this catalog learned from its reviews?\n\nSuggestions and thresholds "
            "go back to the bundle's, for everyone using this catalog. Tags stay as they "
            "are, and Tools → Learn from reviews… learns again from them."
        ):
            return False
        self.runs.start_forget(ctx)
        self.since, self._later = datetime.now(UTC), 0
        self.offer.hide()
        self._started("Forgetting what was learned", "Restoring the bundle's suggestions…")
        return True

    def cancel(self) -> None:
        self.runs.cancel()

    def _started(self, doing: str, first: str) -> None:
        self.progress.reset_visibility()
        self.progress.start(doing, first)
        self.running_changed.emit()

    def _progressed(self, done: int, total: int) -> None:
        progress = self.progress
        if total and done < total:
            progress.show_steps(f"Learning from reviews… {done / total:.0%}", done, total)
        else:
            progress.show_steps("Refreshing the suggestions…", 0, 0)

    def _finished(self, outcome: LearningOutcome) -> None:
        self.progress.finish(outcome.headline)
        self.running_changed.emit()
        self.state.set_families(outcome.families)
        if outcome.lines:
            self._show_result(outcome)
        self.finished.emit(outcome)

    def _failed(self, message: str) -> None:
        self.progress.finish("Learning stopped.")
        self.running_changed.emit()
        self.window.show_problem(message)

    def _show_result(self, outcome: LearningOutcome) -> None:
        """Window-modal but not blocking: Enter closes it and the keys go back to the grid."""
        text = outcome_html(outcome)
        overridden = [f.name for f in outcome.families if f.name in self.state.thresholds]
        if overridden:
            text += (
                f"<p>Your own threshold for {', '.join(overridden)} still applies; "
                "<i>Reset to calibrated</i> in the threshold panel uses the learned one.</p>"
            )
        box = QMessageBox(
            QMessageBox.Icon.Information, "Learned from reviews", text, parent=self.window
        )
        box.setStyleSheet("QLabel { min-width: 560px; }")  # a line per family, not a column
        box.finished.connect(lambda _: self.window.focus_grid())
        box.open()
        self.result_box = box

    def _confirm(self, question: str) -> bool:
        forget = confirm_destructive(
            self.window, "Forget what was learned", question, "Forget", QMessageBox.Icon.Question
        )
        self.window.focus_grid()
        return forget

    # --- the offer -------------------------------------------------------------------
    def catalog_opened(self, learned_at: datetime | None) -> None:
        """A catalog opened: decisions after its last learning are new."""
        self.since, self._later = learned_at, 0
        self.offer.hide()
        self.check_offer()

    def edits_made(self) -> None:
        """Tags changed: count the new decisions once the user pauses."""
        self._check_soon.start()

    def check_offer(self) -> None:
        """Count the decisions since the last learning in the background (one indexed
        COUNT); nothing while a job over the whole catalog runs."""
        ctx, info = self.state.ctx, self.state.bundle_info
        if ctx is None or info is None or not info.learns or self._checking or self.job_running():
            return
        self._checking = True
        catalog, since = ctx.catalog, self.since
        self.window.jobs.start(
            lambda _: catalog.review_count_since(since),
            name="count new reviews",
            on_result=lambda count: self._counted(count, since),
            on_finished=self._checked,
        )

    def _checked(self) -> None:
        self._checking = False

    def _counted(self, count: int, since: datetime | None) -> None:
        if since is not self.since or self.runs.running:  # learned meanwhile: stale count
            return
        self._count = count
        if count >= self._later + OFFER_AFTER:
            self.offer.show_count(count)
        else:
            self.offer.hide()

    def _later_requested(self) -> None:
        """The next offer waits for OFFER_AFTER more decisions."""
        self._later = self._count
        self.window.focus_grid()
