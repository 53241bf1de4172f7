"""Catalog garments on the backgrounds people photograph clothes on.

Catalog shots are all on white, so heads trained on them read the colour of whatever is
not white: on a consumer photo that is the floor or the bed (a white T-shirt on a wooden
floor is tagged brown). This swaps each training-split catalog photo's white backdrop
(near-white pixels connected to the border) for a corner of a training-split consumer
photo (floors, beds, tables) or a lit plain colour. The garment is untouched, so every
label of the source photo still holds.

    python -m training.synth.backdrops --data ../shared/datasets/clothing \
        ../shared/datasets/catalog --out .cache/backdrops
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter
from tqdm import tqdm

from training.datasets import FAMILIES, Photo, load_data, split
from training.synth.cutout import background_mask

CORNER = 0.35  # side of the corner patch, as a share of the consumer photo's sides
PLAIN_SHARE = 0.3  # share of backdrops that are a lit plain colour instead of a photo corner
COLUMNS = ["image", *FAMILIES, "source"]


def corner_patch(path: Path, rng: np.random.Generator) -> Image.Image:
    """One corner of a consumer photo: usually floor, bed or wall, rarely the garment."""
    with Image.open(path) as im:
        rgb = im.convert("RGB")
    w, h = rgb.size
    cw, ch = max(8, int(w * CORNER)), max(8, int(h * CORNER))
    x = 0 if rng.uniform() < 0.5 else w - cw
    y = 0 if rng.uniform() < 0.5 else h - ch
    return rgb.crop((x, y, x + cw, y + ch))


def plain_backdrop(size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    """A plain colour lit from one side, with sensor noise."""
    w, h = size
    base = rng.uniform(20, 235, size=3)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ramp = (np.cos(angle) * xx / w + np.sin(angle) * yy / h) * rng.uniform(-40, 40)
    noise = rng.normal(0, 4, size=(h, w, 3))
    pixels = base[None, None, :] + ramp[..., None] + noise
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def composite(photo: Image.Image, backdrop: Image.Image) -> Image.Image:
    """The photo with its white, border-connected backdrop replaced (soft 1-px edge)."""
    rgb = np.asarray(photo.convert("RGB"))
    mask = Image.fromarray(background_mask(rgb).astype(np.uint8) * 255)
    mask = mask.filter(ImageFilter.GaussianBlur(1.0))
    backdrop = backdrop.resize(photo.size, Image.Resampling.BICUBIC)
    return Image.composite(backdrop, photo.convert("RGB"), mask)


def generate(
    data: Sequence[Path],
    out: Path,
    seed: int = 0,
    limit: int | None = None,
    garments_from: str = "catalog",
) -> int:
    """Write ``out/images/*.jpg`` and ``out/labels.csv`` from the training split only.

    Garments come from the source (dataset folder name) ``garments_from``, backdrops from
    the other sources. The split is :func:`training.datasets.split` of ``data`` with
    ``seed``, the one ``vitrina-train fit`` uses, so no held-out garment or backdrop is used.
    """
    train = split(load_data(data), seed)["train"]
    # Drawn on the dataset's own labels, so checking labels by eye later changes the
    # labels written, not which garments (and so which images) are made.
    garments = [p for p in train if p.source == garments_from and "colour" in p.split_labels()]
    corners = [p.path for p in train if p.source != garments_from]
    if not garments or not corners:
        raise SystemExit(
            f"--data needs training photos of {garments_from!r} with a colour label and "
            "photos of another source (for the backdrops)."
        )
    rng = np.random.default_rng(seed)
    garments = [garments[i] for i in rng.permutation(len(garments))[:limit]]
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for k, photo in enumerate(tqdm(garments, desc="backdrops")):
        job_rng = np.random.default_rng([seed, k])
        with Image.open(photo.path) as im:
            source = im.convert("RGB")
        if job_rng.uniform() < PLAIN_SHARE:
            backdrop = plain_backdrop(source.size, job_rng)
        else:
            backdrop = corner_patch(corners[int(job_rng.integers(len(corners)))], job_rng)
        name = f"images/backdrop_{k:05d}.jpg"
        composite(source, backdrop).save(out / name, quality=90)
        rows.append(_row(name, photo))
    with open(out / "labels.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return len(rows)


def _row(name: str, photo: Photo) -> list[str]:
    return [name, *(photo.labels.get(f, "") for f in FAMILIES), photo.path.stem]


def main(argv: Sequence[str] | None = None) -> None:
    """CLI: python -m training.synth.backdrops --data CLOTHING CATALOG --out DIR."""
    p = argparse.ArgumentParser(prog="python -m training.synth.backdrops", description=__doc__)
    p.add_argument("--data", type=Path, nargs="+", required=True, help="as for vitrina-train fit")
    p.add_argument("--out", type=Path, required=True, help="output folder (created)")
    p.add_argument("--seed", type=int, default=0, help="the split seed of vitrina-train fit")
    p.add_argument("--limit", type=int, default=None, help="at most this many garments")
    p.add_argument(
        "--garments-from", default="catalog", help="source (folder name) of white-backdrop shots"
    )
    a = p.parse_args(argv)
    n = generate(a.data, a.out, a.seed, a.limit, a.garments_from)
    print(f"wrote {n} images and labels.csv to {a.out}")


if __name__ == "__main__":
    main()
