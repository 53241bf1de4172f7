"""Write a labelled synthetic dataset of re-coloured and re-textured catalog garments.

Why: the catalog has almost no floral or polka-dot photos and few of some
colours, and title words are weak labels. Painting plain garments gives exact
colour and pattern labels on real garment shapes, folds and models. The
`source` column names the catalog photo each image came from, so evaluation
splits can drop every synthetic image derived from a held-out photo.
"""

from __future__ import annotations

import argparse
import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from training.synth.cutout import Cutout, cut_garment, srgb_to_lab
from training.synth.recolour import flat, load_palette, paint
from training.synth.textures import PATTERNS

KINDS = {"Topwear": "topwear", "Bottomwear": "bottomwear", "Dress": "dress"}
SKIP_TYPES = {"Stockings", "Tights", "Dupatta", "Swimwear", "Leggings", "Jeggings"}
PATTERN_WORDS = re.compile(
    r"\b(strip\w*|check\w*|print\w*|floral|flower\w*|polka|dots?|dotted|graphic|embroider\w*"
    r"|design|melange|jacquard|camo\w*|colou?r\s?block\w*|tie.?dye|abstract|paisley|logo"
    r"|text|typograph\w*|multi\w*|pattern\w*|lace|sequin\w*)\b"
)
SLEEVES = [
    (re.compile(r"\bsleeveless\b|\btank\b|\bvest\b"), "sleeveless"),
    (re.compile(r"\b(short|half|cap)\s?sleeves?\b"), "short"),
    (re.compile(r"\b(long|full)\s?sleeves?\b"), "long"),
]
CHEST_PATTERNS = {"printed"}
"""Patterns drawn as a chest graphic, so painted on topwear and dresses only."""
COLUMNS = ["image", "category", "colour", "pattern", "sleeve", "source"]
GROUND_SHARE_FOR_COLOUR = 0.6
"""A patterned image gets a colour label only if its ground covers this much of
the garment; otherwise (stripes, checks) no single colour name is right."""


@dataclass(frozen=True)
class Source:
    """A catalog photo usable as a plain garment to paint."""

    id: str
    path: Path
    kind: str
    sleeve: str
    solid_title: bool


def plain_sources(catalog: Path) -> list[Source]:
    """Catalog garments whose title suggests a plain fabric, "solid" ones first."""
    sources = []
    with open(catalog / "labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            kind = KINDS.get(row["subCategory"])
            title = row["productDisplayName"].lower()
            if kind is None or row["articleType"] in SKIP_TYPES or PATTERN_WORDS.search(title):
                continue
            sleeve = next((label for rx, label in SLEEVES if rx.search(title)), "")
            sources.append(
                Source(row["id"], catalog / row["image"], kind, sleeve, "solid" in title)
            )
    return sorted(sources, key=lambda s: (not s.solid_title, int(s.id)))


def build_pool(sources: Sequence[Source], limit: int, rng: np.random.Generator) -> list[Source]:
    """Up to `limit` sources whose garment cuts out plausibly, tried in a seeded order
    (solid-titled first, since their titles are the strongest "plain" evidence)."""
    n_solid = sum(s.solid_title for s in sources)
    order = [*rng.permutation(n_solid), *(n_solid + rng.permutation(len(sources) - n_solid))]
    pool = []
    for i in tqdm(order, desc="cutting sources", leave=False):
        if len(pool) >= limit:
            break
        src = sources[i]
        if load_cutout(src) is not None:
            pool.append(src)
    return sorted(pool, key=lambda s: int(s.id))


def load_cutout(src: Source) -> Cutout | None:
    """Cut out a source's garment (None when the mask is implausible)."""
    with Image.open(src.path) as im:
        rgb = np.asarray(im.convert("RGB"))
    return cut_garment(rgb, src.kind)


def plan_jobs(
    palette: dict[str, list], per_class: int, per_colour: int, rng: np.random.Generator
) -> list[tuple[str, str]]:
    """(pattern, ground colour name) per image: balanced over patterns and colours."""
    names = sorted(palette)
    jobs = [("solid", name) for name in names for _ in range(per_colour)]
    for pattern in PATTERNS:
        grounds = [names[i % len(names)] for i in rng.permutation(per_class)]
        jobs += [(pattern, g) for g in grounds]
    return jobs


def pick_shade(variants: list, rng: np.random.Generator) -> tuple[int, int, int]:
    """A random blend of two variants of one colour name: stays inside its range."""
    a, b = rng.choice(len(variants), 2)
    t = rng.uniform()
    mix = t * np.array(variants[a]) + (1 - t) * np.array(variants[b])
    return tuple(int(v) for v in np.rint(mix))


def contrasting(
    palette: dict[str, list], ground: str, n: int, rng: np.random.Generator
) -> list[tuple[int, int, int]]:
    """`n` accent colours from other names, far enough from the ground to read."""
    g = srgb_to_lab(np.array([[palette[ground][0]]], np.uint8))[0, 0]
    names = [
        k
        for k in sorted(palette)
        if k != ground
        and np.linalg.norm(srgb_to_lab(np.array([[palette[k][0]]], np.uint8))[0, 0] - g) > 45
    ]
    picks = rng.choice(names, size=n, replace=False)
    return [pick_shade(palette[k], rng) for k in picks]


def render(
    cut: Cutout, pattern: str, ground: str, palette: dict[str, list], rng: np.random.Generator
) -> tuple[np.ndarray, str]:
    """Paint one garment; return the photo and its colour label ("" if none dominates)."""
    base = pick_shade(palette[ground], rng)
    if pattern == "solid":
        return paint(cut, flat(cut, base)), ground
    x0, y0, x1, y1 = cut.bbox
    others = contrasting(palette, ground, int(rng.integers(1, 4)), rng)
    h, w = y1 - y0, x1 - x0
    if pattern in CHEST_PATTERNS:
        albedo = PATTERNS[pattern](h, w, rng, base, others)
    else:
        albedo = PATTERNS[pattern](h, w, rng, base, others, scale=max(w, 0.75 * h))
    inside = cut.mask[y0:y1, x0:x1]
    is_ground = np.all(np.abs(albedo - np.array(base) / 255.0) < 0.03, axis=2)
    share = float(is_ground[inside].mean())
    return paint(cut, albedo), ground if share >= GROUND_SHARE_FOR_COLOUR else ""


def generate(
    catalog: Path,
    out: Path,
    per_class: int,
    per_colour: int,
    seed: int = 0,
    max_sources: int = 400,
) -> int:
    """Write `out/images/*.jpg` and `out/labels.csv`; returns the image count.

    Image k depends only on (seed, k), the source pool and the palette.
    """
    palette = load_palette()
    rng = np.random.default_rng(seed)
    pool = build_pool(plain_sources(catalog), max_sources, rng)
    if not pool:
        raise SystemExit(f"no usable plain garments under {catalog}")
    chest_pool = [s for s in pool if s.kind != "bottomwear"] or pool
    jobs = plan_jobs(palette, per_class, per_colour, rng)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    cache: dict[str, Cutout | None] = {}
    for k, (pattern, ground) in enumerate(tqdm(jobs, desc="painting")):
        job_rng = np.random.default_rng([seed, k])
        usable = pool if pattern not in CHEST_PATTERNS else chest_pool
        src = usable[int(job_rng.integers(len(usable)))]
        if src.id not in cache:
            cache[src.id] = load_cutout(src)
        photo, colour = render(cache[src.id], pattern, ground, palette, job_rng)
        if job_rng.uniform() < 0.5:
            photo = photo[:, ::-1]
        name = f"images/synth_{k:05d}.jpg"
        Image.fromarray(np.ascontiguousarray(photo)).save(out / name, quality=92)
        rows.append([name, "", colour, pattern, src.sleeve, src.id])
    with open(out / "labels.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return len(rows)


def main(argv: Sequence[str] | None = None) -> None:
    """CLI: python -m training.synth --catalog DIR --out DIR --per-class N --seed 0."""
    p = argparse.ArgumentParser(prog="python -m training.synth", description=__doc__)
    p.add_argument("--catalog", type=Path, required=True, help="catalog folder with labels.csv")
    p.add_argument("--out", type=Path, required=True, help="output folder (created)")
    p.add_argument("--per-class", type=int, default=150, help="images per non-solid pattern")
    p.add_argument(
        "--per-colour", type=int, default=None, help="solid images per colour (default per-class)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-sources", type=int, default=400, help="cap on distinct source photos")
    a = p.parse_args(argv)
    per_colour = a.per_class if a.per_colour is None else a.per_colour
    n = generate(a.catalog, a.out, a.per_class, per_colour, a.seed, a.max_sources)
    print(f"wrote {n} images and labels.csv to {a.out}")
