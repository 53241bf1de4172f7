"""Near-duplicate flag: precision and recall of candidate signals on pairs made from real photos.

Positives: a real photo and a copy of it changed the way shops change files (re-encoded,
resized, lightly cropped, rotated by EXIF, re-exported as PNG/WebP, and combinations).
Negatives: two different products that look alike: the same category (Vitrina's words,
from the label maps) and the same hand-checked colour. Every file goes through the
importer's own decode (``decode_photo`` at the bundle's input size: EXIF transpose, JPEG
draft), so each signal sees what the importer sees.

Signals: difference hashes of 64 and 256 bits, plain and after trimming a plain background
border (Hamming distance), and the bundle's embedding (cosine). Per threshold: recall,
precision against the look-alike pairs, and false flags per 1,000 photos imported into a
10,000-photo catalog (from every pair of the pool). The chosen signal is
``app.core.near_duplicates.perceptual_hash`` at ``NEAR_THRESHOLD``.

    python -m bench.near_duplicates --quick     # 120 originals, 600-photo pool
    python -m bench.near_duplicates             # 400 originals, 2,400-photo pool
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import random
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from app.core.decode import PhotoFile, decode_photo
from app.core.near_duplicates import NEAR_THRESHOLD, bit_counts, perceptual_hash
from bench.common import CATALOG_IMAGES, CLOTHING_IMAGES, report
from bench.models import REPO, default_bundle

LABELMAPS = REPO / "training" / "labelmaps"
CHUNK = 500_000
Edit = Callable[[Image.Image], tuple[bytes, str]]


def _jpeg(image: Image.Image, quality: int, exif: bytes = b"") -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()


def _resized(image: Image.Image, scale: float) -> Image.Image:
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _cropped(
    image: Image.Image, left: float, top: float, right: float, bottom: float
) -> Image.Image:
    w, h = image.size
    return image.crop(
        (round(w * left), round(h * top), round(w * (1 - right)), round(h * (1 - bottom)))
    )


def _exif_rotated(image: Image.Image) -> bytes:
    """Pixels stored turned a quarter, with the EXIF orientation (6) that turns them back."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return _jpeg(image.transpose(Image.Transpose.ROTATE_90), 92, exif.tobytes())


def _saved(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, fmt, **options)
    return out.getvalue()


EDITS: dict[str, Edit] = {
    "jpeg q75": lambda im: (_jpeg(im, 75), ".jpg"),
    "jpeg q40": lambda im: (_jpeg(im, 40), ".jpg"),
    "resize 50%": lambda im: (_jpeg(_resized(im, 0.5), 90), ".jpg"),
    "resize 75%": lambda im: (_jpeg(_resized(im, 0.75), 85), ".jpg"),
    "crop 3% each side": lambda im: (_jpeg(_cropped(im, 0.03, 0.03, 0.03, 0.03), 90), ".jpg"),
    "crop 8% one side": lambda im: (_jpeg(_cropped(im, 0, 0, 0, 0.08), 90), ".jpg"),
    "exif rotation": lambda im: (_exif_rotated(im), ".jpg"),
    "png": lambda im: (_saved(im, "PNG"), ".png"),
    "webp q80": lambda im: (_saved(im, "WEBP", quality=80), ".webp"),
    "crop 5% + resize 70% + q70": lambda im: (
        _jpeg(_resized(_cropped(im, 0.05, 0.0, 0.0, 0.05), 0.7), 70),
        ".jpg",
    ),
}


def _labels() -> dict[Path, tuple[str, str]]:
    """Photo -> (category, colour) in Vitrina's words, for photos with both known."""
    catalog_map = json.loads((LABELMAPS / "catalog.json").read_text())["category"]["map"]
    clothing_map = json.loads((LABELMAPS / "clothing.json").read_text())["category"]["map"]
    categories: dict[Path, str] = {}
    with (CATALOG_IMAGES.parent / "labels.csv").open() as handle:
        for row in csv.DictReader(handle):
            if row["articleType"] in catalog_map:
                categories[CATALOG_IMAGES.parent / row["image"]] = catalog_map[row["articleType"]]
    with (CLOTHING_IMAGES.parent / "labels.csv").open() as handle:
        for row in csv.DictReader(handle):
            if row["category"] in clothing_map:
                categories[CLOTHING_IMAGES.parent / row["image"]] = clothing_map[row["category"]]
    labels: dict[Path, tuple[str, str]] = {}
    for source, folder in (
        ("catalog", CATALOG_IMAGES.parent),
        ("clothing", CLOTHING_IMAGES.parent),
    ):
        with (LABELMAPS / f"{source}_checked.csv").open() as handle:
            for row in csv.DictReader(handle):
                path = folder / row["image"]
                category = row.get("category") or categories.get(path)
                if category and row["colour"] and path.is_file():
                    labels[path] = (category, row["colour"])
    return labels


def _pool(labels: dict[Path, tuple[str, str]], size: int, seed: int) -> list[Path]:
    """Photos from the larger look-alike groups (>= 4 photos of one category and colour)."""
    groups: dict[tuple[str, str], list[Path]] = defaultdict(list)
    for path, key in sorted(labels.items()):
        groups[key].append(path)
    rng = random.Random(seed)
    eligible = [path for members in groups.values() if len(members) >= 4 for path in members]
    rng.shuffle(eligible)
    return sorted(eligible[:size])


def _decoded(data: bytes, name: str, min_side: int) -> Image.Image:
    photo = PhotoFile(Path(name), data, hashlib.sha256(data).hexdigest())
    return decode_photo(photo, min_side).image


def _dhash(image: Image.Image, side: int) -> bytes:
    """The difference hash without the background trim (the comparison rows of the table)."""
    grey = ImageOps.grayscale(image).resize(
        (side + 1, side), Image.Resampling.LANCZOS, reducing_gap=2.0
    )
    pixels = np.asarray(grey, dtype=np.int16)
    return np.packbits(pixels[:, 1:] > pixels[:, :-1]).tobytes()


def _hash_distances(hashes: list[bytes], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    words = np.frombuffer(b"".join(hashes), dtype=np.uint64).reshape(len(hashes), -1)
    out = np.empty(len(a), dtype=np.int32)
    for start in range(0, len(a), CHUNK):
        x = np.bitwise_xor(words[a[start : start + CHUNK]], words[b[start : start + CHUNK]])
        out[start : start + CHUNK] = bit_counts(x).sum(axis=1)
    return out


def _cosines(vectors: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.empty(len(a), dtype=np.float32)
    for start in range(0, len(a), CHUNK):
        sl = slice(start, start + CHUNK)
        out[sl] = np.einsum("ij,ij->i", vectors[a[sl]], vectors[b[sl]])
    return out


def _curve(
    positives: np.ndarray,
    lookalike: np.ndarray,
    every: np.ndarray,
    thresholds: list,
    flagged: Callable[[np.ndarray, object], np.ndarray],
) -> list[dict]:
    """Per threshold: recall on the positive pairs, precision and false-positive rate on
    positives vs look-alike pairs, and false flags per 1,000 imported photos against a
    10,000-photo catalog (from every pair of the pool, look-alike or not)."""
    rows = []
    for threshold in thresholds:
        tp = int(np.count_nonzero(flagged(positives, threshold)))
        fp = int(np.count_nonzero(flagged(lookalike, threshold)))
        rate = float(np.count_nonzero(flagged(every, threshold))) / len(every)
        rows.append(
            {
                "threshold": threshold,
                "recall": tp / len(positives),
                "precision": tp / (tp + fp) if tp + fp else 1.0,
                "lookalike_false_positive_rate": fp / len(lookalike),
                "false_flags_per_1000_imports_10000_catalog": rate * 1000 * 10_000,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--bundle", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=25)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    originals_n, pool_n = (120, 600) if args.quick else (400, 2400)

    from app.core.bundle import load_bundle
    from app.core.tagger import Tagger

    bundle = load_bundle(args.bundle or default_bundle())
    tagger = Tagger(bundle, batch_size=16)
    labels = _labels()
    pool = _pool(labels, pool_n, args.seed)
    originals = random.Random(args.seed).sample(pool, originals_n)

    images: list[Image.Image] = []
    for path in pool:
        images.append(_decoded(path.read_bytes(), path.name, tagger.min_size))
    index = {path: i for i, path in enumerate(pool)}
    pos_pairs: list[tuple[int, int]] = []
    edit_names: list[str] = []
    for path in originals:
        with Image.open(path) as source:
            upright = ImageOps.exif_transpose(source).convert("RGB")
        for name, edit in EDITS.items():
            data, suffix = edit(upright)
            images.append(_decoded(data, path.stem + suffix, tagger.min_size))
            pos_pairs.append((index[path], len(images) - 1))
            edit_names.append(name)
    neg_pairs = [
        (index[a], index[b])
        for i, a in enumerate(pool)
        for b in pool[i + 1 :]
        if labels[a] == labels[b]
    ]

    pa, pb = np.array(pos_pairs).T
    la, lb = np.array(neg_pairs).T
    ea, eb = np.triu_indices(len(pool), 1)
    hashes = {
        "difference hash 64 bits (Hamming <=)": [_dhash(im, 8) for im in images],
        "difference hash 256 bits (Hamming <=)": [_dhash(im, 16) for im in images],
        "trimmed difference hash 256 bits, chosen (Hamming <=)": [
            perceptual_hash(im) for im in images
        ],
    }
    steps = {"64": list(range(0, 13)), "256": list(range(0, 57, 4))}
    signals = {
        name: (
            _hash_distances(values, pa, pb),
            _hash_distances(values, la, lb),
            _hash_distances(values, ea, eb),
            steps["64" if "64 bits" in name else "256"],
            lambda d, t: d <= t,
        )
        for name, values in hashes.items()
    }
    embeddings = np.stack([t.embedding for t in tagger.tag_images(images)])
    signals["bundle embedding (cosine >=)"] = (
        _cosines(embeddings, pa, pb),
        _cosines(embeddings, la, lb),
        _cosines(embeddings, ea, eb),
        [0.98, 0.985, 0.99, 0.993, 0.995, 0.997, 0.999],
        lambda d, t: d >= t,
    )
    chosen = "trimmed difference hash 256 bits, chosen (Hamming <=)"
    results = {
        "originals": originals_n,
        "pool": len(pool),
        "positive_pairs": len(pos_pairs),
        "lookalike_pairs": len(neg_pairs),
        "pool_pairs": len(ea),
        "edits": list(EDITS),
        "bundle": bundle.label,
        "chosen": {"signal": chosen, "threshold": NEAR_THRESHOLD},
        "curves": {},
        "recall_per_edit_at_chosen": {
            name: float(np.mean(signals[chosen][0][np.array(edit_names) == name] <= NEAR_THRESHOLD))
            for name in EDITS
        },
    }
    for name, (pos, lookalike, every, thresholds, flag) in signals.items():
        results["curves"][name] = _curve(pos, lookalike, every, thresholds, flag)
        print(f"\n{name}: {len(pos)} positive, {len(lookalike)} look-alike pairs")
        print("  threshold  recall  precision  look-alike FPR  false flags/1,000 imports (10k)")
        for row in results["curves"][name]:
            print(
                f"  {row['threshold']:>9}  {row['recall']:6.3f}  {row['precision']:9.4f}"
                f"  {row['lookalike_false_positive_rate']:14.5f}"
                f"  {row['false_flags_per_1000_imports_10000_catalog']:10.1f}"
            )
    print(f"\nrecall per edit, {chosen} <= {NEAR_THRESHOLD}:")
    for name, recall in results["recall_per_edit_at_chosen"].items():
        print(f"  {name:<28} {recall:.3f}")
    report("near_duplicates", results, args.out)


if __name__ == "__main__":
    main()
