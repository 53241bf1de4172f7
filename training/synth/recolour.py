"""Paint a cut-out garment with a new colour or texture, keeping its folds.

Shading is taken from the garment's own linear-light luminance, divided by its
median so the median pixel gets exactly the target colour, and multiplied back
in linear light (albedo × irradiance, which is how fabric shading forms). Dark
source garments have little, noisy shading, so their map is lifted and its
contrast normalised to a plausible range; bright targets get a soft shoulder so
highlights do not clip to flat white.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from training.synth.cutout import Cutout, morph, skin_regions

PALETTE_PATH = Path(__file__).with_name("palette.json")
SHADING_CONTRAST = (0.18, 0.35)
"""Allowed spread (robust std of log shading) inside a garment: below it folds vanish,
above it JPEG noise of black garments dominates."""


def load_palette(path: Path = PALETTE_PATH) -> dict[str, list[tuple[int, int, int]]]:
    """Colour name → sRGB variants, in the project's colour vocabulary."""
    data = json.loads(path.read_text())
    return {k: [tuple(v) for v in vs] for k, vs in data.items() if not k.startswith("_")}


def to_linear(srgb: np.ndarray) -> np.ndarray:
    """sRGB in 0–1 → linear light."""
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def to_srgb(lin: np.ndarray) -> np.ndarray:
    """Linear light → sRGB in 0–1 (clipped)."""
    lin = np.clip(lin, 0.0, 1.0)
    return np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)


def shading_map(cut: Cutout) -> np.ndarray:
    """Relative shading (1.0 = the garment's median brightness) over the whole photo."""
    lin = to_linear(cut.rgb.astype(np.float32) / 255.0)
    y = lin @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    y = _box3(y)
    lift = 0.005  # keeps black garments' shadows from blowing up into noise
    med = float(np.median(y[cut.mask]))
    log_s = np.log((y + lift) / (med + lift))
    lo, hi = np.percentile(log_s[cut.mask], [16, 84])  # robust: edge pixels are outliers
    spread = float(hi - lo) / 2 or 1e-3
    log_s *= np.clip(spread, *SHADING_CONTRAST) / spread
    return np.exp(np.clip(log_s, -1.6, 0.7)).astype(np.float32)


def _box3(x: np.ndarray) -> np.ndarray:
    """3×3 mean, to keep JPEG blocking and knit texture out of the shading."""
    p = np.pad(x, 1, mode="edge")
    h, w = x.shape
    return sum(p[i : i + h, j : j + w] for i in range(3) for j in range(3)) / 9.0


def _shoulder(lin: np.ndarray, knee: float = 0.8) -> np.ndarray:
    """Roll highlights above `knee` smoothly towards 1 instead of clipping."""
    over = np.maximum(lin - knee, 0.0)
    return np.where(lin > knee, knee + (1 - knee) * np.tanh(over / (1 - knee)), lin)


def paint(cut: Cutout, albedo: np.ndarray, shade: np.ndarray | None = None) -> np.ndarray:
    """Composite a new garment surface into the photo.

    `albedo` is an sRGB 0–1 image of the garment's bbox size (a flat colour or a
    texture); it is multiplied by the shading. Along the edge against the white
    backdrop, pixels are partly garment and partly backdrop: there the old
    garment's coverage is estimated from how much brighter than the garment's
    median they are, and the new colour is mixed with white by that coverage, so
    no rim of the old colour and no bright saturated outline remain.
    """
    shade = shading_map(cut) if shade is None else shade
    x0, y0, x1, y1 = cut.bbox
    h, w = cut.mask.shape
    pad = 3
    ex0, ey0, ex1, ey1 = max(x0 - pad, 0), max(y0 - pad, 0), min(x1 + pad, w), min(y1 + pad, h)
    full = np.pad(albedo, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    surface = np.ones((h, w, 3), np.float32)
    surface[ey0:ey1, ex0:ex1] = full[
        ey0 - y0 + pad : ey1 - y0 + pad, ex0 - x0 + pad : ex1 - x0 + pad
    ]
    orig = cut.rgb.astype(np.float32) / 255.0
    lin_orig = to_linear(orig)
    backdrop = cut.rgb.min(axis=2) > 235
    edge = morph(backdrop, "dilate", 5) & morph(cut.mask, "dilate", 5) & ~backdrop
    edge &= ~morph(cut.mask, "erode", 3) & (cut.mask | ~skin_regions(cut.rgb))
    y = lin_orig @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    y_med = float(np.median(y[cut.mask]))
    cover = np.clip((1.0 - y) / max(1.0 - y_med, 0.05), 0.0, 1.0)
    cover = np.where(edge, cover, cut.mask.astype(np.float32))[..., None]
    shade = np.where(edge, np.minimum(shade, 1.0), shade)[..., None]
    lin_new = _shoulder(to_linear(surface) * shade)
    lin = cover * lin_new + (1 - cover) * np.where(edge[..., None], 1.0, lin_orig)
    out = np.where((cut.mask | edge)[..., None], to_srgb(lin), orig)
    return (out * 255 + 0.5).astype(np.uint8)


def flat(cut: Cutout, srgb: tuple[int, int, int]) -> np.ndarray:
    """A flat albedo of one colour, sized to the garment's bbox."""
    x0, y0, x1, y1 = cut.bbox
    return np.broadcast_to(np.array(srgb, np.float32) / 255.0, (y1 - y0, x1 - x0, 3)).copy()


def recolour(cut: Cutout, srgb: tuple[int, int, int]) -> np.ndarray:
    """The photo with the garment re-coloured to `srgb` (its median pixel lands on it)."""
    return paint(cut, flat(cut, srgb))
