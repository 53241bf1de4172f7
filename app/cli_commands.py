"""The `vitrina` subcommands (a registry, and those on files and the whole catalog); the
ones on photos named on the command line are in `app.cli_photos`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from app import cli_learning, cli_photos, cli_shop
from app.core import export, shop_export, tag_import
from app.core.decode import SUPPORTED_SUFFIXES
from app.core.importer import ImportReport, import_paths, retag_photos
from app.core.learning import MIN_NEW_LABEL

if TYPE_CHECKING:
    from app.cli import Console, Interrupt
    from app.core.context import AppContext

OK, SOME_FAILED = 0, 1
Handler = Callable[[argparse.Namespace, "AppContext", "Console", "Interrupt"], int]


@dataclass(frozen=True)
class Command:
    """One subcommand: its name, help line, arguments and handler.

    ``needs_bundle``: the bundle is loaded (and checked) before the catalog is opened.
    ``index_notices``: the command is about the similarity index, so its maintenance
    notices (reconciled, rebuilt) are printed; other commands only log them.
    """

    name: str
    help: str
    handler: Handler
    arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None
    example: str = ""
    needs_bundle: bool = False
    index_notices: bool = False

    def add_to(self, sub: argparse._SubParsersAction) -> None:
        parser = sub.add_parser(
            self.name, help=self.help, description=self.help, epilog=self.example or None
        )
        self.arguments(parser)
        parser.set_defaults(
            run=self.handler, needs_bundle=self.needs_bundle, index_notices=self.index_notices
        )


def _bar(total: int, unit: str = "photo") -> tqdm:
    """A progress bar on stderr, shown only on a terminal."""
    return tqdm(total=total, unit=unit, file=sys.stderr, disable=None, dynamic_ncols=True)


# --- import -------------------------------------------------------------------------------


def _import(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    with _bar(0) as bar:

        def progress(done: int, total: int, path: Path) -> None:
            bar.total = total
            bar.update(done - bar.n)

        report = import_paths(args.paths, ctx, progress=progress, cancel=stop)
    return _tell_import(args, con, report, f"Imported {len(report.added)} photo(s)", report.total)


def _tell_import(
    args: argparse.Namespace, con: Console, report: ImportReport, done: str, found: int
) -> int:
    """An import's or a batch's lines: duplicates, moves, failures, notices, the summary;
    ``found``: how many photo files the paths named."""
    for duplicate in report.duplicates:
        con.print(f"duplicate: {duplicate.path} (same content as {duplicate.original})")
    cli_shop.report_near_duplicates(con, report.near_duplicates)
    for moved in report.moved:
        con.print(f"moved: {moved.path} (was {moved.was}, which is gone; its tags stay)")
    for failure in report.failures:
        con.warn(f"failed: {failure.reason}")
    for notice in report.notices:
        con.warn(f"vitrina: {notice}")
    rate = f" ({len(report.added) / report.elapsed:.1f} photos/s)" if report.added else ""
    moved = f"{len(report.moved)} found at a new path, " if report.moved else ""
    near = (
        f"{len(report.near_duplicates)} possible duplicate(s), " if report.near_duplicates else ""
    )
    con.print(
        f"{done}, {len(report.duplicates)} duplicate(s), {near}{moved}"
        f"{len(report.failures)} failed in {report.elapsed:.1f} s{rate}"
        + ("; cancelled before the end." if report.cancelled else ".")
    )
    if not found and not report.failures:
        con.warn(
            f"vitrina: no photos found in {', '.join(map(str, args.paths))}. Vitrina imports "
            f"{' '.join(sorted(SUPPORTED_SUFFIXES))} files, in folders and their subfolders "
            "(hidden files and folders are skipped); check the path."
        )
    return OK if report.ok else SOME_FAILED


def _import_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="photo files or folders")


# --- batch ------------------------------------------------------------------------------------


def _batch(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    from app.core.batch import run_batch  # Ray is loaded only when a batch runs

    with _bar(0) as bar:

        def progress(done: int, total: int, path: Path) -> None:
            bar.total = total
            bar.update(done - bar.n)

        report = run_batch(
            args.paths, ctx, args.address, args.workers, args.threads, progress, stop
        )
    workers = f" on {report.workers} Ray worker(s) of {report.threads} thread(s)"
    skipped = f", skipped {report.skipped} already in the catalog" if report.skipped else ""
    done = f"Tagged {len(report.added)} photo(s){workers if report.workers else ''}{skipped}"
    return _tell_import(args, con, report, done, report.total + report.skipped)


def _batch_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--address",
        metavar="RAY_ADDRESS",
        help="a running Ray cluster (host:port of its head); default: a local Ray on this machine",
    )
    parser.add_argument(
        "--workers", type=int, metavar="N", help="tagging actors (default: the cluster's CPUs)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        metavar="T",
        help="CPUs (onnxruntime and decode threads) per actor (default 1)",
    )
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="photo files or folders, at the same path on every node",
    )


# --- export / xmp -----------------------------------------------------------------------------


def _export(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    if args.format in shop_export.FORMATS:
        return cli_shop.export_shop(args, ctx, con, stop)
    text = export.export_catalog(ctx.catalog, args.format, args.accepted_only, args.output)
    if args.output is None:
        con.out.write(text)
    else:
        con.warn(f"wrote {args.output}")
    return OK


def _export_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("csv", "json", *shop_export.FORMATS), default="csv")
    parser.add_argument(
        "--accepted-only", action="store_true", help="only photos and tags a human accepted"
    )
    parser.add_argument("-o", "--output", type=Path, metavar="FILE", help="default: stdout")
    cli_shop.export_option(parser)


def _xmp(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    report = export.write_catalog_sidecars(ctx.catalog, args.out_dir)
    for _path, reason in report.failures:
        con.warn(f"failed: {reason}")
    if report.stale_removed:
        con.warn(
            f"vitrina: removed {len(report.stale_removed)} temporary file(s) an interrupted "
            "`vitrina xmp` had left beside the sidecars."
        )
    con.print(
        f"Wrote {len(report.written)} sidecar(s); {len(report.failures)} could not be written."
    )
    return OK if not report.failures else SOME_FAILED


def _xmp_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out-dir", type=Path, metavar="DIR", help="default: next to each photo")


# --- reindex / stats / thresholds -------------------------------------------------------------


def _reindex(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    index = ctx.rebuild_index()
    if index is None:
        con.print(f"Bundle {ctx.bundle.label} has no embedding; nothing to index.")
        return OK
    missing = ctx.catalog.photos_missing_embedding(ctx.tagger.embedding_key)
    with _bar(len(missing)) as bar:
        report = retag_photos(
            missing, ctx, lambda done, total, path: bar.update(done - bar.n), stop
        )
    for failure in report.failures:
        con.warn(f"failed: {failure.reason}")
    con.print(
        f"Index rebuilt: {len(index)} photo(s); re-tagged {len(report.added)} photo(s) "
        f"with {ctx.bundle.label}, {len(report.failures)} failed."
    )
    return OK if report.ok else SOME_FAILED


def _stats(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    stats = ctx.catalog.stats(ctx.thresholds)
    states = ", ".join(f"{n} {state}" for state, n in stats["review_state"].items())
    con.print(f"photos: {stats['photos']} ({states})")
    for family, counts in stats["tags"].items():
        share = stats["confident_share"].get(family)
        confident = f", {share:.0%} confidently suggested" if share is not None else ""
        con.print(
            f"  {family:<14} {counts['accepted']} accepted, {counts['rejected']} rejected"
            f"{confident}"
        )
    for family, share in stats["confident_share"].items():
        if family not in stats["tags"]:
            con.print(f"  {family:<14} no tags yet, {share:.0%} confidently suggested")
    for key, count in stats["embeddings"].items():
        con.print(f"embeddings {key}: {count}")
    return OK


THRESHOLD_COLUMNS = (
    ("threshold", 9),
    ("set on", 22),
    ("target", 6),
    ("precision", 15),
    ("coverage", 8),
    ("confident in catalog", 20),
)


def _thresholds(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    shares = ctx.catalog.stats(ctx.thresholds)["confident_share"]
    families = ctx.families
    width = max(len("family"), *(len(f.name) for f in families))
    con.print(f"bundle {ctx.bundle.label}: the threshold a suggestion must reach to be confident")
    con.print(f"  {'family':<{width}}" + "".join(f"  {name:>{w}}" for name, w in THRESHOLD_COLUMNS))
    for family in families:
        calibration = family.calibration
        user = family.name in ctx.thresholds
        cells = (
            f"{ctx.thresholds.get(family.name, family.threshold):.2f}",
            "your setting" if user else str(calibration.get("set_on", "validation")),
            _number(calibration.get("target_precision")),
            _precision(calibration),
            _share(calibration.get("coverage")),
            _share(shares.get(family.name)),
        )
        row = "".join(
            f"  {cell:>{w}}" for cell, (_, w) in zip(cells, THRESHOLD_COLUMNS, strict=True)
        )
        con.print(f"  {family.name:<{width}}{row}")
    con.print(
        "  target: the precision the threshold was set for; precision (its lower bound where "
        "it was estimated on this catalog's reviews) and coverage: measured then."
    )
    notes = {family.name: _calibration_notes(family.calibration) for family in families}
    first = next(iter(notes.values()), [])
    shared = [note for note in first if all(note in n for n in notes.values())]
    for name, own in notes.items():
        own = [note for note in own if note not in shared] if len(notes) > 1 else own
        if own:
            con.print(f"  {name}: {'; '.join(own)}")
    if shared and len(notes) > 1:
        con.print(f"  every family: {'; '.join(shared)}")
    return OK


def _precision(calibration: Mapping[str, Any]) -> str:
    low = calibration.get("precision_low")
    text = _number(calibration.get("precision"))
    return f"{text} (>={low:.3f})" if isinstance(low, int | float) else text


def _number(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else "-"


def _share(value: object) -> str:
    return f"{value:.0%}" if isinstance(value, int | float) else "-"


def _calibration_notes(calibration: Mapping[str, Any]) -> list[str]:
    """The rest of a family's calibration as readable phrases, never as a Python dict."""
    notes = []
    for key, value in calibration.items():
        skipped = ("target_precision", "precision", "precision_low", "coverage", "set_on", "bundle")
        if key in skipped or value in (None, [], {}):
            continue
        if key == "unreached":
            notes.append(f"target not reached on {_plain(value)}")
        elif key == "by_source" and isinstance(value, Mapping):
            notes += [f"{source}: {_plain(figures)}" for source, figures in value.items()]
        elif key == "held_out" and isinstance(value, Mapping):
            inner = {k: v for k, v in value.items() if k != "split"}
            where = f" ({value['split']})" if value.get("split") else ""
            notes.append(f"held out{where}: " + "; ".join(_calibration_notes(inner)))
        else:
            notes.append(f"{key.replace('_', ' ')}: {_plain(value)}")
    return notes


def _plain(value: object) -> str:
    """A manifest value in words: "n 1551, coverage 89%" for a mapping, commas for a list."""
    if isinstance(value, Mapping):
        return ", ".join(
            f"{key} {_share(item) if key == 'coverage' else _plain(item)}"
            for key, item in value.items()
        )
    if isinstance(value, list | tuple):
        return ", ".join(map(_plain, value))
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _import_tags(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    tag_file = tag_import.open_tag_file(args.file)
    families = {family.name: family.labels for family in ctx.families}
    with _bar(tag_file.rows, unit="row") as bar:
        report = tag_import.apply_tag_records(
            ctx.catalog,
            tag_file.records(),
            families=families,
            progress=lambda done: bar.update(done - bar.n),
            cancel=stop,
        )
    for _line, reason in sorted([*report.bad, *report.unmatched]):
        con.warn(f"skipped: {args.file}: {reason}")
    stopped = f" Stopped after row {report.rows} of {tag_file.rows}." if report.cancelled else ""
    if report.new_labels:
        named = ", ".join(f"{f} {label!r} ({n})" for (f, label), n in report.new_labels.items())
        con.print(
            f"Labels the bundle does not have, kept as this shop's own: {named}. `vitrina "
            f"learn` suggests each once it has {MIN_NEW_LABEL} examples."
        )
    con.print(
        f"Wrote {report.written} tag(s) on {len(report.photos)} photo(s); "
        f"{report.unchanged} already there; {len(report.unmatched)} unmatched, "
        f"{len(report.bad)} bad row(s).{stopped}"
    )
    if not report.ok:
        con.warn(
            f"vitrina: fix the rows listed above and import {args.file} again; the rows "
            "applied stay as they are, and a skipped row was not applied at all unless it "
            "says only part of it was written."
        )
    return OK if report.ok else SOME_FAILED


COMMANDS: tuple[Command, ...] = (
    Command(
        "import",
        "import photos and folders",
        _import,
        _import_args,
        "example: vitrina import ~/shoot/2026-11 extra.jpg",
        needs_bundle=True,
    ),
    Command(
        "show",
        "tags and suggestions of a photo",
        cli_photos.show,
        lambda p: p.add_argument("photo", metavar="PHOTO", help="photo id or path"),
        "example: vitrina show 12",
    ),
    Command(
        "accept",
        "accept a suggestion",
        cli_photos.accept,
        cli_photos.accept_args,
        "example: vitrina accept 12 colour   |   vitrina accept 12 --all-confident",
    ),
    Command(
        "reject",
        "reject a suggested label",
        cli_photos.reject,
        cli_photos.photo_family_label,
        "example: vitrina reject 12 colour red",
    ),
    Command(
        "set",
        "set a family's label (a correction)",
        cli_photos.set_label,
        cli_photos.photo_family_label,
        "example: vitrina set 12 category dress",
        needs_bundle=True,
    ),
    Command(
        "tag",
        "add a free-form tag",
        cli_photos.tag,
        cli_photos.photo_text,
        "example: vitrina tag 12 'summer sale'",
    ),
    Command(
        "untag",
        "remove a free-form tag",
        cli_photos.untag,
        cli_photos.photo_text,
        "example: vitrina untag 12 'summer sale'",
    ),
    Command(
        "remove",
        "remove photos from the catalog (the files stay on disk)",
        cli_photos.remove,
        cli_photos.remove_args,
        "example: vitrina remove 12 13 ~/shoot/test.jpg",
    ),
    Command(
        "similar",
        "photos most similar to a photo or an outside file",
        cli_photos.similar,
        cli_photos.similar_args,
        "example: vitrina similar ~/Downloads/look.jpg -k 5",
        needs_bundle=True,
        index_notices=True,
    ),
    Command(
        "batch",
        "tag a backlog on Ray (the scale extra), into the catalog as import does",
        _batch,
        _batch_args,
        "example: vitrina --db postgresql+psycopg://vitrina@db/vitrina batch "
        "--address head:6379 /mnt/backlog",
        needs_bundle=True,
    ),
    Command(
        "export",
        "export tags as CSV or JSON, or for a shop (Shopify CSV, Google Merchant feed)",
        _export,
        _export_args,
        "example: vitrina export --format json --accepted-only -o tags.json   |   "
        "vitrina export --format shopify --image-url https://cdn.example.com/shoot/ -o p.csv",
    ),
    Command(
        "taxonomy",
        "the shop categories of each category label; set this catalog's own",
        cli_shop.taxonomy,
        cli_shop.taxonomy_args,
        "example: vitrina taxonomy set dress --google 2271 --shopify "
        "'Apparel & Accessories > Clothing > Dresses'",
    ),
    Command(
        "duplicates",
        "photos flagged at import as possible duplicates of earlier ones",
        cli_shop.duplicates,
        lambda p: p.add_argument("--all", action="store_true", help="also those decided"),
        "example: vitrina duplicates",
    ),
    Command(
        "group",
        "make photos one shop product (several images)",
        cli_shop.group,
        cli_shop.photos_args,
        "example: vitrina group 12 13",
    ),
    Command(
        "ungroup",
        "take photos out of their shop product",
        cli_shop.ungroup,
        cli_shop.photos_args,
        "example: vitrina ungroup 13",
    ),
    Command(
        "dismiss",
        "not the same product: dismiss the possible-duplicate flags of photos",
        cli_shop.dismiss,
        cli_shop.photos_args,
        "example: vitrina dismiss 13",
    ),
    Command(
        "xmp",
        "write XMP sidecars with the accepted tags",
        _xmp,
        _xmp_args,
        "example: vitrina xmp --out-dir sidecars/",
    ),
    Command(
        "import-tags",
        "apply tags from a CSV/JSON file (e.g. a vitrina export edited in a spreadsheet)",
        _import_tags,
        lambda p: p.add_argument("file", type=Path, metavar="FILE"),
        "example: vitrina import-tags tags.csv",
        needs_bundle=True,
    ),
    Command(
        "reindex",
        "rebuild the similarity index; re-tag photos the bundle has not seen",
        _reindex,
        example="example: vitrina --bundle models_onnx/v2 reindex",
        needs_bundle=True,
        index_notices=True,
    ),
    Command(
        "stats",
        "counts of photos, tags and confident suggestions",
        _stats,
        example="example: vitrina stats",
    ),
    Command(
        "thresholds",
        "the per-family thresholds, what they were set on, and their coverage",
        _thresholds,
        example="example: vitrina thresholds",
        needs_bundle=True,
    ),
    Command(
        "learn",
        "learn from this catalog's reviews: corrected suggestions, thresholds re-set",
        cli_learning.learn,
        cli_learning.learn_args,
        "example: vitrina learn   |   vitrina learn --forget",
        needs_bundle=True,
    ),
)
