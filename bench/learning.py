"""Learning from a shop's reviews, as a user lives it: a new shop's photos are imported with
a bundle that never trained on their source, the first 5 %, 10 % and 20 % of the shoot are
reviewed (their labels applied with `import-tags`' core, in the shop's own names), the
catalog learns (`vitrina learn`'s core), and the suggestions of the rest are scored against
their labels: top-1, precision and coverage of the confident ones, per family, beside the
bundle alone on the same photos. Also the time learning takes.

The photos are labelled data in any `vitrina-train` format (`--data`); reviews follow the
shoot's order (sorted by file name), as staff would meet them. A label that the bundle
lacks is kept as the shop's own (e.g. the catalog's raw colour names, `--raw-colours`).

    vitrina-train fit --data ../shared/datasets/clothing ../shared/datasets/catalog \\
        --extra-train .cache/backdrops .cache/synth --out .cache/bundles/without-dresses
    python -m bench.learning --bundle .cache/bundles/without-dresses \\
        --data ../shared/datasets/dresses
"""

from __future__ import annotations

import argparse
import csv
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from app.core.adaptation import learn_from_reviews
from app.core.context import AppContext
from app.core.importer import import_paths
from app.core.tag_import import TagRecord, apply_tag_records
from app.core.tag_input import family_label
from bench.common import report

FRACTIONS = (0.05, 0.10, 0.20)


def labelled_photos(data: Sequence[Path], raw_colours: Path | None) -> dict[Path, dict[str, str]]:
    """Photo -> family labels, from any training data format (the shop's own names)."""
    from training.datasets import load_data

    photos = {p.path.resolve(): dict(p.labels) for p in load_data(data)}
    if raw_colours is not None:  # the catalog's own colour names, unmerged and unchecked
        with (raw_colours / "labels.csv").open(newline="", encoding="utf-8") as handle:
            names = {
                (raw_colours / row["image"]).resolve(): row["baseColour"]
                for row in csv.DictReader(handle)
            }
        for path, labels in photos.items():
            labels.pop("colour", None)
            if names.get(path, "").strip():
                labels["colour"] = names[path]
    return photos


GOAL_PRECISION = 0.93  # what confident suggestions should hold on the rest (docs/learning.md)

Answer = tuple[str, bool, float]  # top label, whether confident, its confidence


def suggestions(ctx: AppContext) -> dict[Path, dict[str, Answer]]:
    """Photo -> family -> its top suggestion, as exported."""
    return {
        Path(row.photo.path).resolve(): {
            family: (top.label, top.confident, top.confidence) for family, top in row.top.items()
        }
        for row in ctx.catalog.export_rows()
    }


def best_coverage(confidence: np.ndarray, right: np.ndarray, precision: float) -> float:
    """The largest share of photos any threshold could keep at ``precision``, the threshold
    chosen on these very photos' labels: a ceiling no calibration on reviews can pass."""
    order = np.argsort(-confidence, kind="stable")
    hits = np.cumsum(right[order].astype(float))
    holding = np.nonzero(hits / np.arange(1, len(order) + 1) >= precision)[0]
    return float((holding[-1] + 1) / len(order)) if len(holding) else 0.0


Outcome = tuple[bool, bool, float]  # right, confident, confidence
Outcomes = dict[str, dict[Path, Outcome]]  # family -> photo -> its outcome


def outcomes(
    answers: dict[Path, dict[str, Answer]], truth: dict[Path, dict[str, str]], rest: set[Path]
) -> Outcomes:
    """Per family, the photos of ``rest`` with a suggestion and a label in ``truth`` (as the
    catalog stores it): whether the top suggestion is right, confident, and its confidence.
    A family can be gated in or out by another family's answer, so the photos differ."""
    found: Outcomes = {}
    for path in sorted(rest):
        for family, wanted in truth[path].items():
            if family in answers.get(path, {}):
                label, confident, confidence = answers[path][family]
                found.setdefault(family, {})[path] = (label == wanted, confident, confidence)
    return dict(sorted(found.items()))


def score(found: Outcomes) -> dict:
    """Per family: top-1, the precision and coverage of confident suggestions, and the
    coverage the best threshold for these photos would keep at GOAL_PRECISION."""
    result = {}
    for family, photos in found.items():
        right, kept, conf = (np.array(column) for column in zip(*photos.values(), strict=True))
        result[family] = {
            "n": len(right),
            "top1": round(float(right.mean()), 4),
            "confident_precision": round(float(right[kept].mean()), 4) if kept.any() else None,
            "confident_coverage": round(float(kept.mean()), 4),
            "best_coverage_at_goal": round(best_coverage(conf, right, GOAL_PRECISION), 4),
        }
    return result


def against(learned: Outcomes, bundle: Outcomes) -> dict:
    """Per family, on the photos both answered: those the learned suggestion gets right and
    the bundle's wrong (wins), and the other way round (losses): "never worse", paired."""
    result = {}
    for family, photos in learned.items():
        answered = bundle.get(family, {})
        pairs = [(o[0], answered[p][0]) for p, o in photos.items() if p in answered]
        result[family] = {
            "wins": sum(mine and not theirs for mine, theirs in pairs),
            "losses": sum(theirs and not mine for mine, theirs in pairs),
        }
    return result


def simulate(bundle: Path, truth: dict[Path, dict[str, str]], work: Path, fractions) -> dict:
    """Import once, then for each fraction: review it, learn, score the rest."""
    shoot = sorted(truth)
    imported = work / "imported.sqlite"
    if not imported.exists():  # kept in --work: later runs skip the import
        partial = imported.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        with AppContext.open(partial, bundle) as ctx:
            report_ = import_paths(shoot, ctx)
            if report_.failures:
                raise SystemExit(
                    f"{len(report_.failures)} photos failed to import: {report_.failures[0]}"
                )
        partial.rename(imported)
    with AppContext.open(imported, bundle) as ctx:
        alone = suggestions(ctx)  # the bundle's, scored on each fraction's rest as well
        families = {f.name: f.labels for f in ctx.families}
    stored = {  # each label as the catalog stores it (the bundle's spelling, or the shop's)
        path: {f: family_label(families, f, v)[1] for f, v in labels.items() if f in families}
        for path, labels in truth.items()
    }
    results = []
    for fraction in (0.0, *fractions):
        reviewed = shoot[: round(len(shoot) * fraction)]
        db = work / f"reviewed-{fraction:.2f}.sqlite"
        shutil.copy(imported, db)
        with AppContext.open(db, bundle) as ctx:
            records = [
                TagRecord(i + 2, str(path), "", stored[path], ()) for i, path in enumerate(reviewed)
            ]
            applied = apply_tag_records(ctx.catalog, records, "bench", families)
            started = time.perf_counter()
            learned = learn_from_reviews(ctx) if reviewed else None
            seconds = time.perf_counter() - started
            rest = set(shoot) - set(reviewed)
            learned_on_rest = outcomes(suggestions(ctx), stored, rest)
            bundle_on_rest = outcomes(alone, stored, rest)
            entry = {
                "fraction": fraction,
                "reviewed_photos": len(reviewed),
                "tags_written": applied.written,
                "learn_seconds": round(seconds, 2),
                "families": score(learned_on_rest),
                "bundle_on_rest": score(bundle_on_rest),
                "against_bundle": against(learned_on_rest, bundle_on_rest),
            }
            if learned is not None:
                entry["applied"] = {n: c.applied for n, c in learned.corrections.items()}
                entry["thresholds"] = {
                    n: c.threshold
                    for n, c in learned.corrections.items()
                    if c.threshold is not None
                }
                entry["new_labels"] = {
                    n: list(c.new_labels) for n, c in learned.corrections.items() if c.new_labels
                }
            results.append(entry)
            print(entry)
    return {"photos": len(shoot), "results": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, required=True, help="a bundle that never saw --data")
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="the new shop's photos")
    parser.add_argument(
        "--raw-colours",
        type=Path,
        help="a catalog folder whose labels.csv baseColour is the shop's own colour name",
    )
    parser.add_argument(
        "--fractions",
        type=float,
        nargs="+",
        default=FRACTIONS,
        help="shares of the shoot reviewed, one run each (default: 0.05 0.1 0.2)",
    )
    parser.add_argument("--quick", action="store_true", help="the first 1,000 photos only")
    parser.add_argument("--out", type=Path, help="write the JSON result here")
    parser.add_argument(
        "--work",
        type=Path,
        help="keep the imported catalog here and reuse it on later runs (same bundle and data)",
    )
    args = parser.parse_args()
    truth = labelled_photos(args.data, args.raw_colours)
    if args.quick:
        truth = dict(sorted(truth.items())[:1000])
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        result = simulate(args.bundle, truth, work, args.fractions)
    name = f"learning-{args.data[0].name}{'-raw' if args.raw_colours else ''}"
    report(
        name, {"bundle": str(args.bundle), "data": [str(d) for d in args.data], **result}, args.out
    )


if __name__ == "__main__":
    main()
