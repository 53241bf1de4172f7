"""A garment colour descriptor computed inside the exported graph from the input tensor.

Pooled ImageNet features are trained to ignore colour, so the colour head also reads a
soft colour histogram of the pixels that are probably garment: away from the border
colour, weighted toward the centre. Plain torch ops, so it exports to
ONNX and the app stays one call. Split in two steps so training caches the thumbnail
(``thumbnail``) and can change the descriptor (``describe``) without re-decoding photos.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

GRID_TARGET = 26
LEVELS = (0.125, 0.375, 0.625, 0.875)
TEMPERATURE = 0.02
FOREGROUND_MARGIN = 0.15
FOREGROUND_SHARPNESS = 40.0
CENTRE_SIGMA = 0.35
FLOOR = 0.02


def pool_kernel(size: int) -> int:
    """Pooling kernel that turns a ``size`` input into a ~26-cell thumbnail."""
    return max(1, size // GRID_TARGET)


def palette() -> torch.Tensor:
    """64 prototype colours: a 4x4x4 RGB grid."""
    levels = torch.tensor(LEVELS)
    r, g, b = torch.meshgrid(levels, levels, levels, indexing="ij")
    return torch.stack([r.flatten(), g.flatten(), b.flatten()], dim=1)


class ColourDescriptor(nn.Module):
    """Normalised image batch -> (N, 71): soft histogram, mean, std, garment share."""

    def __init__(self, size: int, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.kernel = pool_kernel(size)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))
        self.register_buffer("palette", palette())
        grid = size // self.kernel
        axis = (torch.arange(grid, dtype=torch.float32) + 0.5) / grid - 0.5
        prior = torch.exp(-(axis[:, None] ** 2 + axis[None, :] ** 2) / (2 * CENTRE_SIGMA**2))
        self.register_buffer("prior", prior.view(1, 1, grid, grid))

    def thumbnail(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised input -> RGB in [0, 1], average-pooled to about 26 x 26."""
        rgb = (x * self.std + self.mean).clamp(0.0, 1.0)
        return F.avg_pool2d(rgb, self.kernel, self.kernel)

    def foreground(self, thumb: torch.Tensor) -> torch.Tensor:
        """(N, 1, H, W) in [0, 1]: how far each cell is from the backdrop colour.

        The backdrop colour is the per-channel median of the border cells, so a garment
        touching part of the border does not drag it; white is not assumed to be backdrop,
        so a white shirt on a wooden floor is garment (measured: docs/quality.md).
        """
        border = torch.cat(
            [thumb[:, :, 0, :], thumb[:, :, -1, :], thumb[:, :, :, 0], thumb[:, :, :, -1]], dim=2
        )
        backdrop = border.sort(dim=2).values[:, :, border.shape[2] // 2]
        distance = (thumb - backdrop[:, :, None, None]).pow(2).sum(1, keepdim=True).sqrt()
        return torch.sigmoid(FOREGROUND_SHARPNESS * (distance - FOREGROUND_MARGIN))

    def describe(self, thumb: torch.Tensor) -> torch.Tensor:
        foreground = self.foreground(thumb)
        weight = self.prior * (FLOOR + foreground)
        total = weight.sum(dim=(2, 3))
        pixels = thumb.flatten(2).transpose(1, 2)
        dist2 = (
            pixels.pow(2).sum(-1, keepdim=True)
            - 2 * pixels @ self.palette.T
            + self.palette.pow(2).sum(-1)[None, None, :]
        )
        assign = torch.softmax(-dist2 / TEMPERATURE, dim=-1)
        w = weight.flatten(2).transpose(1, 2)
        hist = (assign * w).sum(1) / total
        mean = (thumb * weight).sum(dim=(2, 3)) / total
        var = ((thumb - mean[:, :, None, None]).pow(2) * weight).sum(dim=(2, 3)) / total
        share = (foreground * self.prior).sum(dim=(2, 3)) / self.prior.sum()
        return torch.cat([hist, mean, (var + 1e-6).sqrt(), share], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.describe(self.thumbnail(x))
