"""Stage 1: per-family heads (dense 256 -> 64 -> softmax, as in the study) on cached features.

Heads share nothing while the backbone is frozen, so the masked multi-task loss reduces
to training each family on the photos that have its label; that is what happens here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

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
    # +6 points colour on consumer photos (docs/quality.md).
    garment_tap: bool = True
    # The colour head is the mean of this many heads trained alike from different seeds:
    # smoother confidences, so its 95 %-precision threshold keeps far more tags
    # (docs/quality.md). Pattern measured no better with it.
    colour_members: int = 3
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

    @property
    def in_dim(self) -> int:
        return self.shift.shape[0]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.hidden((x - self.shift) / self.scale)
        return self.out(h), h


class HeadEnsemble(nn.Module):
    """Heads trained alike from different seeds, answering as one :class:`FamilyHead`.

    The "logits" are the log of the members' mean probability, so the graph's softmax gives
    that mean back; the embedding's activation is the first member's (activations of
    separately trained heads share no basis to average in).
    """

    def __init__(self, members: Sequence[FamilyHead]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    @property
    def in_dim(self) -> int:
        return self.members[0].in_dim

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        outputs = [member(x) for member in self.members]
        probs = torch.stack([torch.softmax(logits, dim=1) for logits, _ in outputs]).mean(0)
        return probs.clamp_min(1e-12).log(), outputs[0][1]


Head = FamilyHead | HeadEnsemble
"""What a family's answer comes from: one head or an ensemble of them."""


def members(family: str, recipe: Recipe) -> int:
    """How many heads a family's answer averages."""
    return max(1, recipe.colour_members) if family == "colour" else 1


def make_head(family: str, in_dim: int, classes: int, recipe: Recipe) -> Head:
    """An untrained head of the recipe's shape for ``family`` (to load saved weights into)."""
    heads = [FamilyHead(in_dim, classes, recipe.dropout) for _ in range(members(family, recipe))]
    return heads[0] if len(heads) == 1 else HeadEnsemble(heads)


def train_family_head(
    family: str,
    x: np.ndarray,
    y: np.ndarray,
    classes: int,
    recipe: Recipe,
    x_mirrored: np.ndarray | None = None,
) -> Head:
    """The family's head: one :func:`train_head`, or an ensemble of them (``members``)."""
    count = members(family, recipe)
    if count == 1:
        return train_head(x, y, classes, recipe, x_mirrored)
    return HeadEnsemble(
        [
            train_head(x, y, classes, replace(recipe, seed=recipe.seed + i), x_mirrored)
            for i in range(count)
        ]
    )


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
def predict(head: Head, x: np.ndarray) -> np.ndarray:
    """Softmax probabilities (N, K)."""
    logits, _ = head(torch.from_numpy(x.astype(np.float32)))
    return torch.softmax(logits, dim=1).numpy()
