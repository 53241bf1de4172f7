"""Stage 1: per-family heads (dense 256 -> 64 -> softmax, as in the study) on cached features.

Heads share nothing while the backbone is frozen, so the masked multi-task loss reduces
to training each family on the photos that have its label; that is what happens here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from training.colour import ColourDescriptor


@dataclass
class Recipe:
    """How heads are trained; the defaults are what measured best (docs/training.md)."""

    epochs: int = 10
    lr: float = 1e-3
    batch_size: int = 64
    weight_decay: float = 1e-4
    dropout: float = 0.2
    label_smoothing: float = 0.1
    class_weights: bool = True
    mirrored: bool = False
    colour_descriptor: bool = True
    colour_mid: bool = True
    colour_final: bool = False
    # Colour and pattern also read the garment tap (training.backbones.garment_pool):
    # +7 to +8 points colour on consumer photos (docs/quality.md).
    garment_tap: bool = True
    one_cycle: bool = True
    # Hand-checked labels (a label map's checked_labels) count this many times: a few
    # hundred consumer photos against thousands of catalog shots (docs/quality.md).
    checked_weight: int = 4
    seed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class HeadInputs:
    """What each head reads, per photo: backbone features, mid tap, colour descriptor,
    garment tap."""

    final: np.ndarray
    mid: np.ndarray
    descriptor: np.ndarray
    garment: np.ndarray
    parts: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def for_family(self, family: str) -> np.ndarray:
        arrays = {
            "final": self.final,
            "mid": self.mid,
            "descriptor": self.descriptor,
            "garment": self.garment,
        }
        return np.concatenate([arrays[p] for p in self.parts[family]], axis=1)


def head_parts(family: str, recipe: Recipe) -> tuple[str, ...]:
    """Which inputs a family's head reads.

    Colour reads the mid-level tap and the garment histogram: the final pooled features
    add object identity, which measured slightly worse for colour (docs/training.md).
    Colour and pattern also read the garment tap, which weighs the product over its
    surroundings (docs/quality.md).
    """
    garment = ("garment",) if recipe.garment_tap and family in ("colour", "pattern") else ()
    if family != "colour":
        return ("final", *garment)
    parts = (
        ["final"]
        if recipe.colour_final or not (recipe.colour_mid or recipe.colour_descriptor)
        else []
    )
    if recipe.colour_mid:
        parts.append("mid")
    if recipe.colour_descriptor:
        parts.append("descriptor")
    return (*parts, *garment)


def describe_thumbnails(thumb: np.ndarray, descriptor: ColourDescriptor) -> np.ndarray:
    with torch.no_grad():
        return descriptor.describe(torch.from_numpy(thumb)).numpy()


class FamilyHead(nn.Module):
    """Standardise -> 256 -> ReLU -> 64 -> ReLU -> K; the 64-d activation is the embedding."""

    def __init__(self, in_dim: int, classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.register_buffer("shift", torch.zeros(in_dim))
        self.register_buffer("scale", torch.ones(in_dim))
        self.hidden = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(in_dim, 256), nn.ReLU(), nn.Linear(256, 64), nn.ReLU()
        )
        self.out = nn.Linear(64, classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.hidden((x - self.shift) / self.scale)
        return self.out(h), h


def train_head(
    x: np.ndarray,
    y: np.ndarray,
    classes: int,
    recipe: Recipe,
    x_mirrored: np.ndarray | None = None,
) -> FamilyHead:
    """Fit one head with Adam; mirrored features double the training set when given."""
    torch.manual_seed(recipe.seed)
    rng = np.random.default_rng(recipe.seed)
    head = FamilyHead(x.shape[1], classes, recipe.dropout)
    head.shift.copy_(torch.from_numpy(x.mean(0)))
    head.scale.copy_(torch.from_numpy(x.std(0) + 1e-3))
    if recipe.mirrored and x_mirrored is not None:
        x, y = np.concatenate([x, x_mirrored]), np.concatenate([y, y])
    weight = None
    if recipe.class_weights:
        counts = np.bincount(y, minlength=classes).astype(np.float32)
        w = np.where(counts > 0, (counts.sum() / np.maximum(counts, 1) / classes) ** 0.5, 0.0)
        weight = torch.from_numpy(w.astype(np.float32))
    optimiser = torch.optim.Adam(head.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    steps = recipe.epochs * int(np.ceil(len(x) / recipe.batch_size))
    schedule = (
        torch.optim.lr_scheduler.OneCycleLR(optimiser, recipe.lr, total_steps=steps)
        if recipe.one_cycle
        else torch.optim.lr_scheduler.LambdaLR(optimiser, lambda _: 1.0)
    )
    xt, yt = torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.int64))
    head.train()
    for _ in range(recipe.epochs):
        order = torch.from_numpy(rng.permutation(len(x)))
        for start in range(0, len(x), recipe.batch_size):
            idx = order[start : start + recipe.batch_size]
            logits, _ = head(xt[idx])
            loss = F.cross_entropy(
                logits, yt[idx], weight=weight, label_smoothing=recipe.label_smoothing
            )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    return head.eval()


@torch.no_grad()
def predict(head: FamilyHead, x: np.ndarray) -> np.ndarray:
    """Softmax probabilities (N, K)."""
    logits, _ = head(torch.from_numpy(x.astype(np.float32)))
    return torch.softmax(logits, dim=1).numpy()
