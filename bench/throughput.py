"""Tagging throughput end to end: file -> decoded -> tags + embedding -> catalog row -> index.

Vitrina's pipeline (``importer.import_paths`` into a fresh temporary catalog, with the
default bundle) and the study's pipeline (four separate ResNet50 fp32 classifiers, four
forward passes per photo at 224 px, 4 x 1000-d features concatenated, exact Euclidean
search over the catalog so far, one SQLite commit per photo) run back to back in one
process, on real ~320 px catalog photos and on 12-megapixel JPEGs. The figure that
matters is the ratio of the two rates measured in the same run: absolute photos/s move
with machine load, the ratio much less.

    python -m bench.throughput --quick      # < 1 minute
    python -m bench.throughput              # the figures in docs/performance.md
"""

from __future__ import annotations

import argparse
import hashlib
import sqlite3
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

from app.core.bundle import Bundle, BundleSet, load_bundle
from app.core.catalog import Catalog
from app.core.context import AppContext
from app.core.importer import import_paths
from bench.common import Timer, catalog_photos, report, twelve_mp_photos
from bench.models import STUDY_SIZE, default_bundle, study_resnet50

STUDY_FAMILIES = ("category", "pattern", "sleeve", "colour")
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
STUDY_SCHEMA = """
CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT, sha256 TEXT UNIQUE, width INT, height INT);
CREATE TABLE predictions (photo_id INT, family TEXT, label INT, confidence REAL);
CREATE TABLE features (photo_id INT PRIMARY KEY, vector BLOB);
"""


class StudyPipeline:
    """The study's method as its paper describes it: one network per family, exhaustive search."""

    def __init__(self, model: Path) -> None:
        # Four separate sessions, as four separately trained networks would be.
        self.sessions = [
            ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
            for _ in STUDY_FAMILIES
        ]

    @staticmethod
    def preprocess(path: Path) -> tuple[np.ndarray, int, int]:
        """Full decode, stretch to 224 x 224 (Keras load_img), ImageNet normalisation."""
        with Image.open(path) as image:
            rgb = image.convert("RGB")
        width, height = rgb.size
        pixels = np.asarray(rgb.resize((STUDY_SIZE, STUDY_SIZE), Image.Resampling.BILINEAR))
        pixels = (pixels.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
        return pixels.transpose(2, 0, 1)[None].copy(), width, height

    def warm_up(self) -> None:
        blank = np.zeros((1, 3, STUDY_SIZE, STUDY_SIZE), np.float32)
        for session in self.sessions:
            session.run(None, {"image": blank})

    def import_paths(self, paths: Sequence[Path], db_path: Path) -> float:
        """Seconds to import ``paths`` into a new database at ``db_path``."""
        connection = sqlite3.connect(db_path)
        connection.executescript(STUDY_SCHEMA)
        started = time.perf_counter()
        vectors = np.empty((len(paths), 1000 * len(self.sessions)), np.float32)
        for count, path in enumerate(paths):
            sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
            batch, width, height = self.preprocess(path)
            outputs = [session.run(None, {"image": batch}) for session in self.sessions]
            vector = np.concatenate([features[0] for _probs, features in outputs])
            if count:
                distances = np.sqrt(((vectors[:count] - vector) ** 2).sum(axis=1))
                np.argsort(distances)[:10]
            vectors[count] = vector
            cursor = connection.execute(
                "INSERT INTO photos (path, sha256, width, height) VALUES (?, ?, ?, ?)",
                (str(path), sha256, width, height),
            )
            for family, (probs, _features) in zip(STUDY_FAMILIES, outputs, strict=True):
                connection.execute(
                    "INSERT INTO predictions VALUES (?, ?, ?, ?)",
                    (cursor.lastrowid, family, int(probs[0].argmax()), float(probs[0].max())),
                )
            connection.execute(
                "INSERT INTO features VALUES (?, ?)", (cursor.lastrowid, vector.tobytes())
            )
            connection.commit()
        seconds = time.perf_counter() - started
        connection.close()
        return seconds


def vitrina_import(paths: Sequence[Path], bundle: Bundle | BundleSet, folder: Path) -> float:
    """Seconds ``import_paths`` takes into a new catalog in ``folder`` (the bundle reused).

    Opening (migrating) the empty catalog is left out of the time, as the study's side
    leaves out creating its tables.
    """
    ctx = AppContext(Catalog.open(folder / "catalog.sqlite"), bundle.path)
    ctx.bundle = bundle  # loaded once for all rounds; loading is not part of the rate
    try:
        with Timer() as timer:
            report_ = import_paths(paths, ctx)
    finally:
        ctx.close()
    if report_.failures or len(report_.added) != len(paths):
        raise RuntimeError(f"import failed: {report_.failures[:3]}")
    return timer.seconds


def warm_up_vitrina(bundle: Bundle | BundleSet, photo: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        vitrina_import([photo], bundle, Path(tmp))


def measure(
    name: str,
    ours: Sequence[Path],
    theirs: Sequence[Path],
    bundle: Bundle | BundleSet,
    study: StudyPipeline,
    rounds: int,
) -> dict:
    """Alternate short runs of the two pipelines (ABBA) and compare their rates.

    Short alternating runs let load changes on a shared machine hit both sides alike;
    the headline ratio is the median of the per-round ratios.
    """
    seconds = {"vitrina": 0.0, "study": 0.0}
    ratios = []
    for round_ in range(rounds):
        order = ("vitrina", "study") if round_ % 2 == 0 else ("study", "vitrina")
        rates = {}
        for side in order:
            with tempfile.TemporaryDirectory() as tmp:
                if side == "vitrina":
                    took = vitrina_import(ours, bundle, Path(tmp))
                    rates[side] = len(ours) / took
                else:
                    took = study.import_paths(theirs, Path(tmp) / "study.sqlite")
                    rates[side] = len(theirs) / took
            seconds[side] += took
        ratios.append(rates["vitrina"] / rates["study"])
    vitrina_rate = rounds * len(ours) / seconds["vitrina"]
    study_rate = rounds * len(theirs) / seconds["study"]
    result = {
        "photos": name,
        "vitrina_photos_per_round": len(ours),
        "study_photos_per_round": len(theirs),
        "rounds": rounds,
        "vitrina_photos_per_s": round(vitrina_rate, 2),
        "study_photos_per_s": round(study_rate, 3),
        "ratio_median_of_rounds": round(float(np.median(ratios)), 2),
        "ratio_of_totals": round(vitrina_rate / study_rate, 2),
        "ratio_per_round": [round(r, 2) for r in ratios],
    }
    print(result, flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few photos, 4 rounds (< 1 min)")
    parser.add_argument("--bundle", type=Path, help="bundle folder (default: models_onnx/default)")
    parser.add_argument("--out", type=Path, help="write the JSON result here")
    args = parser.parse_args()
    bundle_path = args.bundle or default_bundle()
    bundle = load_bundle(bundle_path)
    study = StudyPipeline(study_resnet50())
    if args.quick:
        real_ours, real_study, big_ours, big_study, rounds = 16, 2, 8, 1, 4
    else:
        real_ours, real_study, big_ours, big_study, rounds = 96, 8, 20, 4, 10
    real = catalog_photos(real_ours)
    big = twelve_mp_photos(20)
    warm_up_vitrina(bundle, real[0])
    study.warm_up()
    results = [
        measure("catalog ~320 px", real, real[:real_study], bundle, study, rounds),
        measure("12 MP (4000x3000)", big[:big_ours], big[:big_study], bundle, study, rounds),
    ]
    report(
        "throughput",
        {"bundle": str(bundle_path), "bundle_key": bundle.key, "results": results},
        args.out,
    )


if __name__ == "__main__":
    main()
