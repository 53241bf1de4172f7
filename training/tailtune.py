"""Stage 2 on the CPU: fine-tune the backbone's tail on cached stem maps.

Why: a full stage 2 needs a GPU (a pass of Lite2 takes 2.3 h on two cores). Here the
stem (everything up to the mid-level tap, stride 8) stays frozen and its output maps are
computed once and cached like the features, so a step runs only the tail (the stride-16
and stride-32 stages, hence the garment tap and the final features) and the heads. The
colour and pattern heads read the garment tap, so the hand-checked labels can reshape
it. It trains with ``training.loop``, as ``training.finetune`` does. The result is a
backbone checkpoint for ``vitrina-train fit --weights``, which re-extracts the features
and trains the shipped recipe's heads on them (docs/training.md).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from training.backbones import build_backbone
from training.datasets import Photo
from training.features import cache_folder, cached_arrays, preprocessing_for
from training.loop import UNKNOWN, Deadline, Loop, adamw, label_indices, masked_loss
from training.network import VitrinaNet
from training.pipeline import FitConfig, Prepared, build_net, prepare, train_heads


@dataclass
class TailConfig:
    """How long and how fast the tail trains; where its checkpoint goes."""

    out: Path
    epochs: int = 1
    minutes: float | None = None
    lr: float = 1e-4
    batch_size: int = 32
    # The batches' order and dropout; None: the split's seed. Another value gives a sibling
    # run from the same checkpoint on the same split, to average with (training.average).
    order_seed: int | None = None


def stem_maps(photos: Sequence[Photo], config: FitConfig) -> np.ndarray:
    """The frozen stem's output map of every photo (N, C, h, w), float16, cached."""
    pre = preprocessing_for(config.backbone, config.size)

    def make() -> nn.Module:
        return build_backbone(
            config.backbone, pre.size[0], config.weights, config.from_scratch
        ).stem

    folder = cache_folder(config.cache_dir, config.backbone, pre, config.weights, kind="stem")
    (maps,) = cached_arrays(
        [p.path for p in photos], folder, make, pre, ("stem",), label="stem maps"
    )
    return maps


def targets(
    photos: Sequence[Photo], labels: dict[str, tuple[str, ...]], checked_weight: int
) -> tuple[np.ndarray, np.ndarray]:
    """(class index per photo and family, -100 where unknown; loss weight per photo and
    family: hand-checked labels count ``checked_weight`` times, as in stage 1)."""
    w = np.array(
        [[float(checked_weight) if f in p.checked else 1.0 for f in labels] for p in photos],
        dtype=np.float32,
    )
    return label_indices(photos, labels), w


def tail_logits(
    net: VitrinaNet, maps: torch.Tensor, descriptor: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Every family's logits from stem maps and the colour descriptor (cached inputs)."""
    final, mid, garment = net.backbone.pooled(maps)
    inputs = {"final": final, "mid": mid, "garment": garment, "descriptor": descriptor}
    return net.heads_on(inputs)[0]


@torch.no_grad()
def top1(
    net: VitrinaNet, maps: np.ndarray, descriptor: np.ndarray, y: np.ndarray, batch: int = 64
) -> dict[str, float]:
    """Top-1 per family on photos given as cached inputs."""
    net.eval()
    hits = {f: [] for f in net.families}
    for start in range(0, len(maps), batch):
        logits = tail_logits(
            net,
            torch.from_numpy(maps[start : start + batch].astype(np.float32)),
            torch.from_numpy(descriptor[start : start + batch]),
        )
        for j, family in enumerate(net.families):
            known = y[start : start + batch, j] != UNKNOWN
            pred = logits[family].argmax(1).numpy()
            hits[family].extend(pred[known] == y[start : start + batch, j][known])
    return {f: round(float(np.mean(h)), 4) for f, h in hits.items() if h}


def train_tail(
    net: VitrinaNet,
    maps: np.ndarray,
    descriptor: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    tail: TailConfig,
    seed: int = 0,
) -> int:
    """Train the tail and the heads in place; stops after ``tail.epochs`` or
    ``tail.minutes``, whichever comes first. Returns the steps taken."""
    if tail.order_seed is not None:
        seed = tail.order_seed
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)

    def batches(number: int) -> list[np.ndarray]:
        order = rng.permutation(len(maps))
        starts = range(0, len(order) - tail.batch_size + 1, tail.batch_size)
        return [np.sort(order[start : start + tail.batch_size]) for start in starts]

    def batch_loss(rows: np.ndarray) -> torch.Tensor:
        logits = tail_logits(
            net,
            torch.from_numpy(maps[rows].astype(np.float32)),
            torch.from_numpy(descriptor[rows]),
        )
        return masked_loss(logits, torch.from_numpy(y[rows]), torch.from_numpy(w[rows]))

    loop = Loop(
        net,
        adamw(net.backbone.tail, net.heads, tail.lr),
        batch_loss,
        frozen=net.backbone,
        label="tail epoch",
    )
    deadline = (
        Deadline(time.monotonic() + tail.minutes * 60, mid_epoch=True) if tail.minutes else None
    )
    steps = 0
    for done in loop.epochs(tail.epochs, batches, deadline):
        steps += done.steps
        if done.whole:
            print(f"tail epoch {done.number}: loss {done.loss:.4f}")
        else:
            print(f"time budget reached after {steps} steps (epoch {done.number})")
    return steps


def tailtune(config: FitConfig, tail: TailConfig) -> dict:
    """Stage-1 heads, then the tail and heads trained on cached stem maps; writes the
    backbone checkpoint to ``tail.out`` and returns validation top-1 before and after."""
    torch.manual_seed(config.seed)
    prepared: Prepared = prepare(config)
    net = build_net(config, prepared, train_heads(prepared, config.recipe))
    sets = {}
    for name in ("train", "val"):
        photos = prepared.parts[name]
        y, w = targets(photos, prepared.labels, config.recipe.checked_weight)
        descriptor = prepared.inputs[name].descriptor.astype(np.float32)
        sets[name] = (stem_maps(photos, config), descriptor, y, w)
    result = {"before": top1(net, *sets["val"][:3])}
    print(f"validation top-1 before: {result['before']}")
    result["steps"] = train_tail(net, *sets["train"], tail, config.seed)
    result["after"] = top1(net, *sets["val"][:3])
    print(f"validation top-1 after: {result['after']}")
    tail.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.backbone.checkpoint(), tail.out)
    print(f"backbone checkpoint: {tail.out} (use it with vitrina-train fit --weights)")
    return result
