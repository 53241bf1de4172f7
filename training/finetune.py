"""Stage 2: unfreeze the backbone at a small learning rate (CPU, or CUDA when present).

Multi-task with missing labels: each photo's loss sums the families it has labels for.
Batch-norm statistics stay frozen (small batches would corrupt them). A checkpoint is
written after every epoch, and a rerun of the same command resumes from the last one.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from app.core.decode import open_photo, preprocess
from training.datasets import Photo
from training.features import preprocessing_for
from training.network import VitrinaNet

UNKNOWN = -100


def label_indices(photos: Sequence[Photo], labels: dict[str, tuple[str, ...]]) -> np.ndarray:
    """(N, families) class indices, ``UNKNOWN`` where a photo has no label of the family:
    what every stage-2 loss reads."""
    index = {f: {label: i for i, label in enumerate(names)} for f, names in labels.items()}
    return np.array(
        [[index[f].get(p.labels.get(f, ""), UNKNOWN) for f in labels] for p in photos],
        dtype=np.int64,
    ).reshape(len(photos), len(labels))


def freeze_batch_norm(net: nn.Module) -> None:
    """Batch norms keep their statistics while the rest trains: small batches would
    corrupt them."""
    for module in net.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()


def masked_loss(
    logits: dict[str, torch.Tensor], y: torch.Tensor, w: torch.Tensor | None = None
) -> torch.Tensor:
    """Sum over families of the mean cross-entropy (label smoothing 0.1) of the photos
    labelled in it, each weighted by ``w`` (per photo and family) when given."""
    total = next(iter(logits.values())).new_zeros(())
    for j, family in enumerate(logits):
        known = y[:, j] != UNKNOWN
        if known.any():
            ce = F.cross_entropy(
                logits[family][known], y[known, j], label_smoothing=0.1, reduction="none"
            )
            weight = torch.ones_like(ce) if w is None else w[known, j]
            total = total + (ce * weight).sum() / weight.sum()
    return total


class PhotoDataset(Dataset):
    """Decoded, augmented, preprocessed photos with one label index per family (-100 unknown).

    Augmentations change geometry only: colour jitter would corrupt colour labels.
    """

    def __init__(self, photos, labels: dict[str, tuple[str, ...]], pre, augment: bool) -> None:
        self.photos, self.pre, self.augment = photos, pre, augment
        self.families = list(labels)
        self.targets = label_indices(photos, labels)

    def __len__(self) -> int:
        return len(self.photos)

    def _augment(self, image: Image.Image) -> Image.Image:
        if random.random() < 0.5:
            image = ImageOps.mirror(image)
        scale = random.uniform(0.8, 1.0)
        w, h = image.size
        cw, ch = int(w * scale), int(h * scale)
        left, top = random.randint(0, w - cw), random.randint(0, h - ch)
        return image.crop((left, top, left + cw, top + ch))

    def __getitem__(self, i: int):
        photo = self.photos[i]
        image = open_photo(photo.path, self.pre.min_side).image
        if self.augment:
            image = self._augment(image)
        return torch.from_numpy(preprocess(image, self.pre)), torch.from_numpy(self.targets[i])


def _latest_checkpoint(folder: Path) -> tuple[int, Path | None]:
    found = sorted(folder.glob("epoch-*.pt"), key=lambda p: int(p.stem.split("-")[1]))
    return (int(found[-1].stem.split("-")[1]), found[-1]) if found else (0, None)


def finetune(net: VitrinaNet, prepared, config) -> None:
    """Train ``net`` end to end for ``config.finetune_epochs`` epochs, resuming if possible."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    pre = preprocessing_for(config.backbone, config.size)
    data = PhotoDataset(prepared.parts["train"], prepared.labels, pre, augment=True)
    loader = DataLoader(
        data,
        batch_size=32,
        shuffle=True,
        num_workers=4 if device.type == "cuda" else 0,
        drop_last=True,
        worker_init_fn=lambda w: random.seed(config.seed + w),
    )
    net.to(device)
    optimiser = torch.optim.AdamW(
        [
            {"params": net.backbone.parameters(), "lr": config.finetune_lr},
            {"params": net.heads.parameters(), "lr": config.finetune_lr * 10},
        ],
        weight_decay=1e-4,
    )
    folder = config.cache_dir.parent / "checkpoints" / config.out.name
    folder.mkdir(parents=True, exist_ok=True)
    start, latest = _latest_checkpoint(folder)
    if latest is not None:
        state = torch.load(latest, map_location=device, weights_only=True)
        net.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        print(f"resumed from {latest}")
    families = data.families
    for epoch in range(start + 1, config.finetune_epochs + 1):
        began = time.monotonic()
        net.train()
        freeze_batch_norm(net.backbone)
        losses = []
        for x, y in tqdm(loader, desc=f"fine-tune epoch {epoch}", unit="batch"):
            x, y = x.to(device), y.to(device)
            logits, _ = net.logits_and_hidden(x)
            loss = masked_loss({f: logits[f] for f in families}, y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
        torch.save(
            {"model": net.state_dict(), "optimiser": optimiser.state_dict(), "epoch": epoch},
            folder / f"epoch-{epoch}.pt",
        )
        print(
            f"epoch {epoch}: loss {np.mean(losses):.4f}, "
            f"{time.monotonic() - began:.0f} s wall on {device}"
        )
    net.to("cpu").eval()
