"""Stage 2: unfreeze the backbone at a small learning rate (CPU, or CUDA when present).

Photos are decoded and augmented here; the training itself is ``training.loop``'s (masked
multi-task loss, batch-norm statistics frozen). A checkpoint is written after every
epoch, and a rerun of the same command resumes from the last one.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from PIL import Image, ImageOps
from torch.utils.data import DataLoader, Dataset

from app.core.bundle import Preprocessing
from app.core.decode import open_photo, preprocess
from training.datasets import Photo
from training.features import preprocessing_for
from training.loop import Checkpoints, Loop, adamw, label_indices, masked_loss
from training.network import VitrinaNet

if TYPE_CHECKING:
    from training.pipeline import FitConfig, Prepared


class PhotoDataset(Dataset):
    """Decoded, augmented, preprocessed photos with one label index per family (-100 unknown).

    Augmentations change geometry only: colour jitter would corrupt colour labels.
    """

    def __init__(
        self,
        photos: Sequence[Photo],
        labels: dict[str, tuple[str, ...]],
        pre: Preprocessing,
        augment: bool,
    ) -> None:
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

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        photo = self.photos[i]
        image = open_photo(photo.path, self.pre.min_side).image
        if self.augment:
            image = self._augment(image)
        return torch.from_numpy(preprocess(image, self.pre)), torch.from_numpy(self.targets[i])


def finetune(net: VitrinaNet, prepared: Prepared, config: FitConfig) -> None:
    """Train ``net`` end to end for ``config.finetune_epochs`` epochs, resuming from the
    newest checkpoint of the same ``--out`` name if there is one."""
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

    def batch_loss(batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = (t.to(device) for t in batch)
        logits, _ = net.logits_and_hidden(x)
        return masked_loss({f: logits[f] for f in data.families}, y)

    loop = Loop(
        net,
        adamw(net.backbone, net.heads, config.finetune_lr),
        batch_loss,
        frozen=net.backbone,
        checkpoints=Checkpoints(
            config.cache_dir.parent / "checkpoints" / config.out.name, keep_all=True
        ),
        label="fine-tune epoch",
    )
    resumed = loop.resume(device)
    if resumed is not None:
        print(f"resumed from {resumed[0]}")
    for done in loop.epochs(config.finetune_epochs, lambda number: loader):
        loop.save()
        print(f"epoch {done.number}: loss {done.loss:.4f}, {done.wall_s:.0f} s wall on {device}")
    net.to("cpu").eval()
