"""Hand-labelling by contact sheet: make numbered sheets of photos, collect the labels.

How ``training/labelmaps/clothing_checked.csv`` was made (docs/labelling.md): ``sheets``
draws photos of a mapped dataset in a seeded random order (skipping those already
labelled) onto numbered sheets; a person writes ``sheet_NNN.csv`` (``index`` plus one
column per family) beside each; ``collect`` checks every value against the vocabulary
and merges the sheets into a ``checked_labels`` CSV for the dataset's label map.

    python -m training.labelling sheets ../shared/datasets/clothing --out sheets \
        --skip training/labelmaps/clothing_checked.csv --count 720 --seed 2026
    python -m training.labelling collect sheets --into training/labelmaps/clothing_checked.csv
"""

from __future__ import annotations

import argparse
import csv
import random
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

from training.datasets import DatasetError, load_mapped
from training.labelmaps import FAMILIES, NOT_A_LABEL, vocabulary

TILE = 200
COLUMNS = 6
BAR = 18


def draw_sheet(paths: Sequence[Path]) -> Image.Image:
    """Photos as numbered tiles (0, 1, ... left to right, top to bottom)."""
    rows = (len(paths) + COLUMNS - 1) // COLUMNS
    sheet = Image.new("RGB", (COLUMNS * TILE, rows * (TILE + BAR)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, path in enumerate(paths):
        with Image.open(path) as im:
            tile = ImageOps.exif_transpose(im).convert("RGB")
        tile.thumbnail((TILE, TILE))
        x, y = (i % COLUMNS) * TILE, (i // COLUMNS) * (TILE + BAR)
        sheet.paste(tile, (x + (TILE - tile.width) // 2, y + BAR))
        draw.rectangle([x, y, x + TILE - 1, y + BAR - 1], fill="black")
        draw.text((x + 4, y + 3), str(i), fill="yellow")
    return sheet


def make_sheets(
    dataset: Path, out: Path, count: int, seed: int, skip: Path | None = None, per_sheet: int = 36
) -> int:
    """Write ``sheet_NNN.jpg`` + ``sheet_NNN.txt`` (image per line, relative to ``dataset``),
    numbered after the sheets already in ``out``; returns the number of photos drawn."""
    done = set()
    if skip is not None and skip.is_file():
        with skip.open(newline="", encoding="utf-8") as handle:
            done = {row["image"] for row in csv.DictReader(handle)}
    images = sorted(str(p.path.relative_to(dataset)) for p in load_mapped(dataset))
    todo = [image for image in images if image not in done]
    random.Random(seed).shuffle(todo)
    todo = todo[:count]
    out.mkdir(parents=True, exist_ok=True)
    first = len(list(out.glob("sheet_*.txt")))
    for k, start in enumerate(range(0, len(todo), per_sheet)):
        chunk = todo[start : start + per_sheet]
        stem = out / f"sheet_{first + k:03d}"
        stem.with_suffix(".txt").write_text("\n".join(chunk) + "\n", encoding="utf-8")
        draw_sheet([dataset / image for image in chunk]).save(stem.with_suffix(".jpg"), quality=85)
    return len(todo)


def collect(folder: Path, into: Path) -> int:
    """Merge every labelled sheet of ``folder`` into ``into`` (sorted by image); returns rows.

    Raises DatasetError naming the sheet and row when a sheet is incomplete or a value is
    not in the vocabulary (``unsure`` and ``multi`` are kept: they record the labeller's
    judgement, and training leaves them unknown).
    """
    vocab = vocabulary()
    rows: dict[str, dict[str, str]] = {}
    families: list[str] = []
    for labels_csv in sorted(folder.glob("sheet_*.csv")):
        images = labels_csv.with_suffix(".txt").read_text(encoding="utf-8").split()
        with labels_csv.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = [f for f in reader.fieldnames or [] if f in FAMILIES]
            families += [f for f in columns if f not in families]
            got = list(reader)
        if [int(r["index"]) for r in got] != list(range(len(images))):
            raise DatasetError(
                f"{labels_csv}: needs one row per tile, index 0..{len(images) - 1} in order."
            )
        for row in got:
            for family in columns:
                value = row[family].strip()
                if value and value not in vocab[family] and value not in NOT_A_LABEL:
                    raise DatasetError(
                        f"{labels_csv}, tile {row['index']}: {family} {value!r} is not one of "
                        f"{', '.join(vocab[family])}, unsure, multi."
                    )
            rows[images[int(row["index"])]] = {f: row[f].strip() for f in columns}
    with into.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, ["image", *families], restval="")
        writer.writeheader()
        writer.writerows({"image": image, **labels} for image, labels in sorted(rows.items()))
    return len(rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training.labelling", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sheets = sub.add_parser("sheets", help="draw numbered contact sheets of unlabelled photos")
    sheets.add_argument("dataset", type=Path, help="a dataset folder with a label map")
    sheets.add_argument("--out", type=Path, required=True)
    sheets.add_argument("--count", type=int, default=720)
    sheets.add_argument("--seed", type=int, default=0)
    sheets.add_argument("--skip", type=Path, help="a checked-labels CSV: photos already done")
    merge = sub.add_parser("collect", help="merge labelled sheets into a checked-labels CSV")
    merge.add_argument("folder", type=Path)
    merge.add_argument("--into", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "sheets":
        n = make_sheets(args.dataset, args.out, args.count, args.seed, args.skip)
        print(f"{n} photos on sheets in {args.out}")
    else:
        print(f"{collect(args.folder, args.into)} photos written to {args.into}")


if __name__ == "__main__":
    main()
