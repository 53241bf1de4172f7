"""Procedural fabric patterns, drawn flat in the garment's bounding box.

Each generator returns an sRGB 0–1 albedo (h×w×3) painted over a ground colour
`base` with accents from `others`. Repeat sizes are relative to `scale` (the
garment's size in pixels, default its width) so a small shot and a large one,
or a narrow trouser leg and a wide shirt, get the same look.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw

Colour = tuple[int, int, int]


def _rgb(c: Colour) -> np.ndarray:
    return np.array(c, np.float32) / 255.0


def _ground(h: int, w: int, base: Colour) -> np.ndarray:
    """The ground colour everywhere: the writable albedo a pattern is painted over."""
    return np.broadcast_to(_rgb(base), (h, w, 3)).copy()


def _coords(h: int, w: int, angle_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres rotated by `angle_deg`: u runs along the angle, v across it."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    a = np.deg2rad(angle_deg)
    return x * np.cos(a) + y * np.sin(a), -x * np.sin(a) + y * np.cos(a)


def _bands(coord: np.ndarray, period: float, duty: float, phase: float) -> np.ndarray:
    """Anti-aliased 0/1 band coverage: 1 inside the first `duty` of each period."""
    t = ((coord / period + phase) % 1.0) * period
    edge_in = np.clip(t + 0.5, 0, 1) * np.clip(duty * period - t + 0.5, 0, 1)
    wrap = np.clip(t - period + 0.5, 0, 1)
    return np.maximum(edge_in, wrap).astype(np.float32)


def stripes(
    h: int,
    w: int,
    rng: np.random.Generator,
    base: Colour,
    others: Sequence[Colour],
    scale: float | None = None,
) -> np.ndarray:
    """Stripes: mostly horizontal (as on knitwear), some vertical or diagonal."""
    scale = scale or w
    angle = rng.choice([90.0, 0.0, 45.0, -45.0], p=[0.55, 0.25, 0.1, 0.1])
    angle += rng.normal(0, 2)
    period = scale * rng.uniform(0.06, 0.2)
    _, v = _coords(h, w, angle)
    img = _ground(h, w, base)
    duty = rng.uniform(0.25, 0.5)
    band = _bands(v, period, duty, rng.uniform())
    img += band[..., None] * (_rgb(others[0]) - img)
    if len(others) > 1 and rng.uniform() < 0.4:  # a thin accent pin-stripe
        pin = _bands(v, period, min(0.12, 1.5 / period + 0.05), rng.uniform())
        pin *= 1 - band
        img += pin[..., None] * (_rgb(others[1]) - img)
    return img


def checks(
    h: int,
    w: int,
    rng: np.random.Generator,
    base: Colour,
    others: Sequence[Colour],
    scale: float | None = None,
) -> np.ndarray:
    """Gingham or tartan: semi-transparent warp and weft bands overlapping."""
    scale = scale or w
    img = _ground(h, w, base)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    tilt = rng.normal(0, 1.5)
    u = x + y * np.tan(np.deg2rad(tilt))
    v = y - x * np.tan(np.deg2rad(tilt))
    if rng.uniform() < 0.4:  # gingham: one colour, equal bands, 50 % overlap
        period = scale * rng.uniform(0.06, 0.14)
        c = _rgb(others[0])
        for coord in (u, v):
            a = 0.55 * _bands(coord, period, 0.5, rng.uniform())
            img += a[..., None] * (c - img)
        return img
    period = scale * rng.uniform(0.18, 0.4)
    for coord in (u, v):
        for k in range(int(rng.integers(2, 4))):
            c = _rgb(others[k % len(others)])
            duty = rng.uniform(0.08, 0.3)
            a = rng.uniform(0.45, 0.7) * _bands(coord, period, duty, rng.uniform())
            img += a[..., None] * (c - img)
    return img


def polka_dots(
    h: int,
    w: int,
    rng: np.random.Generator,
    base: Colour,
    others: Sequence[Colour],
    scale: float | None = None,
) -> np.ndarray:
    """Round dots on a square or staggered grid, anti-aliased by distance."""
    scale = scale or w
    spacing = scale * rng.uniform(0.07, 0.16)
    radius = spacing * rng.uniform(0.15, 0.32)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    x = x + rng.uniform(0, spacing)
    y = y + rng.uniform(0, spacing)
    row = np.floor(y / spacing)
    if rng.uniform() < 0.6:
        x = x + (row % 2) * spacing / 2
    dx = (x % spacing) - spacing / 2
    dy = (y % spacing) - spacing / 2
    cover = np.clip(radius - np.hypot(dx, dy) + 0.5, 0, 1)[..., None]
    img = (1 - cover) * _rgb(base) + cover * _rgb(others[0])
    return img.astype(np.float32)


SUPERSAMPLE = 3


def _canvas(h: int, w: int, base: Colour) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    """A ground-coloured canvas ``SUPERSAMPLE`` times the size, for shapes drawn with PIL
    (anti-aliased by :func:`_downsampled`)."""
    im = Image.new("RGB", (w * SUPERSAMPLE, h * SUPERSAMPLE), tuple(base))
    return im, ImageDraw.Draw(im)


def _downsampled(im: Image.Image, h: int, w: int) -> np.ndarray:
    """A supersampled canvas boxed down to h×w, as an sRGB 0–1 albedo."""
    return np.asarray(im.resize((w, h), Image.Resampling.BOX), np.float32) / 255.0


def florals(
    h: int,
    w: int,
    rng: np.random.Generator,
    base: Colour,
    others: Sequence[Colour],
    scale: float | None = None,
) -> np.ndarray:
    """Scattered flowers (petal rings with a centre) and leaves in several colours."""
    scale = scale or w
    s = SUPERSAMPLE
    im, draw = _canvas(h, w, base)
    size = scale * rng.uniform(0.06, 0.14)
    density = rng.uniform(0.3, 0.9)
    n = int(density * h * w / size**2)
    leaf = (int(rng.integers(30, 90)), int(rng.integers(100, 160)), int(rng.integers(30, 90)))
    for _ in range(n):
        cx, cy = rng.uniform(-size, w + size) * s, rng.uniform(-size, h + size) * s
        r = size * rng.uniform(0.6, 1.2) * s
        petals = int(rng.integers(4, 8))
        turn = rng.uniform(0, 2 * np.pi)
        if rng.uniform() < 0.5:
            a = turn + np.pi / petals
            lx, ly = cx + 1.3 * r * np.cos(a), cy + 1.3 * r * np.sin(a)
            draw.ellipse([lx - r * 0.5, ly - r * 0.25, lx + r * 0.5, ly + r * 0.25], fill=leaf)
        petal = tuple(others[int(rng.integers(len(others)))])
        for k in range(petals):
            a = turn + 2 * np.pi * k / petals
            px, py = cx + 0.5 * r * np.cos(a), cy + 0.5 * r * np.sin(a)
            pr = r * 0.42
            draw.ellipse([px - pr, py - pr, px + pr, py + pr], fill=petal)
        centre = (
            tuple(others[int(rng.integers(len(others)))]) if rng.uniform() < 0.5 else (250, 215, 60)
        )
        draw.ellipse([cx - r * 0.22, cy - r * 0.22, cx + r * 0.22, cy + r * 0.22], fill=centre)
    return _downsampled(im, h, w)


def prints(
    h: int, w: int, rng: np.random.Generator, base: Colour, others: Sequence[Colour]
) -> np.ndarray:
    """A chest graphic: a few bold shapes plus rows of text-like blocks."""
    s = SUPERSAMPLE
    im, draw = _canvas(h, w, base)
    cx = w * s * rng.uniform(0.42, 0.58)
    cy = h * s * rng.uniform(0.32, 0.5)
    span = w * s * rng.uniform(0.3, 0.55)
    for _ in range(int(rng.integers(1, 4))):
        c = tuple(others[int(rng.integers(len(others)))])
        r = span * rng.uniform(0.15, 0.45)
        ox, oy = cx + rng.uniform(-0.3, 0.3) * span, cy + rng.uniform(-0.3, 0.2) * span
        shape = rng.integers(4)
        if shape == 0:
            draw.ellipse([ox - r, oy - r, ox + r, oy + r], fill=c)
        elif shape == 1:
            draw.rectangle([ox - r, oy - r * 0.7, ox + r, oy + r * 0.7], fill=c)
        elif shape == 2:
            draw.polygon([(ox, oy - r), (ox + r, oy + r * 0.8), (ox - r, oy + r * 0.8)], fill=c)
        else:
            pts = [
                (
                    ox + r * (1 if k % 2 == 0 else 0.45) * np.cos(np.pi * k / 5 - np.pi / 2),
                    oy + r * (1 if k % 2 == 0 else 0.45) * np.sin(np.pi * k / 5 - np.pi / 2),
                )
                for k in range(10)
            ]
            draw.polygon(pts, fill=c)
    text = tuple(others[int(rng.integers(len(others)))])
    line_h = w * s * rng.uniform(0.035, 0.06)
    y = cy + span * 0.45
    for _ in range(int(rng.integers(1, 4))):
        x = cx - span / 2
        while x < cx + span / 2:
            glyph = line_h * rng.uniform(0.5, 0.9)
            draw.rectangle([x, y, x + glyph, y + line_h], fill=text)
            x += glyph + line_h * (0.25 if rng.uniform() < 0.8 else 1.0)
        y += line_h * 1.6
    return _downsampled(im, h, w)


PATTERNS: dict[str, Callable[..., np.ndarray]] = {
    "striped": stripes,
    "checked": checks,
    "polka dot": polka_dots,
    "floral": florals,
    "printed": prints,
}
"""Pattern label (the project's vocabulary) → generator; "solid" is a plain recolour."""
