"""Stage 2: unfreeze the backbone at a small learning rate (CPU, or CUDA when present).

Multi-task with missing labels: each photo's loss sums the families it has labels for.
Batch-norm statistics stay frozen (small batches would corrupt them). A checkpoint is
written after every epoch, and a rerun of the same command resumes from the last one.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from app.core.decode import open_photo, preprocess
from training.features import preprocessing_for
from training.network import VitrinaNet

UNKNOWN = -100


class PhotoDataset(Dataset):
    """Decoded, augmented, preprocessed photos with one label index per family (-100 unknown).

    Augmentations change geometry only: colour jitter would corrupt colour labels.
    """

    def __init__(self, photos, labels: dict[str, tuple[str, ...]], pre, augment: bool) -> None:
        self.photos, self.pre, self.augment = photos, pre, augment
        self.families = list(labels)
        self.index = {f: {lab: i for i, lab in enumerate(names)} for f, names in labels.items()}

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
        x = torch.from_numpy(preprocess(image, self.pre))
        y = torch.tensor(
            [self.index[f].get(photo.labels.get(f, ""), UNKNOWN) for f in self.families]
        )
        return x, y


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
        for module in net.backbone.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.eval()
        losses = []
        for x, y in tqdm(loader, desc=f"fine-tune epoch {epoch}", unit="batch"):
            x, y = x.to(device), y.to(device)
            logits, _ = net.logits_and_hidden(x)
            loss = sum(
                F.cross_entropy(logits[f], y[:, j], ignore_index=UNKNOWN, label_smoothing=0.1)
                for j, f in enumerate(families)
                if (y[:, j] != UNKNOWN).any()
            )
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
