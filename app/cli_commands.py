"""The `vitrina` subcommands: each parses its arguments and calls the core."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from app.core import export, tag_import
from app.core.catalog import PhotoNotFoundError, PhotoRow
from app.core.decode import content_hash
from app.core.errors import VitrinaError
from app.core.importer import import_paths, retag_photos

if TYPE_CHECKING:
    from app.cli import Console, Interrupt
    from app.core.context import AppContext

OK, SOME_FAILED = 0, 1
Handler = Callable[[argparse.Namespace, "AppContext", "Console", "Interrupt"], int]


@dataclass(frozen=True)
class Command:
    """One subcommand: its name, help line, arguments and handler."""

    name: str
    help: str
    handler: Handler
    arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None
    example: str = ""

    def add_to(self, sub: argparse._SubParsersAction) -> None:
        parser = sub.add_parser(
            self.name, help=self.help, description=self.help, epilog=self.example or None
        )
        self.arguments(parser)
        parser.set_defaults(run=self.handler)


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
    for duplicate in report.duplicates:
        con.print(f"duplicate: {duplicate.path} (same content as {duplicate.original})")
    for moved in report.moved:
        con.print(f"moved: {moved.path} (was {moved.was}, which is gone; its tags stay)")
    for failure in report.failures:
        con.warn(f"failed: {failure.reason}")
    rate = len(report.added) / report.elapsed if report.elapsed > 0 else 0.0
    moved = f"{len(report.moved)} found at a new path, " if report.moved else ""
    con.print(
        f"Imported {len(report.added)} photo(s), {len(report.duplicates)} duplicate(s), {moved}"
        f"{len(report.failures)} failed in {report.elapsed:.1f} s ({rate:.1f} photos/s)"
        + ("; cancelled before the end." if report.cancelled else ".")
    )
    return OK if report.ok else SOME_FAILED


def _import_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="photo files or folders")


# --- show / accept / reject / set / tag / untag ---------------------------------------------


def _show(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    photo = ctx.catalog.resolve(args.photo)
    con.print(
        f"photo {photo.id}: {photo.path}  ({photo.width}x{photo.height}, {photo.review_state})"
    )
    tags = ctx.catalog.tags(photo.id)
    decided = {t.family: t for t in tags if t.family is not None}
    by_family: dict[str, list] = {}
    for prediction in ctx.catalog.predictions(photo.id):
        by_family.setdefault(prediction.family, []).append(prediction)
    for family in sorted(set(by_family) | set(decided)):
        ranked = by_family.get(family, [])
        tag = decided.get(family)
        state = f"  [{tag.status}: {tag.value}, by {tag.source}]" if tag else ""
        if ranked:
            top = ranked[0]
            word = "confident" if top.confident else "uncertain"
            sign = ">=" if top.confident else "<"
            con.print(
                f"  {family:<12} {top.label:<16} {top.confidence:.3f} {sign} "
                f"{top.threshold:.2f}  {word}{state}"
            )
            if len(ranked) > 1:
                others = ", ".join(f"{p.label} {p.confidence:.3f}" for p in ranked[1:])
                con.print(f"  {'':<12} runner-ups: {others}")
        else:
            con.print(f"  {family:<12} (no suggestion){state}")
    free = [t.value for t in tags if t.family is None and t.status == "accepted"]
    if free:
        con.print(f"  free tags: {', '.join(free)}")
    return OK


def _suggested_label(ctx: AppContext, photo: PhotoRow, family: str, label: str | None) -> str:
    """The label to accept: the given one if the model suggested it, else the top suggestion."""
    ranked = [p for p in ctx.catalog.predictions(photo.id) if p.family == family]
    if not ranked:
        raise VitrinaError(
            f"Photo {photo.id} has no suggestion in family {family!r}; to give it a label "
            f"use `vitrina set {photo.id} {family} LABEL`."
        )
    if label is None:
        return min(ranked, key=lambda p: p.rank).label
    if label not in {p.label for p in ranked}:
        raise VitrinaError(
            f"{label!r} is not among the suggestions for {family!r} of photo {photo.id} "
            f"({', '.join(p.label for p in ranked)}); to correct the tag use "
            f"`vitrina set {photo.id} {family} {label}`."
        )
    return label


def _accept(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    photo = ctx.catalog.resolve(args.photo)
    if args.all_confident:
        accepted = ctx.catalog.accept_confident(photo.id, thresholds=ctx.thresholds)
        names = ", ".join(f"{t.family}={t.value}" for t in accepted) or "nothing new"
        con.print(f"photo {photo.id}: accepted {names}")
        return OK
    if not args.family:
        raise VitrinaError("Say which family to accept (or pass --all-confident).")
    label = _suggested_label(ctx, photo, args.family, args.label)
    ctx.catalog.accept(photo.id, args.family, label)
    con.print(f"photo {photo.id}: {args.family} = {label} (accepted)")
    return OK


def _accept_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("photo", metavar="PHOTO", help="photo id or path")
    parser.add_argument("family", nargs="?", metavar="FAMILY")
    parser.add_argument("label", nargs="?", metavar="LABEL", help="default: the top suggestion")
    parser.add_argument(
        "--all-confident", action="store_true", help="accept every confident suggestion"
    )


def _reject(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    photo = ctx.catalog.resolve(args.photo)
    ctx.catalog.reject(photo.id, args.family, args.label)
    con.print(f"photo {photo.id}: {args.family} is not {args.label} (rejected)")
    return OK


def _check_label(ctx: AppContext, family: str, label: str) -> None:
    """A family's value must be one of the bundle's labels; free text goes through `tag`."""
    families = {f.name: f for f in ctx.bundle.families}
    if family not in families:
        raise VitrinaError(
            f"{family!r} is not a family of bundle {ctx.bundle.label} (families: "
            f"{', '.join(families)}). For a free-form tag use `vitrina tag PHOTO TEXT`."
        )
    labels = families[family].labels
    if label not in labels:
        raise VitrinaError(
            f"{label!r} is not a label of family {family!r}; its labels are "
            f"{', '.join(labels)}. For a free-form tag use `vitrina tag PHOTO TEXT`."
        )


def _set(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    photo = ctx.catalog.resolve(args.photo)
    _check_label(ctx, args.family, args.label)
    ctx.catalog.set_tag(photo.id, args.family, args.label)
    con.print(f"photo {photo.id}: {args.family} = {args.label} (set)")
    return OK


def _photo_family_label(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("photo", metavar="PHOTO", help="photo id or path")
    parser.add_argument("family", metavar="FAMILY")
    parser.add_argument("label", metavar="LABEL")


def _tag(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    photo = ctx.catalog.resolve(args.photo)
    text = args.text.strip()
    if not text:
        raise VitrinaError("A free-form tag cannot be empty.")
    ctx.catalog.add_free_tag(photo.id, text)
    con.print(f"photo {photo.id}: tagged {text!r}")
    return OK


def _untag(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    photo = ctx.catalog.resolve(args.photo)
    if not ctx.catalog.remove_tag(photo.id, None, args.text):
        raise VitrinaError(f"Photo {photo.id} has no free-form tag {args.text!r}.")
    con.print(f"photo {photo.id}: untagged {args.text!r}")
    return OK


def _photo_text(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("photo", metavar="PHOTO", help="photo id or path")
    parser.add_argument("text", metavar="TEXT")


# --- remove -----------------------------------------------------------------------------------


def _remove(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    photos = {photo.id: photo for photo in map(ctx.catalog.resolve, args.photos)}
    accepted = ctx.catalog.accepted_tag_count(photos)
    if accepted and not args.yes:
        raise VitrinaError(
            f"The {len(photos)} photo(s) carry {accepted} accepted tag(s), which would go with "
            "them. Export them first (vitrina export --accepted-only -o tags.csv), or add "
            "--yes to remove the photos anyway."
        )
    removed = ctx.remove_photos(photos).ids
    for photo_id in removed:
        con.print(f"removed photo {photo_id}: {photos[photo_id].path}")
    con.print(f"Removed {len(removed)} photo(s) from the catalog; the files stay on disk.")
    return OK


def _remove_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("photos", nargs="+", metavar="PHOTO", help="photo ids or paths")
    parser.add_argument(
        "--yes", action="store_true", help="also remove photos that carry accepted tags"
    )


# --- similar ----------------------------------------------------------------------------------


def _query_vector(ctx: AppContext, ref: str) -> tuple[object, int | None, str]:
    """(vector, catalog id to exclude, what was asked) for a catalog photo or an outside file."""
    try:
        photo = ctx.catalog.resolve(ref)
    except PhotoNotFoundError:
        if not Path(ref).is_file():
            raise
        known = ctx.catalog.find_by_hash(content_hash(ref))
        tagged = ctx.tagger.tag_file(ref)
        return tagged.embedding, known.id if known else None, ref
    vector = ctx.catalog.embedding(photo.id, ctx.tagger.embedding_key)
    if vector is None:
        raise VitrinaError(
            f"Photo {photo.id} has no embedding from bundle {ctx.bundle.label}; "
            "run `vitrina reindex` to compute it."
        )
    return vector, photo.id, f"photo {photo.id} ({photo.path})"


def _similar(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    if args.k < 1:
        raise VitrinaError("-k must be at least 1.")
    index = ctx.index
    if index is None:
        raise VitrinaError(
            f"Bundle {ctx.bundle.label} has no embedding output, so it cannot find similar "
            "photos; use a bundle with an embedding."
        )
    vector, exclude, asked = _query_vector(ctx, args.photo)
    results = index.nearest(vector, args.k, exclude=exclude)
    con.print(f"most similar to {asked}:")
    for rank, (photo_id, similarity) in enumerate(results, start=1):
        con.print(
            f"{rank:>3}. {similarity:.3f}  photo {photo_id}: {ctx.catalog.get_photo(photo_id).path}"
        )
    if not results:
        con.print("  (no other photo in the index)")
    return OK


def _similar_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("photo", metavar="PHOTO_OR_FILE", help="photo id, path, or outside file")
    parser.add_argument("-k", type=int, default=10, help="how many (default 10)")


# --- export / xmp -----------------------------------------------------------------------------


def _export(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    text = export.export_catalog(ctx.catalog, args.format, args.accepted_only, args.output)
    if args.output is None:
        con.out.write(text)
    else:
        con.warn(f"wrote {args.output}")
    return OK


def _export_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("csv", "json"), default="csv")
    parser.add_argument(
        "--accepted-only", action="store_true", help="only photos and tags a human accepted"
    )
    parser.add_argument("-o", "--output", type=Path, metavar="FILE", help="default: stdout")


def _xmp(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    report = export.write_catalog_sidecars(ctx.catalog, args.out_dir)
    for _path, reason in report.failures:
        con.warn(f"failed: {reason}")
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


def _thresholds(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    shares = ctx.catalog.stats(ctx.thresholds)["confident_share"]
    con.print(f"bundle {ctx.bundle.label}")
    for family in ctx.bundle.families:
        calibration = family.calibration
        note = ", ".join(f"{k} {v}" for k, v in calibration.items())
        share = shares.get(family.name)
        covered = f"; {share:.0%} of the catalog confident" if share is not None else ""
        con.print(f"  {family.name:<14} {family.threshold:.2f}  ({note}){covered}")
    return OK


def _import_tags(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    records = tag_import.read_tag_file(args.file)
    try:
        families = {family.name: family.labels for family in ctx.bundle.families}
    except VitrinaError:
        families = None
    report = tag_import.apply_tag_records(ctx.catalog, records, families=families)
    for _line, reason in [*report.bad, *report.unmatched]:
        con.warn(f"skipped: {reason}")
    con.print(
        f"Wrote {report.written} tag(s) on {len(report.photos)} photo(s); "
        f"{report.unchanged} already there; {len(report.unmatched)} unmatched, "
        f"{len(report.bad)} bad row(s)."
    )
    return OK if report.ok else SOME_FAILED


COMMANDS: tuple[Command, ...] = (
    Command(
        "import",
        "import photos and folders",
        _import,
        _import_args,
        "example: vitrina import ~/shoot/2026-11 extra.jpg",
    ),
    Command(
        "show",
        "tags and suggestions of a photo",
        _show,
        lambda p: p.add_argument("photo", metavar="PHOTO", help="photo id or path"),
        "example: vitrina show 12",
    ),
    Command(
        "accept",
        "accept a suggestion",
        _accept,
        _accept_args,
        "example: vitrina accept 12 colour   |   vitrina accept 12 --all-confident",
    ),
    Command(
        "reject",
        "reject a suggested label",
        _reject,
        _photo_family_label,
        "example: vitrina reject 12 colour red",
    ),
    Command(
        "set",
        "set a family's label (a correction)",
        _set,
        _photo_family_label,
        "example: vitrina set 12 category dress",
    ),
    Command(
        "tag", "add a free-form tag", _tag, _photo_text, "example: vitrina tag 12 'summer sale'"
    ),
    Command(
        "untag",
        "remove a free-form tag",
        _untag,
        _photo_text,
        "example: vitrina untag 12 'summer sale'",
    ),
    Command(
        "remove",
        "remove photos from the catalog (the files stay on disk)",
        _remove,
        _remove_args,
        "example: vitrina remove 12 13 ~/shoot/test.jpg",
    ),
    Command(
        "similar",
        "photos most similar to a photo or an outside file",
        _similar,
        _similar_args,
        "example: vitrina similar ~/Downloads/look.jpg -k 5",
    ),
    Command(
        "export",
        "export tags as CSV or JSON",
        _export,
        _export_args,
        "example: vitrina export --format json --accepted-only -o tags.json",
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
    ),
    Command(
        "reindex",
        "rebuild the similarity index; re-tag photos the bundle has not seen",
        _reindex,
        example="example: vitrina --bundle models_onnx/v2 reindex",
    ),
    Command(
        "stats",
        "counts of photos, tags and confident suggestions",
        _stats,
        example="example: vitrina stats",
    ),
    Command(
        "thresholds",
        "the bundle's per-family thresholds and their coverage",
        _thresholds,
        example="example: vitrina thresholds",
    ),
)
