"""The `vitrina` subcommands on catalog photos named on the command line: show, accept,
reject, set, tag, untag, remove, similar.

A photo is named by its id or by its path as imported; :func:`find_photo` turns either into a
catalog row, or into a message saying which catalog lacks it and what to do.
"""

from __future__ import annotations

import argparse
import os
import stat
from collections.abc import Mapping
from typing import TYPE_CHECKING

from app.core.catalog import PhotoNotFoundError, PhotoRow, PredictionRow
from app.core.catalog.engine import display_url
from app.core.catalog.states import TagStatus
from app.core.errors import VitrinaError
from app.core.similar import similar_to_file, similar_to_photo
from app.core.tag_input import NOT_A_PATH, family_label, match_name, tag_text_problem

if TYPE_CHECKING:
    from app.cli import Console, Interrupt
    from app.core.context import AppContext

OK = 0


# --- show / accept / reject / set / tag / untag ---------------------------------------------


def _shown(text: str, limit: int = 160) -> str:
    """``text`` cut to ``limit`` characters for a message (a 5,000-character name)."""
    return text if len(text) <= limit else f"{text[: limit - 41]}…{text[-40:]}"


def find_photo(ctx: AppContext, ref: str) -> PhotoRow:
    """The catalog photo a command names by id or path, or a message that says which
    catalog lacks it and how to find the right one."""
    text = ref.strip()
    where = display_url(ctx.catalog.url)
    if text.isdigit() and not text.isascii():  # '²' is a digit to Python, and no id
        raise PhotoNotFoundError(
            f"{text!r} is not a photo id (ids are written with the digits 0-9) nor a path in "
            f"the catalog {where}."
        )
    if NOT_A_PATH.search(text):
        raise PhotoNotFoundError(
            f"{_shown(text)!r} is not in the catalog {where}: its name holds a NUL or bytes "
            "that are not UTF-8. Name the photo by its id instead."
        )
    try:
        return ctx.catalog.resolve(text)
    except PhotoNotFoundError:
        if text.isdigit():
            raise PhotoNotFoundError(
                f"Photo {text} is not in the catalog {where}; `vitrina export` lists its "
                "photos, and a photo can also be named by its path."
            ) from None
        raise PhotoNotFoundError(
            f"{_shown(text)} is not in the catalog {where}; import it first "
            "(vitrina import PATH) or name the photo by its id."
        ) from None


def show(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    photo = find_photo(ctx, args.photo)
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
    free = [t.value for t in tags if t.family is None and t.status == TagStatus.ACCEPTED]
    if free:
        con.print(f"  free tags: {', '.join(free)}")
    return OK


def _ranked(ctx: AppContext, photo: PhotoRow, family: str) -> tuple[str, list[PredictionRow]]:
    """The family as the photo's suggestions spell it ("Colour" -> "colour") and its
    suggestions, best first."""
    predictions = ctx.catalog.predictions(photo.id)
    family = match_name({p.family for p in predictions}, family) or family.strip()
    return family, [p for p in predictions if p.family == family]


def _suggested_label(
    ranked: list[PredictionRow], photo: PhotoRow, family: str, label: str | None
) -> str:
    """The label to accept: the given one if the model suggested it, else the top suggestion."""
    if not ranked:
        raise VitrinaError(
            f"Photo {photo.id} has no suggestion in family {family!r}; to give it a label "
            f"use `vitrina set {photo.id} {family} LABEL`."
        )
    if label is None:
        return ranked[0].label
    suggested = match_name([p.label for p in ranked], label)
    if suggested is None:
        raise VitrinaError(
            f"{label!r} is not among the suggestions for {family!r} of photo {photo.id} "
            f"({', '.join(p.label for p in ranked)}); to correct the tag use "
            f"`vitrina set {photo.id} {family} {label.strip()}`."
        )
    return suggested


def accept(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    photo = find_photo(ctx, args.photo)
    if args.all_confident:
        accepted = ctx.catalog.accept_confident(photo.id, thresholds=ctx.thresholds)
        names = ", ".join(f"{t.family}={t.value}" for t in accepted) or "nothing new"
        con.print(f"photo {photo.id}: accepted {names}")
        return OK
    if not args.family:
        raise VitrinaError("Say which family to accept (or pass --all-confident).")
    family, ranked = _ranked(ctx, photo, args.family)
    label = _suggested_label(ranked, photo, family, args.label)
    ctx.catalog.accept(photo.id, family, label)
    con.print(f"photo {photo.id}: {family} = {label} (accepted)")
    return OK


def accept_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("photo", metavar="PHOTO", help="photo id or path")
    parser.add_argument("family", nargs="?", metavar="FAMILY")
    parser.add_argument("label", nargs="?", metavar="LABEL", help="default: the top suggestion")
    parser.add_argument(
        "--all-confident", action="store_true", help="accept every confident suggestion"
    )


def reject(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    photo = find_photo(ctx, args.photo)
    family, ranked = _ranked(ctx, photo, args.family)
    label = match_name([p.label for p in ranked], args.label) or args.label.strip()
    for text in (family, label):
        problem = tag_text_problem(text)
        if problem:
            raise VitrinaError(f"Cannot reject on photo {photo.id}: {problem}.")
    ctx.catalog.reject(photo.id, family, label)
    con.print(f"photo {photo.id}: {family} is not {label} (rejected)")
    return OK


def set_label(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    photo = find_photo(ctx, args.photo)
    families = {f.name: f.labels for f in ctx.families}
    family, label, new = family_label(families, args.family, args.label)
    ctx.catalog.set_tag(photo.id, family, label)
    own = f" (not a {family} of the bundle: kept as this shop's own label)" if new else ""
    con.print(f"photo {photo.id}: {family} = {label} (set){own}")
    return OK


def photo_family_label(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("photo", metavar="PHOTO", help="photo id or path")
    parser.add_argument("family", metavar="FAMILY")
    parser.add_argument("label", metavar="LABEL")


def _free_tag(photo: PhotoRow, text: str, doing: str) -> str:
    """``text`` trimmed, once it is text a tag can hold."""
    text = text.strip()
    problem = tag_text_problem(text)
    if problem:
        raise VitrinaError(f"Cannot {doing} photo {photo.id}: {problem}.")
    return text


def tag(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    photo = find_photo(ctx, args.photo)
    text = _free_tag(photo, args.text, "tag")
    ctx.catalog.add_free_tag(photo.id, text)
    con.print(f"photo {photo.id}: tagged {text!r}")
    return OK


def untag(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    photo = find_photo(ctx, args.photo)
    text = _free_tag(photo, args.text, "untag")
    if not ctx.catalog.remove_tag(photo.id, None, text):
        raise VitrinaError(f"Photo {photo.id} has no free-form tag {text!r}.")
    con.print(f"photo {photo.id}: untagged {text!r}")
    return OK


def photo_text(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("photo", metavar="PHOTO", help="photo id or path")
    parser.add_argument("text", metavar="TEXT")


# --- remove -----------------------------------------------------------------------------------


def remove(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    photos = {photo.id: photo for photo in (find_photo(ctx, ref) for ref in args.photos)}
    if not args.yes and ctx.catalog.accepted_tag_count(photos):
        raise VitrinaError(
            f"{_tag_counts(ctx, photos)}, which would go with them. Export them first "
            "(vitrina export --accepted-only -o tags.csv), or add --yes to remove the photos "
            "anyway."
        )
    removed = ctx.remove_photos(photos).ids
    for photo_id in removed:
        con.print(f"removed photo {photo_id}: {photos[photo_id].path}")
    con.print(f"Removed {len(removed)} photo(s) from the catalog; the files stay on disk.")
    return OK


def _tag_counts(ctx: AppContext, photos: Mapping[int, PhotoRow], shown: int = 10) -> str:
    """Which photos carry accepted tags, and how many each: "photo 12 carries 3 accepted
    tag(s)", or "2 of the 3 photos carry accepted tags: photo 12 (3), photo 13 (1)"."""
    counts = {i: n for i in sorted(photos) if (n := ctx.catalog.accepted_tag_count([i]))}
    if len(photos) == 1:
        [(photo_id, count)] = counts.items()
        return f"Photo {photo_id} carries {count} accepted tag(s)"
    listed = ", ".join(f"photo {i} ({n})" for i, n in list(counts.items())[:shown])
    more = f" and {len(counts) - shown} more" if len(counts) > shown else ""
    return (
        f"{len(counts)} of the {len(photos)} photos carry accepted tags ({sum(counts.values())} "
        f"in all): {listed}{more}"
    )


def remove_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("photos", nargs="+", metavar="PHOTO", help="photo ids or paths")
    parser.add_argument(
        "--yes", action="store_true", help="also remove photos that carry accepted tags"
    )


# --- similar ----------------------------------------------------------------------------------


def _check_outside_file(ref: str) -> None:
    """A path that names no catalog photo must name a file to compare with."""
    shown = _shown(ref)
    try:
        mode = os.stat(ref).st_mode
    except FileNotFoundError:
        raise VitrinaError(
            f"{shown}: no such file, and no catalog photo has this path. Check the path, or "
            "name a catalog photo by its id."
        ) from None
    except (OSError, ValueError) as exc:  # too long a name, no permission, a NUL
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise VitrinaError(
            f"{shown}: cannot be read ({reason}), and no catalog photo has this path. Check "
            "the path, or name a catalog photo by its id."
        ) from None
    if not stat.S_ISREG(mode):
        raise VitrinaError(
            f"{shown}: is not a file; name a photo file, or a catalog photo by its id."
        )


def similar(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    """The k photos most like a catalog photo or an outside file (app.core.similar)."""
    if args.k < 1:
        raise VitrinaError("-k must be at least 1.")
    try:
        photo = find_photo(ctx, args.photo)
    except PhotoNotFoundError:
        if args.photo.strip().isdigit():
            raise
        _check_outside_file(args.photo)
        found = similar_to_file(ctx, args.photo, args.k)
        asked = args.photo
    else:
        found = similar_to_photo(ctx, photo.id, args.k)
        asked = f"photo {photo.id} ({photo.path})"
    con.print(f"most similar to {asked}:")
    for rank, n in enumerate(found, start=1):
        con.print(f"{rank:>3}. {n.similarity:.3f}  photo {n.photo_id}: {n.path}")
    if not found:
        con.print("  (no other photo in the index)")
    return OK


def similar_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("photo", metavar="PHOTO_OR_FILE", help="photo id, path, or outside file")
    parser.add_argument("-k", type=int, default=10, help="how many (default 10)")
