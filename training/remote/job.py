"""The job a pack carries: stage 1 + stage 2 for each backbone on the packed photos.

Runs where ``run.sh`` starts it, on the GPU machine (or on a CPU, for a dry run). Every
photo is decoded once (a pool of processes) into one uint8 tensor on the GPU, and
augmentation (mirror, random crop/scale; never colour: colour is a label) runs there too,
so the GPU does not wait on the CPU. Stage 1 is the training package's own head recipe on
frozen features (``pipeline.train_heads``); stage 2 fine-tunes ``training.network.VitrinaNet``
end to end with ``training.loop``, so the result loads and exports with the package's code
on the CPU (``training.remote.unpack``).

Order of work: each backbone with batch-norm statistics frozen, then (``--bn both``) each
again with batch norm in training mode; per backbone the variant with the better mean
validation top-1 is returned. Every epoch is checkpointed, so a rerun after an
interruption resumes. With ``--deadline-s`` (a machine held for a fixed time), epochs and
variants that would not end in time are skipped, and the results are written before it.
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import math
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import torch
from PIL import Image, features
from torch.nn import functional as F

from training.backbones import SPECS, build_backbone
from training.colour import ColourDescriptor
from training.datasets import Photo
from training.heads import HeadInputs, Recipe, head_parts, make_head
from training.loop import (
    UNKNOWN,
    Checkpoints,
    Deadline,
    Loop,
    adamw,
    label_indices,
    masked_loss,
    save_atomic,
)
from training.network import VitrinaNet
from training.pipeline import Prepared, train_heads, validation_scores
from training.remote import blob
from training.remote.pack import WEIGHT_FILES

STARTED = time.monotonic()
RESERVE_S = 40.0
"""Seconds kept back for writing results after the last epoch."""


def log(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:7.1f}s] {message}", flush=True)


@dataclass
class Data:
    """Every packed photo decoded once: (N, 3, S, S) uint8 and (N, F) label indices."""

    photos: list[Photo]
    images: torch.Tensor
    targets: torch.Tensor
    train: torch.Tensor
    val: torch.Tensor
    labels: dict[str, tuple[str, ...]]


def _decode(path: str) -> np.ndarray:
    if features.check("webp"):
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    from torchvision.io import ImageReadMode, decode_image, read_file

    return decode_image(read_file(path), ImageReadMode.RGB).permute(1, 2, 0).numpy()


def load_pack(folder: Path, device: torch.device, workers: int, limit: int | None) -> Data:
    info = json.loads((folder / "families.json").read_text(encoding="utf-8"))
    labels = {f: tuple(names) for f, names in info["families"].items()}
    rows = {"train": [], "val": []}
    with (folder / "labels.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            rows[row["split"]].append(row)
    if limit:  # spread over the file, so the sample has catalog photos and every family
        step = max(1, len(rows["train"]) // limit)
        rows = {"train": rows["train"][::step][:limit], "val": rows["val"][: max(4, limit // 4)]}
    ordered = rows["train"] + rows["val"]
    photos = [
        Photo(folder / r["image"], r["source"], {f: r[f] for f in labels if r.get(f)})
        for r in ordered
    ]
    trained = {f for p in photos[: len(rows["train"])] for f in p.labels}
    labels = {f: names for f, names in labels.items() if f in trained}
    began = time.monotonic()
    with Pool(workers) as pool:
        arrays = pool.map(_decode, [str(p.path) for p in photos], chunksize=64)
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous().to(device)
    targets = torch.from_numpy(label_indices(photos, labels)).to(device)
    n_train = len(rows["train"])
    log(
        f"decoded {len(photos)} photos ({n_train} train, {len(rows['val'])} val) "
        f"{tuple(images.shape)} in {time.monotonic() - began:.1f} s with {workers} processes"
    )
    return Data(
        photos,
        images,
        targets,
        torch.arange(n_train, device=device),
        torch.arange(n_train, len(photos), device=device),
        labels,
    )


class Inputs:
    """uint8 squares -> normalised network input, with optional GPU augmentation."""

    def __init__(self, backbone: str, size: int, device: torch.device) -> None:
        spec = SPECS[backbone]
        self.size = size
        self.mean = torch.tensor(spec.mean, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(spec.std, device=device).view(1, 3, 1, 1)

    def __call__(self, u8: torch.Tensor, augment: bool = False, flip: bool = False) -> torch.Tensor:
        x = u8.float() / 255.0
        n = x.shape[0]
        if augment:  # the CPU recipe's mirror + 0.8-1.0 crop, as one affine resample
            scale = torch.empty(n, device=x.device).uniform_(0.8, 1.0)
            mirror = torch.where(torch.rand(n, device=x.device) < 0.5, -1.0, 1.0)
            shift = (torch.rand(n, 2, device=x.device) * 2 - 1) * (1 - scale)[:, None]
            theta = torch.zeros(n, 2, 3, device=x.device)
            theta[:, 0, 0], theta[:, 1, 1] = scale * mirror, scale
            theta[:, :, 2] = shift
            grid = F.affine_grid(theta, [n, 3, self.size, self.size], align_corners=False)
            x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        elif x.shape[-1] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True)
        if flip:
            x = x.flip(3)
        x = (x - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last)


@dataclass
class Settings:
    size: int | None
    head_epochs: int
    epochs: int
    batch: int
    lr: float
    max_steps: int | None
    deadline_s: float | None
    random_init: bool
    weights: Path
    checkpoints: Path


def _autocast(device: torch.device):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


def _descriptor_in_fp32(descriptor: ColourDescriptor, device: torch.device) -> None:
    """The colour histogram's soft assignment (temperature 0.02) is too sharp for bf16."""
    inner = descriptor.forward

    def forward(x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device.type, enabled=False):
            return inner(x.float())

    descriptor.forward = forward


@torch.inference_mode()
def _features(backbone, descriptor, data: Data, rows, inputs: Inputs, flip: bool, batch: int):
    finals, mids, descs, garments = [], [], [], []
    for start in range(0, len(rows), batch):
        x = inputs(data.images[rows[start : start + batch]], flip=flip)
        with _autocast(x.device):
            final, mid, garment = backbone(x)
        finals.append(final.float().cpu())
        mids.append(mid.float().cpu())
        descs.append(descriptor(x).float().cpu())
        garments.append(garment.float().cpu())
    return [torch.cat(t).numpy() for t in (finals, mids, descs, garments)]


def stage1(name: str, data: Data, recipe: Recipe, settings: Settings, device) -> tuple:
    """Frozen backbone: features once (plain + mirrored), heads by the package's recipe."""
    spec = SPECS[name]
    size = settings.size or spec.size
    weights = None if settings.random_init else settings.weights / WEIGHT_FILES[name]
    backbone = build_backbone(name, size, weights, from_scratch=settings.random_init)
    backbone = backbone.to(device, memory_format=torch.channels_last).eval()
    descriptor = ColourDescriptor(size, spec.mean, spec.std).to(device)
    _descriptor_in_fp32(descriptor, device)
    inputs = Inputs(name, size, device)
    parts = {f: head_parts(f, recipe) for f in data.labels}
    folder = settings.checkpoints / name
    saved = folder / "stage1.pt"
    train_photos = [data.photos[i] for i in data.train.tolist()]
    val_photos = [data.photos[i] for i in data.val.tolist()]
    if saved.is_file():
        state = torch.load(saved, map_location="cpu", weights_only=True)
        heads = {f: make_head(f, state["in_dim"][f], len(data.labels[f]), recipe) for f in parts}
        for f, head in heads.items():
            head.load_state_dict(state["heads"][f])
        log(f"{name}: stage 1 resumed from {saved}")
        return backbone, descriptor, heads, parts, state["metrics"], size
    began = time.monotonic()
    batch = 2 * settings.batch
    views = {
        "train": _features(backbone, descriptor, data, data.train, inputs, False, batch),
        "val": _features(backbone, descriptor, data, data.val, inputs, False, batch),
    }
    mirrored = _features(backbone, descriptor, data, data.train, inputs, True, batch)
    extracted = time.monotonic() - began
    prepared = Prepared(
        photos=train_photos + val_photos,
        parts={"train": train_photos, "val": val_photos},
        labels=data.labels,
        inputs={k: HeadInputs(*v, parts) for k, v in views.items()},
        mirrored=HeadInputs(*mirrored, parts),
        descriptor=descriptor,
    )
    heads = train_heads(prepared, recipe)
    metrics = _score_summary(validation_scores(prepared, heads))
    metrics["wall_s"] = {"features": extracted, "heads": time.monotonic() - began - extracted}
    log(
        f"{name}: stage 1 val {_brief(metrics)}; features {extracted:.0f} s, total "
        f"{time.monotonic() - began:.0f} s"
    )
    in_dim = {f: h.in_dim for f, h in heads.items()}
    save_atomic(
        {
            "heads": {f: h.state_dict() for f, h in heads.items()},
            "in_dim": in_dim,
            "metrics": metrics,
        },
        saved,
    )
    return backbone, descriptor, heads, parts, metrics, size


def _score_summary(scores: dict[str, dict]) -> dict:
    return {
        f: {
            "top1": round(float(s["correct"].mean()), 4),
            "top3": round(float(s["top3"].mean()), 4),
            "n": len(s["correct"]),
        }
        for f, s in scores.items()
    }


def _brief(metrics: dict) -> str:
    return ", ".join(
        f"{f} {m['top1']:.3f}" for f, m in metrics.items() if isinstance(m, dict) and "top1" in m
    )


@torch.inference_mode()
def validate(net: VitrinaNet, data: Data, inputs: Inputs, batch: int) -> dict:
    """Top-1/top-3 per family on the validation photos (no augmentation)."""
    net.eval()
    probs: dict[str, list[torch.Tensor]] = {f: [] for f in net.families}
    for start in range(0, len(data.val), batch):
        x = inputs(data.images[data.val[start : start + batch]])
        with _autocast(x.device):
            outputs = net(x)
        for f, p in zip(net.families, outputs, strict=False):
            probs[f].append(p.float())
    result = {}
    for j, f in enumerate(data.labels):
        if f not in probs:
            continue
        y = data.targets[data.val, j]
        known = y != UNKNOWN
        if not known.any():
            continue
        ranked = torch.cat(probs[f])[known].argsort(dim=1, descending=True)
        y = y[known]
        result[f] = {
            "top1": round(float((ranked[:, 0] == y).float().mean()), 4),
            "top3": round(float((ranked[:, :3] == y[:, None]).any(1).float().mean()), 4),
            "n": int(known.sum()),
        }
    return result


def stage2(
    net: VitrinaNet,
    data: Data,
    inputs: Inputs,
    settings: Settings,
    bn: str,
    folder: Path,
    device: torch.device,
) -> dict:
    """Unfreeze everything: ``training.loop`` with warm-up + cosine, bf16, augmented on the
    GPU; validation after every epoch, a checkpoint after each."""
    optimiser = adamw(net.backbone, net.heads, settings.lr, fused=device.type == "cuda")
    batches_per_epoch = max(1, len(data.train) // settings.batch)
    steps_per_epoch = min(batches_per_epoch, settings.max_steps or batches_per_epoch)
    total = steps_per_epoch * settings.epochs
    warmup = max(1, total // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser,
        lambda s: (
            min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total))
        ),
    )
    families = list(data.labels)

    def batches(number: int) -> Iterator[torch.Tensor]:
        order = data.train[torch.randperm(len(data.train), device=device)]
        return (
            order[i * settings.batch : (i + 1) * settings.batch] for i in range(batches_per_epoch)
        )

    def batch_loss(rows: torch.Tensor) -> torch.Tensor:
        x = inputs(data.images[rows], augment=True)
        with _autocast(device):
            logits, _ = net.logits_and_hidden(x)
        return masked_loss({f: logits[f] for f in families}, data.targets[rows])

    loop = Loop(
        net,
        optimiser,
        batch_loss,
        frozen=net.backbone if bn == "frozen" else None,
        schedule=schedule,
        checkpoints=Checkpoints(folder),
    )
    history: list[dict] = []
    resumed = loop.resume(device)
    if resumed is not None:
        history = resumed[1]["history"]
        log(f"resumed stage 2 from {resumed[0]}")
    deadline = None
    if settings.deadline_s is not None:
        deadline = Deadline(STARTED + settings.deadline_s - RESERVE_S)
    for done in loop.epochs(settings.epochs, batches, deadline, settings.max_steps):
        val = validate(net, data, inputs, 2 * settings.batch)
        seen = done.steps * settings.batch
        history.append(
            {
                "epoch": done.number,
                "loss": round(done.loss, 4),
                "wall_s": round(done.wall_s, 2),
                "photos_per_s": round(seen / done.wall_s, 1),
                "val": val,
            }
        )
        log(
            f"{folder.name} epoch {done.number}/{settings.epochs}: loss {done.loss:.3f}, "
            f"{done.wall_s:.1f} s ({seen / done.wall_s:.0f} photos/s), val {_brief(val)}"
        )
        loop.save(history=history)
    if deadline is not None and loop.epoch < settings.epochs:
        remaining = settings.deadline_s - (time.monotonic() - STARTED)
        log(f"deadline: {remaining:.0f} s left, skipping epochs {loop.epoch + 1}-{settings.epochs}")
    return {
        "bn": bn,
        "epochs_done": len(history),
        "complete": len(history) == settings.epochs,
        "history": history,
        "val": history[-1]["val"] if history else {},
    }


def _mean_top1(val: dict) -> float:
    return float(np.mean([m["top1"] for m in val.values()])) if val else -1.0


def run(args: argparse.Namespace) -> dict:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(args.seed)
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    deadline = "none" if args.deadline_s is None else f"{args.deadline_s:.0f} s"
    log(
        f"device {torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'}, "
        f"torch {torch.__version__}, deadline {deadline}"
    )
    settings = Settings(
        size=args.size,
        head_epochs=args.head_epochs,
        epochs=args.epochs,
        batch=args.batch,
        lr=args.lr,
        max_steps=args.max_steps,
        deadline_s=args.deadline_s,
        random_init=args.random_init,
        weights=args.weights,
        checkpoints=args.checkpoints,
    )
    recipe = Recipe(epochs=args.head_epochs, seed=args.seed)
    data = load_pack(args.data, device, args.workers, args.limit)
    modes = ["frozen", "train"] if args.bn == "both" else [args.bn]
    results: dict[str, dict] = {}
    stage1_cache: dict[str, tuple] = {}
    for bn in modes:
        for name in args.backbones:
            elapsed = time.monotonic() - STARTED
            done = results.get(name, {}).get("variants", {})
            walls = [h["wall_s"] for v in done.values() for h in v["history"]]
            if done and args.deadline_s is not None:  # a second variant only if it fits
                epoch_s = max(walls, default=float("inf"))
                if elapsed + epoch_s * args.epochs * 1.15 + RESERVE_S > args.deadline_s:
                    log(f"{name}: no time for bn={bn} ({epoch_s:.1f} s/epoch); skipped")
                    continue
            if name not in stage1_cache:
                stage1_cache[name] = stage1(name, data, recipe, settings, device)
            backbone, descriptor, heads, parts, s1, size = stage1_cache[name]
            net = VitrinaNet(copy.deepcopy(backbone), descriptor, copy.deepcopy(heads), parts)
            net = net.to(device, memory_format=torch.channels_last)
            folder = settings.checkpoints / name / f"stage2-bn-{bn}"
            outcome = stage2(net, data, Inputs(name, size, device), settings, bn, folder, device)
            entry = results.setdefault(
                name,
                {
                    "size": size,
                    "stage1": s1,
                    "variants": {},
                    "in_dim": {f: h.in_dim for f, h in heads.items()},
                },
            )
            entry["variants"][bn] = outcome
            best = entry.get("chosen")
            if best is None or _mean_top1(outcome["val"]) > _mean_top1(
                entry["variants"][best]["val"]
            ):
                entry["chosen"] = bn
                entry["state"] = {
                    k: v.detach().to("cpu", copy=True) for k, v in net.state_dict().items()
                }
            del net
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return {
        "results": results,
        "recipe": recipe.as_dict(),
        "labels": data.labels,
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "settings": {k: str(v) for k, v in vars(args).items()},
    }


def write_results(summary: dict, out: Path, chunk_mib: float | None = None) -> None:
    """Per backbone: its compressed state (in chunks of at most ``chunk_mib``); then
    metrics.json (everything but tensors)."""
    out.mkdir(parents=True, exist_ok=True)
    chunk_bytes = None if chunk_mib is None else int(chunk_mib * 2**20)
    for name, entry in summary["results"].items():
        state = entry.pop("state")
        entry["blob"] = blob.write_chunks(blob.dumps(state), out, name, chunk_bytes)
        log(
            f"{name}: wrote {entry['blob']['chunks']} ({entry['blob']['bytes'] / 2**20:.1f} MiB), "
            f"bn={entry['chosen']}"
        )
    summary["wall_s"] = round(time.monotonic() - STARTED, 1)
    (out / "metrics.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    files = sorted(p for p in out.iterdir() if p.is_file())
    size = sum(p.stat().st_size for p in files) / 2**20
    log(f"{out}: {len(files)} files, {size:.1f} MiB; copy the folder back and unpack it")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training.remote.job", description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("data"), help="the packed photos")
    parser.add_argument("--weights", type=Path, default=Path("weights"), help="packed weights")
    parser.add_argument("--out", type=Path, default=Path("results"), help="what to bring back")
    parser.add_argument(
        "--checkpoints",
        type=Path,
        default=Path("checkpoints"),
        help="stage-1 heads and stage-2 epochs; a rerun resumes from them",
    )
    parser.add_argument(
        "--backbones",
        nargs="+",
        choices=sorted(WEIGHT_FILES),
        help="default: every backbone whose weights were packed",
    )
    parser.add_argument("--bn", choices=("frozen", "train", "both"), default="both")
    parser.add_argument("--size", type=int, help="input side (default: the backbone's)")
    parser.add_argument("--head-epochs", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=10, help="stage 2 epochs")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-4, help="backbone LR (heads 10x)")
    parser.add_argument("--max-steps", type=int, help="cap on steps per stage-2 epoch")
    parser.add_argument(
        "--deadline-s",
        type=float,
        help="write the results within this many seconds of the start, skipping what would "
        "not end in time (default: no deadline)",
    )
    parser.add_argument(
        "--chunk-mib",
        type=float,
        help="split each backbone's weights into files of at most this many MiB "
        "(default: one file)",
    )
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="photo-decoding processes"
    )
    parser.add_argument("--limit", type=int, help="only the first N train photos (dry runs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--random-init", action="store_true", help="no weights (tests only)")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="prove the code path: 1 head epoch, 1 step, 1 epoch, size 64, batch 4",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.backbones is None:
        args.backbones = [n for n, f in WEIGHT_FILES.items() if (args.weights / f).is_file()]
        if not args.backbones:
            parser.error(f"{args.weights}: no packed weights; name --backbones")
    if args.dry_run:
        args.head_epochs, args.epochs, args.max_steps = 1, 1, 1
        args.size, args.batch = args.size or 64, min(args.batch, 4)
        args.workers = min(args.workers, os.cpu_count() or 1)
        args.bn = "frozen" if args.bn == "both" else args.bn
    summary = run(args)
    write_results(summary, args.out, args.chunk_mib)
    return 0


if __name__ == "__main__":
    sys.exit(main())
