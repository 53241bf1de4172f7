"""`vitrina learn`: the catalog learns from its own reviews (app.core.adaptation)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from tqdm import tqdm

from app.core import adaptation

if TYPE_CHECKING:
    from app.cli import Console, Interrupt
    from app.core.context import AppContext

OK = 0
INTERRUPTED = 130


def learn(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    """Fit, re-set thresholds, refresh suggestions; or forget (``--forget``)."""
    bundle = ctx.bundle
    if bundle.features is None:
        con.print(
            f"Nothing to learn with: bundle {bundle.label} has no features output, so the "
            "catalog cannot learn from its reviews. Use a bundle trained by vitrina-train fit "
            "(the default one has it), then `vitrina reindex`."
        )
        return OK
    if args.forget:
        with _bar("refreshing") as bar:
            dropped = adaptation.forget(ctx, _follow(bar), stop)
        if stop():
            con.print("Stopped: run `vitrina learn --forget` again to finish the refresh.")
            return INTERRUPTED
        con.print(
            f"Forgot {dropped} learned correction(s) of {bundle.label}; the photos have the "
            "bundle's own suggestions and thresholds again."
            if dropped
            else f"Nothing was learned for {bundle.label}; the suggestions are the bundle's."
        )
        return OK
    with _bar("learning") as bar:
        report = adaptation.learn_from_reviews(ctx, _follow(bar), stop)
    if report.cancelled and not report.corrections:
        con.print("Stopped before anything was learned; nothing changed.")
        return INTERRUPTED
    learned = [c for c in report.corrections.values() if c.applied or c.threshold is not None]
    for correction in report.corrections.values():
        con.print(adaptation.describe(correction))
        if not correction.applied and correction.threshold is None:
            con.print(f"  {correction.message}")
        if correction.new_labels:
            con.print(f"  new labels suggested now: {', '.join(correction.new_labels)}")
        if correction.ignored:
            rare = ", ".join(f"{label} ({n})" for label, n in correction.ignored.items())
            con.print(f"  too few examples yet: {rare}")
    if report.without_features:
        con.print(
            f"{report.without_features} reviewed photo(s) were tagged by another bundle and "
            "teach nothing until `vitrina reindex` tags them again."
        )
    if report.cancelled:
        con.print(
            f"Stopped after refreshing {report.refreshed} photo(s); run `vitrina learn` "
            "again to refresh the rest."
        )
        return INTERRUPTED
    if not learned:
        con.print("Nothing learned: the bundle's suggestions and thresholds stay (see above).")
    else:
        con.print(f"Suggestions of {report.refreshed} photo(s) refreshed; human tags untouched.")
    return OK


def learn_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--forget",
        action="store_true",
        help="drop what the catalog learned for this bundle and restore its suggestions",
    )


def _bar(what: str) -> tqdm:
    return tqdm(desc=what, total=0, file=sys.stderr, disable=None, dynamic_ncols=True)


def _follow(bar: tqdm):
    """A progress(done, total) callback driving ``bar`` (its total changes between the
    fits and the refresh)."""

    def progress(done: int, total: int) -> None:
        if bar.total != total:
            bar.reset(total=total)
        bar.update(done - bar.n)

    return progress
