"""Contact sheet of a synthetic dataset: one row per pattern, labels under tiles.

python -m training.synth.contact_sheet --synth DIR --out docs/synthetic_contact_sheet.jpg
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

TILE = (168, 224)
CAPTION = 18
ROW_ORDER = ["solid", "striped", "checked", "polka dot", "floral", "printed"]


def contact_sheet(synth: Path, cols: int = 6, seed: int = 0) -> Image.Image:
    """Pick `cols` images per pattern (distinct colours first) and tile them."""
    by_pattern: dict[str, list[dict]] = defaultdict(list)
    with open(synth / "labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            by_pattern[row["pattern"]].append(row)
    rng = np.random.default_rng(seed)
    patterns = [p for p in ROW_ORDER if p in by_pattern]
    tw, th = TILE
    sheet = Image.new("RGB", (cols * tw, len(patterns) * (th + CAPTION)), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=13)
    for r, pattern in enumerate(patterns):
        rows = [by_pattern[pattern][i] for i in rng.permutation(len(by_pattern[pattern]))]
        seen: set[str] = set()
        picks = [x for x in rows if not (x["colour"] in seen or seen.add(x["colour"]))][:cols]
        picks += [x for x in rows if x not in picks][: cols - len(picks)]
        for c, row in enumerate(picks):
            with Image.open(synth / row["image"]) as im:
                tile = im.convert("RGB")
                tile.thumbnail(TILE)
            x, y = c * tw, r * (th + CAPTION)
            sheet.paste(tile, (x + (tw - tile.width) // 2, y))
            text = f"{pattern} · {row['colour'] or 'mixed'}"
            draw.text((x + tw / 2, y + th + 2), text, fill="black", font=font, anchor="mt")
    return sheet


def main(argv: Sequence[str] | None = None) -> None:
    """CLI: write the contact sheet of a dataset written by `python -m training.synth`."""
    p = argparse.ArgumentParser(prog="python -m training.synth.contact_sheet")
    p.add_argument("--synth", type=Path, required=True, help="folder with labels.csv")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--cols", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quality", type=int, default=80)
    a = p.parse_args(argv)
    contact_sheet(a.synth, a.cols, a.seed).save(a.out, quality=a.quality, optimize=True)


if __name__ == "__main__":
    main()
