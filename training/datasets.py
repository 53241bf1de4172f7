"""Labelled photos from a CSV, a folder-per-class tree or a shipped dataset with a label map.

Every photo carries labels for some families only; the others are unknown and masked
out of the loss. Splits are seeded and stratified per source, so validation and test
hold consumer photos as well as catalog shots.
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.core.errors import VitrinaError
from training.labelmaps import FAMILIES, detect, vocabulary

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})
SPLITS = ("train", "val", "test")


class DatasetError(VitrinaError):
    """Training data cannot be read or has no usable labels."""


@dataclass(frozen=True)
class Photo:
    """One training photo: where it is, where it came from, what is known about it."""

    path: Path
    source: str
    labels: dict[str, str] = field(hash=False, compare=False)
    # The photo this one was made from (a CSV's ``source`` column, e.g. a synthetic
    # recolouring's catalog id), so derivatives of held-out photos stay out of training.
    origin: str = field(default="", compare=False)
    # Families whose label was checked by hand after the split was fixed (a label map's
    # ``checked_labels``; they win over mapped labels) and the labels the photo had
    # before: the split is drawn on those, so checking labels moves no photo.
    checked: frozenset[str] = field(default=frozenset(), compare=False)
    unchecked: dict[str, str] | None = field(default=None, hash=False, compare=False)
    # The split a label map pins this photo to ("train", "val", "test"), or "" to draw it.
    pinned: str = field(default="", compare=False)

    def split_labels(self) -> dict[str, str]:
        """The labels the split is stratified on."""
        return self.labels if self.unchecked is None else self.unchecked


def load_csv(csv_path: Path, source: str | None = None) -> list[Photo]:
    """A CSV with an ``image`` column (relative to the CSV) and one column per family.

    Empty cells are unknown. ``vitrina export --format csv --accepted-only`` writes this
    format with a ``path`` column instead, so staff corrections train as they are.
    An optional ``source`` column names the photo each image was derived from.
    """
    photos = []
    with csv_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        column = next((c for c in ("image", "path") if c in header), None)
        if column is None:
            raise DatasetError(f"{csv_path}: needs an 'image' or 'path' column; it has {header}.")
        families = [f for f in header if f in FAMILIES]
        if not families:
            raise DatasetError(
                f"{csv_path}: no family column ({', '.join(FAMILIES)}); add at least one."
            )
        for row in reader:
            labels = {f: row[f].strip() for f in families if (row.get(f) or "").strip()}
            if labels:
                photos.append(
                    Photo(
                        csv_path.parent / row[column],
                        source or csv_path.stem,
                        labels,
                        (row.get("source") or "").strip(),
                    )
                )
    return photos


def load_folder(root: Path, family: str) -> list[Photo]:
    """``root/<label>/<photo>``: one family, one folder per label."""
    photos = []
    for label_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(label_dir.rglob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                photos.append(Photo(path, root.name, {family: label_dir.name}))
    return photos


def load_mapped(root: Path) -> list[Photo]:
    """A folder with ``labels.csv`` read through the shipped label map that fits it."""
    labels_csv = root / "labels.csv"
    labelmap = detect(labels_csv)
    if labelmap is None:
        raise DatasetError(f"{labels_csv}: no label map in training/labelmaps fits its columns.")
    column = labelmap.spec["image_column"]
    checked = labelmap.checked_labels()
    held_out = labelmap.held_out()
    pinned_train = "train" if held_out else ""
    photos = []
    with labels_csv.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            labels = labelmap.labels_for(row)
            if labels:
                extra = {
                    family: label
                    for family, label in checked.get(row[column], {}).items()
                    if family != "pattern" or labelmap.pattern_applies(labels)
                }
                merged = {f: v for f, v in (labels | extra).items() if v is not None}
                photos.append(
                    Photo(
                        root / row[column],
                        root.name,
                        merged,
                        checked=frozenset(extra),
                        unchecked=labels if extra else None,
                        pinned=held_out.get(row[column], pinned_train),
                    )
                )
    return photos


def load_data(paths: Iterable[Path], folder_family: str | None = None) -> list[Photo]:
    """Photos from every path: a CSV file, a mapped dataset folder or a class-folder tree."""
    photos: list[Photo] = []
    for path in map(Path, paths):
        if path.is_file() and path.suffix.lower() == ".csv":
            photos += load_csv(path)
        elif (path / "labels.csv").is_file() and detect(path / "labels.csv"):
            photos += load_mapped(path)
        elif (path / "labels.csv").is_file():
            photos += load_csv(path / "labels.csv", source=path.name)
        elif path.is_dir() and folder_family:
            photos += load_folder(path, folder_family)
        else:
            raise DatasetError(
                f"{path}: not a labels CSV, a folder with labels.csv, or a class-folder tree "
                "(for a tree pass --family)."
            )
    missing = [p.path for p in photos[:50] if not p.path.is_file()]
    if missing:
        raise DatasetError(f"{missing[0]}: photo listed in the labels is missing.")
    if not photos:
        raise DatasetError("No labelled photos found in the data paths given.")
    return photos


def family_labels(photos: Sequence[Photo]) -> dict[str, tuple[str, ...]]:
    """Label vocabulary per family: the shipped order for known labels, then new ones sorted."""
    known = vocabulary()
    seen: dict[str, set[str]] = defaultdict(set)
    for photo in photos:
        for family, label in photo.labels.items():
            seen[family].add(label)
    result = {}
    for family in FAMILIES:
        if family not in seen:
            continue
        ordered = [lab for lab in known.get(family, ()) if lab in seen[family]]
        result[family] = tuple(ordered + sorted(seen[family] - set(ordered)))
    return result


def split(
    photos: Sequence[Photo], seed: int = 0, fractions: tuple[float, float] = (0.15, 0.15)
) -> dict[str, list[Photo]]:
    """Seeded split stratified by source and the photo's rarest known label; a photo its
    label map pins (``Photo.pinned``) goes where it is pinned."""
    parts: dict[str, list[Photo]] = {name: [] for name in SPLITS}
    drawn = []
    for photo in photos:
        if photo.pinned:
            parts[photo.pinned].append(photo)
        else:
            drawn.append(photo)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for photo in drawn:
        for family, label in photo.split_labels().items():
            counts[(family, label)] += 1
    strata: dict[tuple[str, ...], list[Photo]] = defaultdict(list)
    for photo in drawn:
        own = photo.split_labels().items()
        rarest = min(own, key=lambda item: (counts[item], item)) if own else ()
        strata[(photo.source, *rarest)].append(photo)
    rng = random.Random(seed)
    for key in sorted(strata):
        group = sorted(strata[key], key=lambda p: str(p.path))
        rng.shuffle(group)
        n_val = round(len(group) * fractions[0])
        n_test = round(len(group) * fractions[1])
        parts["val"] += group[:n_val]
        parts["test"] += group[n_val : n_val + n_test]
        parts["train"] += group[n_val + n_test :]
    return parts


def with_extra_train(
    parts: dict[str, list[Photo]], extra: Sequence[Photo]
) -> tuple[dict[str, list[Photo]], int]:
    """Add ``extra`` photos to the training split only, leaving the real split unchanged.

    An extra photo derived from a validation or test photo (its ``origin`` is that photo's
    file name without suffix; catalog files are named by id) is dropped: training on a
    recolouring of a held-out photo would leak it. Returns the new parts and the count dropped.
    """
    held_out = {p.path.stem for name in ("val", "test") for p in parts[name]}
    kept = [p for p in extra if p.origin not in held_out]
    return {**parts, "train": parts["train"] + kept}, len(extra) - len(kept)
