"""Learning from a shop's reviews, as a user lives it: a new shop's photos are imported with
a bundle that never trained on their source, the first 5 %, 10 % and 20 % of the shoot are
reviewed (their labels applied with `import-tags`' core, in the shop's own names), the
catalog learns (`vitrina learn`'s core), and the suggestions of the rest are scored against
their labels: top-1, precision and coverage of the confident ones, per family, with the
bundle alone as the baseline. Also the time learning takes.

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

from app.core.adaptation import learn_from_reviews
from app.core.context import AppContext
from app.core.importer import import_paths
from app.core.tag_import import TagRecord, apply_tag_records
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


def score(ctx: AppContext, truth: dict[Path, dict[str, str]], rest: set[Path]) -> dict:
    """Per family: top-1 and the precision and coverage of confident suggestions on ``rest``."""
    tally: dict[str, list[int]] = {}
    for row in ctx.catalog.export_rows():
        path = Path(row.photo.path).resolve()
        if path not in rest:
            continue
        for family, wanted in truth[path].items():
            top = row.top.get(family)
            if top is None:
                continue
            right = top.label == " ".join(wanted.split()).lower()
            n, hits, kept, kept_hits = tally.setdefault(family, [0, 0, 0, 0])
            tally[family] = [
                n + 1,
                hits + right,
                kept + top.confident,
                kept_hits + (right and top.confident),
            ]
    return {
        family: {
            "n": n,
            "top1": round(hits / n, 4),
            "confident_precision": round(kept_hits / kept, 4) if kept else None,
            "confident_coverage": round(kept / n, 4),
        }
        for family, (n, hits, kept, kept_hits) in sorted(tally.items())
    }


def simulate(bundle: Path, truth: dict[Path, dict[str, str]], work: Path, fractions) -> dict:
    """Import once, then for each fraction: review it, learn, score the rest."""
    shoot = sorted(truth)
    imported = work / "imported.sqlite"
    with AppContext.open(imported, bundle) as ctx:
        report_ = import_paths(shoot, ctx)
        if report_.failures:
            raise SystemExit(
                f"{len(report_.failures)} photos failed to import: {report_.failures[0]}"
            )
    results = []
    for fraction in (0.0, *fractions):
        reviewed = shoot[: round(len(shoot) * fraction)]
        db = work / f"reviewed-{fraction:.2f}.sqlite"
        shutil.copy(imported, db)
        with AppContext.open(db, bundle) as ctx:
            families = {f.name: f.labels for f in ctx.families}
            records = [
                TagRecord(
                    i + 2,
                    str(path),
                    "",
                    {f: v for f, v in truth[path].items() if f in families},
                    (),
                )
                for i, path in enumerate(reviewed)
            ]
            applied = apply_tag_records(ctx.catalog, records, "bench", families)
            started = time.perf_counter()
            learned = learn_from_reviews(ctx) if reviewed else None
            seconds = time.perf_counter() - started
            entry = {
                "fraction": fraction,
                "reviewed_photos": len(reviewed),
                "tags_written": applied.written,
                "learn_seconds": round(seconds, 2),
                "families": score(ctx, truth, set(shoot) - set(reviewed)),
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
    parser.add_argument("--quick", action="store_true", help="the first 1,000 photos only")
    parser.add_argument("--out", type=Path, help="write the JSON result here")
    args = parser.parse_args()
    truth = labelled_photos(args.data, args.raw_colours)
    if args.quick:
        truth = dict(sorted(truth.items())[:1000])
    with tempfile.TemporaryDirectory() as tmp:
        result = simulate(args.bundle, truth, Path(tmp), FRACTIONS)
    name = f"learning-{args.data[0].name}{'-raw' if args.raw_colours else ''}"
    report(
        name, {"bundle": str(args.bundle), "data": [str(d) for d in args.data], **result}, args.out
    )


if __name__ == "__main__":
    main()
