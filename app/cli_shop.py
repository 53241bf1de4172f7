"""The `vitrina` subcommands from tags to the shop: the shop exports (`export --format shopify`,
`google`, `google-xml`), the taxonomy map and this catalog's rows over it (`taxonomy`), and
the near-duplicates flagged at import (`duplicates`, `group`, `ungroup`, `dismiss`)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from app.cli_photos import find_photo
from app.core import shop_export
from app.core.errors import BundleError, VitrinaError
from app.core.taxonomy import (
    CATEGORY_FAMILY,
    check_google_id,
    check_shopify_path,
    known_label,
    load_map,
    taxonomy_for,
)

if TYPE_CHECKING:
    from app.cli import Console, Interrupt
    from app.core.context import AppContext

OK, SOME_FAILED = 0, 1


# --- export --format shopify | google | google-xml -------------------------------------------


def export_shop(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    """Written to -o atomically (or printed), then per reason how many photos were left out."""
    export = shop_export.export_for_shop(ctx.catalog, args.format, args.output, args.image_url)
    if args.output is None:
        con.out.write(export.text())
    for note in export.notes:
        con.warn(f"vitrina: {note}")
    for reason, count in sorted(export.reasons().items()):
        con.warn(f"left out: {count} photo(s): {reason}")
    where = f"wrote {args.output}: " if args.output else ""
    con.warn(
        f"{where}{export.products} product(s) from {export.photos} photo(s) "
        f"({shop_export.FORMATS[args.format]}); {len(export.left_out)} photo(s) left out."
    )
    return OK


# --- taxonomy ---------------------------------------------------------------------------------


def _category_labels(ctx: AppContext) -> list[str]:
    """The category labels Vitrina knows: the map's and the bundle's (with what the catalog
    learned); the map's alone when no bundle loads."""
    labels = list(load_map().rows)
    try:
        families = {family.name: family.labels for family in ctx.families}
    except BundleError:
        return labels
    return list(dict.fromkeys([*labels, *families.get(CATEGORY_FAMILY, ())]))


def _label(ctx: AppContext, typed: str) -> str:
    """A category label as typed, matched to Vitrina's or the catalog's spelling."""
    return known_label(typed, _category_labels(ctx), ctx.catalog.labels_in_use(CATEGORY_FAMILY))


def taxonomy(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    if args.action == "set":
        return _taxonomy_set(args, ctx, con)
    if args.action == "reset":
        label = known_label(
            args.label, _category_labels(ctx), ctx.catalog.labels_in_use(CATEGORY_FAMILY)
        )
        ctx.catalog.set_taxonomy_override(label, None, None)
        con.print(f"{label}: back to the taxonomy map's row.")
        return OK
    rows = taxonomy_for(ctx.catalog)
    in_use = ctx.catalog.labels_in_use(CATEGORY_FAMILY)
    con.print(f"taxonomy map: {rows.versions}")
    labels = list(dict.fromkeys([*_category_labels(ctx), *sorted(in_use)]))
    width = max(len(label) for label in labels)
    missing = 0
    for label in labels:
        row = rows.row(label)
        used = f"  ({in_use[label]} photo(s))" if label in in_use else ""
        if row is None:
            missing += 1
            con.print(f"  {label:<{width}}  no row: the shop's own label{used}")
            continue
        google = row.google.shown if row.google else "none"
        shopify = row.shopify.shown if row.shopify else "none"
        own = "  [this catalog's]" if row.source == "catalog" else ""
        con.print(f"  {label:<{width}}  Google: {google}{used}{own}")
        con.print(f"  {'':<{width}}  Shopify: {shopify}")
        if row.unverified and (row.google is None or row.shopify is None):
            con.print(f"  {'':<{width}}  {row.unverified}")
    if missing:
        con.warn(
            f"vitrina: {missing} label(s) have no row; their photos are left out of the shop "
            "exports until you add one: vitrina taxonomy set LABEL --google ID --shopify PATH"
        )
    return OK


def _taxonomy_set(args: argparse.Namespace, ctx: AppContext, con: Console) -> int:
    if args.google is None and args.shopify is None:
        raise VitrinaError(
            "Say which category to set: --google ID (a number such as 2271), --shopify PATH "
            "(such as 'Apparel & Accessories > Clothing > Dresses'), or both."
        )
    label = known_label(
        args.label, _category_labels(ctx), ctx.catalog.labels_in_use(CATEGORY_FAMILY)
    )
    google = check_google_id(args.google) if args.google is not None else None
    shopify = check_shopify_path(args.shopify) if args.shopify is not None else None
    current = ctx.catalog.taxonomy_overrides().get(label)
    if current is not None:  # a platform not named keeps this catalog's earlier choice
        google = google if google is not None else current.google_id
        shopify = shopify if shopify is not None else current.shopify_path
    ctx.catalog.set_taxonomy_override(label, google, shopify)
    row = taxonomy_for(ctx.catalog).row(label)
    con.print(f"{label}: Google {row.google.shown if row.google else 'none'}")
    con.print(f"{'':<{len(label)}}  Shopify {row.shopify.shown if row.shopify else 'none'}")
    return OK


def taxonomy_args(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser("show", help="every category label's Google and Shopify category")
    setting = actions.add_parser("set", help="this catalog's category for a label")
    setting.add_argument("label", metavar="LABEL")
    setting.add_argument("--google", metavar="ID", help="Google product category id, e.g. 2271")
    setting.add_argument(
        "--shopify",
        metavar="PATH",
        help="Shopify category path, e.g. 'Apparel & Accessories > ...'",
    )
    reset = actions.add_parser("reset", help="back to the taxonomy map's row")
    reset.add_argument("label", metavar="LABEL")


# --- near-duplicates ------------------------------------------------------------------------


def duplicates(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    flags = ctx.catalog.near_duplicates(status=None if args.all else "open")
    for flag in flags:
        state = "" if flag.status == "open" else f" [{flag.status}]"
        con.print(
            f"photo {flag.photo_id}: {flag.path} looks like photo {flag.original_id}: "
            f"{flag.original_path} ({flag.distance} bits apart){state}"
        )
    con.print(
        f"{len(flags)} possible duplicate(s)"
        + ("." if args.all else " to decide: vitrina group PHOTO PHOTO, or vitrina dismiss PHOTO.")
    )
    return OK


def group(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    ids = sorted({find_photo(ctx, ref).id for ref in args.photos})
    if len(ids) < 2:
        raise VitrinaError(
            "Name two photos or more to make one product of them, e.g. vitrina group 12 13."
        )
    key = ctx.catalog.group_photos(ids)
    members = ctx.catalog.product_members([key])[key]
    con.print(f"product {key}: photos {', '.join(map(str, members))}.")
    return OK


def ungroup(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    ids = sorted({find_photo(ctx, ref).id for ref in args.photos})
    count = ctx.catalog.ungroup_photos(ids)
    con.print(f"{count} photo(s) taken out of their product(s).")
    return OK


def dismiss(args: argparse.Namespace, ctx: AppContext, con: Console, stop: Interrupt) -> int:
    ids = sorted({find_photo(ctx, ref).id for ref in args.photos})
    count = ctx.catalog.dismiss_near_duplicates(ids)
    con.print(f"{count} possible duplicate flag(s) dismissed: not the same product.")
    return OK


def photos_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("photos", nargs="+", metavar="PHOTO", help="photo ids or paths")


def export_option(parser: argparse.ArgumentParser) -> None:
    """`vitrina export`'s option for the shop formats."""
    parser.add_argument(
        "--image-url",
        metavar="URL",
        help="shop formats: the web folder the photos are uploaded to (file names appended)",
    )


def report_near_duplicates(con: Console, found: list) -> None:
    """An import's possible duplicates, one line each."""
    for match in found:
        con.print(
            f"possible duplicate: {match.path} (looks like photo {match.original_id}: "
            f"{match.original})"
        )
