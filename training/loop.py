"""The stage-2 training loop that fine-tuning, tail tuning and the remote job share.

Why one loop: all three train the same way (the backbone, or its tail, at a small learning
rate and the heads at ten times it; the masked multi-task loss; batch-norm statistics
frozen) and differ only in where their batches come from and how a batch goes forward.
Each caller gives those two; the loop owns the rest: parameter groups, the loss, epochs
with an optional deadline or step cap, progress, and checkpoints a kill cannot corrupt.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from training.datasets import Photo

UNKNOWN = -100
HEAD_LR_FACTOR = 10
WEIGHT_DECAY = 1e-4
LABEL_SMOOTHING = 0.1
POSTFIX_EVERY = 20
"""Steps between two updates of the progress bar's running loss."""

Batch = TypeVar("Batch")


def label_indices(photos: Sequence[Photo], labels: dict[str, tuple[str, ...]]) -> np.ndarray:
    """(N, families) class indices, ``UNKNOWN`` where a photo has no label of the family:
    what every stage-2 loss reads."""
    index = {f: {label: i for i, label in enumerate(names)} for f, names in labels.items()}
    return np.array(
        [[index[f].get(p.labels.get(f, ""), UNKNOWN) for f in labels] for p in photos],
        dtype=np.int64,
    ).reshape(len(photos), len(labels))


def masked_loss(
    logits: dict[str, torch.Tensor], y: torch.Tensor, w: torch.Tensor | None = None
) -> torch.Tensor:
    """Sum over families (``logits`` in the order of ``y``'s columns) of the mean
    cross-entropy (label smoothing 0.1) of the photos labelled in it, each weighted by ``w``
    (per photo and family) when given.

    Why masked: a photo has labels for some families only. A family no photo of the batch
    has adds nothing, so its head sits the step out (no gradient, no weight decay).
    """
    total = torch.zeros((), device=y.device)
    for j, family in enumerate(logits):
        known = y[:, j] != UNKNOWN
        if known.any():
            ce = F.cross_entropy(
                logits[family][known].float(),
                y[known, j],
                label_smoothing=LABEL_SMOOTHING,
                reduction="none",
            )
            weight = torch.ones_like(ce) if w is None else w[known, j]
            total = total + (ce * weight).sum() / weight.sum()
    return total


def adamw(
    trained: nn.Module, heads: nn.Module, lr: float, fused: bool = False
) -> torch.optim.AdamW:
    """AdamW over ``trained`` (the backbone or its tail) at ``lr`` and the heads at ten times
    it: the heads start from stage 1 and must follow features that move under them."""
    return torch.optim.AdamW(
        [
            {"params": trained.parameters(), "lr": lr},
            {"params": heads.parameters(), "lr": lr * HEAD_LR_FACTOR},
        ],
        weight_decay=WEIGHT_DECAY,
        **({"fused": True} if fused else {}),
    )


def freeze_batch_norm(module: nn.Module) -> None:
    """Batch norms keep their statistics while the rest trains: small batches would
    corrupt them."""
    for child in module.modules():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            child.eval()


def save_atomic(state: dict[str, Any], path: Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename it over ``path``: a
    run killed while writing leaves the previous file whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("wb") as handle:
        torch.save(state, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _epoch_of(path: Path) -> int:
    return int(path.stem.split("-")[1])


@dataclass(frozen=True)
class Checkpoints:
    """``epoch-N.pt`` files in ``folder``. ``keep_all``: every epoch's file stays (to go
    back to one); otherwise an older one is removed only once the newer one is whole."""

    folder: Path
    keep_all: bool = False

    def latest(self) -> Path | None:
        found = sorted(self.folder.glob("epoch-*.pt"), key=_epoch_of)
        return found[-1] if found else None

    def save(self, epoch: int, state: dict[str, Any]) -> Path:
        path = self.folder / f"epoch-{epoch}.pt"
        save_atomic(state, path)
        if not self.keep_all:
            for old in self.folder.glob("epoch-*.pt"):
                if old != path:
                    old.unlink()
        return path


@dataclass(frozen=True)
class Deadline:
    """When to stop, as a ``time.monotonic()`` value. ``mid_epoch``: right after the step
    that passes it. Otherwise an epoch starts only if one as long as the last still ends
    before it, so every epoch trained is whole and can be checkpointed."""

    at: float
    mid_epoch: bool = False


@dataclass(frozen=True)
class Epoch:
    """What one epoch did; ``whole`` is False when a deadline stopped it part-way."""

    number: int
    steps: int
    loss: float
    wall_s: float
    whole: bool


class Loop(Generic[Batch]):
    """Trains ``net`` with ``optimiser`` on the loss ``loss(batch)`` returns.

    ``frozen``: the module whose batch norms keep their statistics (None: all train).
    ``schedule`` steps after every optimiser step. ``label`` names the progress bar
    (None: no bar, for a caller that logs each epoch itself).
    """

    def __init__(
        self,
        net: nn.Module,
        optimiser: torch.optim.Optimizer,
        loss: Callable[[Batch], torch.Tensor],
        *,
        frozen: nn.Module | None = None,
        schedule: torch.optim.lr_scheduler.LRScheduler | None = None,
        checkpoints: Checkpoints | None = None,
        label: str | None = None,
    ) -> None:
        self.net, self.optimiser, self.loss = net, optimiser, loss
        self.frozen, self.schedule = frozen, schedule
        self.checkpoints, self.label = checkpoints, label
        self.epoch = 0
        self.last_wall_s = 0.0

    def resume(self, device: torch.device | str = "cpu") -> tuple[Path, dict[str, Any]] | None:
        """Load the newest checkpoint into the network, optimiser and schedule, so the next
        epoch is the one after it; returns its path and contents (with what the caller saved
        beside them), or None when there is none."""
        path = self.checkpoints.latest() if self.checkpoints is not None else None
        if path is None:
            return None
        state = torch.load(path, map_location=device, weights_only=True)
        self.net.load_state_dict(state["model"])
        self.optimiser.load_state_dict(state["optimiser"])
        if self.schedule is not None:
            self.schedule.load_state_dict(state["schedule"])
        self.epoch, self.last_wall_s = state["epoch"], state.get("wall_s", 0.0)
        return path, state

    def save(self, **extra: Any) -> Path:
        """Checkpoint the last epoch done: network, optimiser, schedule and ``extra``."""
        if self.checkpoints is None:
            raise ValueError("this loop was given no checkpoint folder")
        state = {
            "model": self.net.state_dict(),
            "optimiser": self.optimiser.state_dict(),
            "epoch": self.epoch,
            "wall_s": self.last_wall_s,
            **extra,
        }
        if self.schedule is not None:
            state["schedule"] = self.schedule.state_dict()
        return self.checkpoints.save(self.epoch, state)

    def epochs(
        self,
        count: int,
        batches: Callable[[int], Iterable[Batch]],
        deadline: Deadline | None = None,
        max_steps: int | None = None,
    ) -> Iterator[Epoch]:
        """Train the epochs after the last one done up to ``count`` on ``batches(number)``
        (at most ``max_steps`` of them each), yielding each epoch as it ends so the caller
        can validate, log or save in between. Leaves the network in eval mode."""
        try:
            for number in range(self.epoch + 1, count + 1):
                if (
                    deadline is not None
                    and not deadline.mid_epoch
                    and time.monotonic() + self.last_wall_s > deadline.at
                ):
                    return
                done = self._train(number, batches(number), deadline, max_steps)
                if done.whole:
                    self.epoch, self.last_wall_s = number, done.wall_s
                yield done
                if not done.whole:
                    return
        finally:
            self.net.eval()

    def _train(
        self,
        number: int,
        batches: Iterable[Batch],
        deadline: Deadline | None,
        max_steps: int | None,
    ) -> Epoch:
        began = time.monotonic()
        self.net.train()
        if self.frozen is not None:
            freeze_batch_norm(self.frozen)
        total = len(batches) if isinstance(batches, Sized) else None
        if max_steps is not None:
            batches = islice(batches, max_steps)
            total = max_steps if total is None else min(total, max_steps)
        bar = tqdm(
            batches,
            total=total,
            desc=f"{self.label} {number}",
            unit="batch",
            disable=self.label is None,
        )
        summed: torch.Tensor | None = None
        steps, shown, whole = 0, 0.0, True
        for batch in bar:
            loss = self.loss(batch)
            self.optimiser.zero_grad()
            loss.backward()
            self.optimiser.step()
            if self.schedule is not None:
                self.schedule.step()
            steps += 1
            value = loss.detach().double()
            summed = value if summed is None else summed + value
            if self.label is not None and steps % POSTFIX_EVERY == 0:
                bar.set_postfix(loss=f"{(float(summed) - shown) / POSTFIX_EVERY:.3f}")
                shown = float(summed)
            if deadline is not None and deadline.mid_epoch and time.monotonic() > deadline.at:
                whole = False
                break
        mean = float(summed) / steps if steps else float("nan")
        return Epoch(number, steps, mean, time.monotonic() - began, whole)
