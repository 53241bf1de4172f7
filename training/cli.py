"""``vitrina-train``: fit | tailtune | average | quantize | features | compare | evaluate."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import torch

from app.core.errors import VitrinaError
from training.backbones import SPECS
from training.features import DEFAULT_CACHE
from training.heads import Recipe
from training.labelmaps import FAMILIES
from training.pipeline import DEFAULT_EMBEDDING_WEIGHTS, LEARNING_COMPONENTS, FitConfig


@dataclass(frozen=True)
class Command:
    """One subcommand: its name, help line, arguments and handler (as ``vitrina``'s are,
    app/cli_commands.py), so adding one is one entry in ``COMMANDS``."""

    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    handler: Callable[[argparse.Namespace], None]


def _common(parser: argparse.ArgumentParser) -> None:
    """The options of every command that reads photos with ``--data`` and a backbone."""
    parser.add_argument(
        "--data",
        type=Path,
        nargs="+",
        required=True,
        help="labels CSV, dataset folder with labels.csv, or class-folder tree",
    )
    parser.add_argument(
        "--extra-train",
        type=Path,
        nargs="+",
        default=[],
        help="photos for the training split only, same formats as --data (e.g. .cache/synth); "
        "rows whose 'source' names a validation/test photo are dropped",
    )
    parser.add_argument("--family", choices=FAMILIES, help="the family a class-folder tree labels")
    parser.add_argument("--backbone", choices=sorted(SPECS), default="efficientnet_lite2")
    parser.add_argument("--size", type=int, help="input side in pixels (default: the backbone's)")
    parser.add_argument(
        "--weights",
        type=Path,
        help="backbone checkpoint (required for resnet50); efficientnet_lite2 starts from the "
        "shipped default bundle's backbone unless --from-imagenet",
    )
    parser.add_argument(
        "--from-imagenet",
        action="store_true",
        help="start efficientnet_lite2 from its ImageNet weights, not the shipped backbone",
    )
    parser.add_argument(
        "--from-scratch",
        action="store_true",
        help="allow resnet50 without weights (random initialisation)",
    )
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for torch")


def bundle_options(parser: argparse.ArgumentParser) -> None:
    """How a bundle's thresholds and embedding are set: by ``fit`` and by the remote unpack."""
    parser.add_argument("--target-precision", type=float, default=0.95)
    parser.add_argument(
        "--embedding-weight",
        action="append",
        default=[],
        metavar="FAMILY=W",
        help="weight of a family's embedding part "
        "(default category=2, colour=2, sleeve=0.5, others 1)",
    )


def embedding_weights_of(args: argparse.Namespace) -> dict[str, float]:
    """The default embedding weights, each ``--embedding-weight FAMILY=W`` over them."""
    weights = dict(DEFAULT_EMBEDDING_WEIGHTS)
    weights.update({k: float(v) for k, v in (w.split("=", 1) for w in args.embedding_weight)})
    return weights


def _weights(args: argparse.Namespace) -> Path | None:
    """--weights, else the shipped default's backbone for its own architecture."""
    if args.weights is not None or args.from_imagenet or args.backbone != "efficientnet_lite2":
        return args.weights
    from training.recover import shipped_backbone

    weights = shipped_backbone(args.cache_dir)
    print(f"starting from the shipped bundle's backbone ({weights}); --from-imagenet to not")
    return weights


def _config(args: argparse.Namespace, out: Path | None = None) -> FitConfig:
    """A ``FitConfig`` of ``_common``'s options (``out`` unused by commands that write none)."""
    return FitConfig(
        data=args.data,
        out=out or Path("unused"),
        extra_train=args.extra_train,
        backbone=args.backbone,
        size=args.size,
        weights=_weights(args),
        from_scratch=args.from_scratch,
        seed=args.seed,
        cache_dir=args.cache_dir,
        folder_family=args.family,
    )


# --- fit, tailtune, average ------------------------------------------------------------


def _fit_args(parser: argparse.ArgumentParser) -> None:
    _common(parser)
    parser.add_argument("--out", type=Path, required=True, help="bundle folder to write")
    parser.add_argument("--report", type=Path, help="write the test-split evaluation report here")
    parser.add_argument("--epochs", type=int, default=Recipe.epochs)
    parser.add_argument("--label-smoothing", type=float, default=Recipe.label_smoothing)
    parser.add_argument(
        "--no-class-weights",
        action="store_true",
        help="plain loss: about +1 point top-1, much lower recall of rare classes",
    )
    parser.add_argument(
        "--mirrored",
        action="store_true",
        help="also train on mirrored copies' features (measured: no gain, twice the extraction)",
    )
    parser.add_argument(
        "--checked-weight",
        type=int,
        default=Recipe.checked_weight,
        help="times a hand-checked label counts (label maps' checked_labels)",
    )
    parser.add_argument("--no-colour-descriptor", action="store_true")
    parser.add_argument(
        "--colour-members",
        type=int,
        default=Recipe.colour_members,
        help="colour heads trained from different seeds whose probabilities are averaged",
    )
    parser.add_argument(
        "--no-garment-tap",
        action="store_true",
        help="colour and pattern heads do not read the garment-weighted stride-16 tap",
    )
    parser.add_argument(
        "--colour-final",
        action="store_true",
        help="colour head also reads the final pooled features",
    )
    parser.add_argument(
        "--finetune-epochs",
        type=int,
        default=0,
        help="stage 2: unfreeze the backbone for N epochs (GPU when present)",
    )
    parser.add_argument("--finetune-lr", type=float, default=1e-4)
    parser.add_argument("--separate", action="store_true", help="one bundle per family + a set")
    parser.add_argument("--quantize", action="store_true", help="int8, kept if within 1 point")
    bundle_options(parser)
    parser.add_argument("--name", help="the bundle's name (default: vitrina-<--out folder name>)")
    parser.add_argument(
        "--version", help="the bundle's version (default: the time, YYYY.MM.DD.HHMM)"
    )
    parser.add_argument(
        "--no-held-out",
        action="store_true",
        help="calibrate on the validation split only, not also on each source left out",
    )
    parser.add_argument(
        "--learning-components",
        type=int,
        default=LEARNING_COMPONENTS,
        help="principal axes of the features output a catalog learns from (0: no such output)",
    )


def _fit(args: argparse.Namespace) -> None:
    from training.pipeline import fit

    recipe = Recipe(
        epochs=args.epochs,
        label_smoothing=args.label_smoothing,
        class_weights=not args.no_class_weights,
        mirrored=args.mirrored,
        colour_descriptor=not args.no_colour_descriptor,
        colour_final=args.colour_final,
        garment_tap=not args.no_garment_tap,
        colour_members=args.colour_members,
        checked_weight=args.checked_weight,
        seed=args.seed,
    )
    config = replace(
        _config(args, args.out),
        recipe=recipe,
        finetune_epochs=args.finetune_epochs,
        finetune_lr=args.finetune_lr,
        separate=args.separate,
        quantize=args.quantize,
        target_precision=args.target_precision,
        report=args.report,
        name=args.name or f"vitrina-{args.out.resolve().name}",
        version=args.version or datetime.now(UTC).strftime("%Y.%m.%d.%H%M"),
        embedding_weights=embedding_weights_of(args),
        held_out=not args.no_held_out,
        learning_components=args.learning_components,
        command="vitrina-train " + shlex.join(sys.argv[1:]),
    )
    result = fit(config)
    print(
        json.dumps(
            {"thresholds": result["thresholds"], "validation": result["validation"]},
            indent=1,
            default=float,
        )
    )


def _tailtune_args(parser: argparse.ArgumentParser) -> None:
    _common(parser)
    parser.add_argument("--out", type=Path, required=True, help="backbone checkpoint to write")
    parser.add_argument("--epochs", type=int, default=1, help="passes over the training split")
    parser.add_argument("--minutes", type=float, help="stop after this long (default: no limit)")
    parser.add_argument("--lr", type=float, default=1e-4, help="tail learning rate (heads 10x)")
    parser.add_argument(
        "--order-seed",
        type=int,
        help="seed of the batches' order (default: --seed); another one gives a sibling run "
        "on the same split, to average with",
    )
    parser.add_argument(
        "--checked-weight",
        type=int,
        default=Recipe.checked_weight,
        help="times a hand-checked label counts (label maps' checked_labels)",
    )


def _tailtune(args: argparse.Namespace) -> None:
    from training.tailtune import TailConfig, tailtune

    config = replace(
        _config(args), recipe=Recipe(checked_weight=args.checked_weight, seed=args.seed)
    )
    result = tailtune(
        config,
        TailConfig(args.out, args.epochs, args.minutes, args.lr, order_seed=args.order_seed),
    )
    print(json.dumps(result, indent=1))


def _average_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoints", type=Path, nargs="+", help="backbone checkpoints")
    parser.add_argument("--out", type=Path, required=True, help="checkpoint to write")


def _average(args: argparse.Namespace) -> None:
    from training.average import write_average

    write_average(args.checkpoints, args.out)
    print(f"{args.out}: mean of {len(args.checkpoints)} checkpoints (use it with --weights)")


# --- quantize, features, compare, evaluate ------------------------------------------------


def _quantize_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", type=Path, help="a bundle folder written by fit (fp32)")
    parser.add_argument("--out", type=Path, required=True, help="new folder for the int8 bundle")
    parser.add_argument(
        "--data",
        type=Path,
        nargs="+",
        help="the photos given to fit (default: those its manifest names); the seeded split "
        "gives the calibration photos and the validation check",
    )
    parser.add_argument("--seed", type=int, default=0, help="the split's seed, as given to fit")
    parser.add_argument("--version", help="the int8 bundle's version (default: VERSION-int8)")
    parser.add_argument("--report", type=Path, help="also evaluate it on the test split here")
    parser.add_argument("--threads", type=int, default=2)


def _quantize(args: argparse.Namespace) -> None:
    from training.quantize import QuantizeError, quantize_bundle

    result = quantize_bundle(
        args.bundle,
        args.out,
        args.data,
        args.seed,
        args.version,
        args.report,
        command="vitrina-train " + shlex.join(sys.argv[1:]),
    )
    print(json.dumps(result, indent=1, default=float))
    if not result["kept"]:
        raise QuantizeError(
            f"{args.bundle}: int8 lost more than {result['tolerance']:.0%} validation top-1 "
            "on a family (above); no bundle was written, keep the fp32 one."
        )


def _features_args(parser: argparse.ArgumentParser) -> None:
    _common(parser)
    parser.add_argument("--mirrored", action="store_true", help="also the training mirrors")


def _features(args: argparse.Namespace) -> None:
    from training.pipeline import prepare

    config = _config(args)
    config.recipe = Recipe(mirrored=args.mirrored)
    prepared = prepare(config)
    print(f"{len(prepared.photos)} photos cached under {config.cache_dir}")


def _compare_args(parser: argparse.ArgumentParser) -> None:
    _common(parser)
    parser.add_argument("--out", type=Path, help="write the Markdown table here")


def _compare(args: argparse.Namespace) -> None:
    from training.experiments.recipes import compare
    from training.pipeline import prepare

    config = _config(args)
    config.recipe = Recipe(mirrored=True)
    lines = compare(prepare(config))
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


def _evaluate_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", type=Path)
    parser.add_argument("data", type=Path, nargs="+")
    parser.add_argument("--family", choices=FAMILIES)
    parser.add_argument(
        "--split",
        choices=("all", "train", "val", "test"),
        default="all",
        help="only this part of the seeded split; give the same data as fit, since the split "
        "depends on the whole photo list",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="report folder")
    parser.add_argument("--threads", type=int, default=2)


def _evaluate(args: argparse.Namespace) -> None:
    from training.datasets import load_data, split
    from training.evaluate import evaluate

    photos = load_data(args.data, args.family)
    if args.split != "all":
        photos = split(photos, args.seed)[args.split]
    metrics = evaluate(args.bundle, photos, args.out, f"{len(photos)} photos ({args.split}).")
    print(
        json.dumps(
            {f: {k: m[k] for k in ("top1", "top3")} for f, m in metrics.items() if "top1" in m},
            indent=1,
        )
    )


COMMANDS: tuple[Command, ...] = (
    Command("fit", "features -> heads -> export -> calibrate -> evaluate", _fit_args, _fit),
    Command(
        "tailtune",
        "stage 2 on the CPU: train the backbone's tail on cached stem maps, "
        "write a checkpoint for fit --weights",
        _tailtune_args,
        _tailtune,
    ),
    Command(
        "average",
        "average backbone checkpoints of one run into a --weights file",
        _average_args,
        _average,
    ),
    Command(
        "quantize",
        "int8 copy of a fit bundle (the backbone's tail), kept if within 1 point of fp32",
        _quantize_args,
        _quantize,
    ),
    Command("features", "extract and cache backbone features only", _features_args, _features),
    Command(
        "compare", "recipe comparison on cached features (validation)", _compare_args, _compare
    ),
    Command("evaluate", "evaluate a bundle on labelled photos", _evaluate_args, _evaluate),
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vitrina-train", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        options = sub.add_parser(command.name, help=command.help)
        command.arguments(options)
        options.set_defaults(run=command.handler)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if "threads" in args:
        torch.set_num_threads(args.threads)
    try:
        args.run(args)
    except VitrinaError as exc:
        print(f"vitrina-train: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
