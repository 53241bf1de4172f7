"""``fit``: photos -> cached features -> heads -> ONNX bundle -> thresholds -> report."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from app.core.decode import open_photo, preprocess
from training.backbones import build_backbone
from training.calibrate import MIN_SOURCE, at_threshold, threshold_for_every_source
from training.colour import ColourDescriptor
from training.datasets import Photo, family_labels, load_data, split, with_extra_train
from training.export import (
    export_onnx,
    manifest_for,
    parity,
    thresholds_of,
    write_manifest,
    write_set_manifest,
)
from training.features import DEFAULT_CACHE, extract, preprocessing_for
from training.heads import (
    Head,
    HeadInputs,
    Recipe,
    describe_thumbnails,
    head_parts,
    predict,
    train_family_head,
)
from training.network import LEARNING_PARTS, LearningFeatures, VitrinaNet
from training.outputs import check_bundle_output, replacing

PARITY_ATOL = 1e-4
# Chosen on validation P@5 (python -m training.experiments.embedding_weights, docs/quality.md):
# neighbours that agree on category and colour first, sleeve length least.
DEFAULT_EMBEDDING_WEIGHTS = {"category": 2.0, "colour": 2.0, "sleeve": 0.5}
LEARNING_COMPONENTS = 128


@dataclass
class FitConfig:
    """Everything ``vitrina-train fit`` needs; defaults build the shipped bundle."""

    data: Sequence[Path]
    out: Path
    # Training-only photos (e.g. synthetic recolourings); they never change the real split.
    extra_train: Sequence[Path] = ()
    backbone: str = "efficientnet_lite2"
    size: int | None = None
    weights: Path | None = None
    from_scratch: bool = False
    recipe: Recipe = field(default_factory=Recipe)
    finetune_epochs: int = 0
    finetune_lr: float = 1e-4
    separate: bool = False
    quantize: bool = False
    target_precision: float = 0.95
    seed: int = 0
    cache_dir: Path = DEFAULT_CACHE
    folder_family: str | None = None
    report: Path | None = None
    name: str = "vitrina-default"
    version: str = "2026.11.26"
    embedding_weights: dict[str, float] = field(
        default_factory=lambda: dict(DEFAULT_EMBEDDING_WEIGHTS)
    )
    # Principal axes of the final features in the "features" output a catalog learns from
    # (0: no such output); chosen on the simulated review of a new source (docs/learning.md).
    learning_components: int = LEARNING_COMPONENTS
    # Calibrate on each source left out of training too (training.holdout): the threshold
    # must hold on photos from elsewhere, not only on a split of the training sources.
    held_out: bool = True
    command: str = ""


@dataclass
class Prepared:
    """Photos, splits, vocabularies and head inputs per split (features from the cache)."""

    photos: list[Photo]
    parts: dict[str, list[Photo]]
    labels: dict[str, tuple[str, ...]]
    inputs: dict[str, HeadInputs]
    mirrored: HeadInputs | None
    descriptor: ColourDescriptor


def prepare(config: FitConfig) -> Prepared:
    """Load and split the photos, extract (or read cached) features for every split."""
    photos = load_data(config.data, config.folder_family)
    parts = split(photos, config.seed)
    if config.extra_train:
        extra = [_as_decided(p) for p in load_data(config.extra_train, config.folder_family)]
        parts, dropped = with_extra_train(parts, extra)
        photos = photos + extra
        print(f"extra training photos: {len(extra) - dropped} ({dropped} made from held-out ones)")
        decided = [p for p in extra if p.checked]
        if decided:
            print(
                f"of which {len(decided)} decided by people (an exported catalog), each counting "
                f"{config.recipe.checked_weight}x (--checked-weight): "
                + ", ".join(f"{f} {n}" for f, n in sorted(family_counts(decided).items()))
            )
    labels = {f: names for f, names in family_labels(parts["train"]).items() if len(names) >= 2}
    pre = preprocessing_for(config.backbone, config.size)
    descriptor = ColourDescriptor(pre.size[0], pre.mean, pre.std)
    head_input_parts = {f: head_parts(f, config.recipe) for f in labels}
    common = dict(
        backbone=config.backbone,
        size=pre.size[0],
        cache_dir=config.cache_dir,
        weights=config.weights,
        from_scratch=config.from_scratch,
    )

    def inputs_of(photo_list: list[Photo], flip: bool = False) -> HeadInputs:
        feats = extract([p.path for p in photo_list], flip=flip, **common)
        return HeadInputs(
            feats.final,
            feats.mid,
            describe_thumbnails(feats.thumb, descriptor),
            feats.garment,
            head_input_parts,
        )

    inputs = {name: inputs_of(part) for name, part in parts.items() if part}
    mirrored = inputs_of(parts["train"], flip=True) if config.recipe.mirrored else None
    return Prepared(photos, parts, labels, inputs, mirrored, descriptor)


def _as_decided(photo: Photo) -> Photo:
    """An extra training photo that no program made (a row of an exported catalog: tags
    people accepted or corrected) counts like a hand-checked label; a few dozen corrections
    among 10,000 photos would otherwise move nothing."""
    if photo.origin:
        return photo
    return dataclasses.replace(photo, checked=frozenset(photo.labels))


def family_counts(photos: Sequence[Photo]) -> dict[str, int]:
    """Labelled photos per family."""
    counts: dict[str, int] = {}
    for photo in photos:
        for family in photo.labels:
            counts[family] = counts.get(family, 0) + 1
    return counts


def encoded(photos: Sequence[Photo], family: str, labels: Sequence[str]) -> tuple[np.ndarray, ...]:
    """(rows with a known label, their class indices)."""
    index = {label: i for i, label in enumerate(labels)}
    rows = [i for i, p in enumerate(photos) if p.labels.get(family) in index]
    return np.array(rows, dtype=np.int64), np.array(
        [index[photos[i].labels[family]] for i in rows], dtype=np.int64
    )


def train_heads(
    prepared: Prepared, recipe: Recipe, keep: Callable[[Photo], bool] | None = None
) -> dict[str, Head]:
    """A head per family on the training split (only the photos ``keep`` accepts)."""
    heads = {}
    train = prepared.parts["train"]
    for family, names in prepared.labels.items():
        rows, y = encoded(train, family, names)
        if keep is not None:
            kept = np.array([keep(train[i]) for i in rows], dtype=bool)
            rows, y = rows[kept], y[kept]
        checked = np.array([family in train[i].checked for i in rows], dtype=bool)
        repeat = np.where(checked, max(1, recipe.checked_weight), 1)
        rows, y = np.repeat(rows, repeat), np.repeat(y, repeat)
        x = prepared.inputs["train"].for_family(family)[rows]
        x_m = prepared.mirrored.for_family(family)[rows] if prepared.mirrored else None
        heads[family] = train_family_head(family, x, y, len(names), recipe, x_m)
    return heads


def validation_scores(
    prepared: Prepared, heads: dict[str, Head], split_name: str = "val"
) -> dict[str, dict]:
    """Per family: confidence, correctness, sources and top-k on a split (from cached features)."""
    photos = prepared.parts[split_name]
    result = {}
    for family, names in prepared.labels.items():
        rows, y = encoded(photos, family, names)
        if len(rows) == 0:
            continue
        probs = predict(heads[family], prepared.inputs[split_name].for_family(family)[rows])
        result[family] = _scores(probs, y, [photos[i].source for i in rows])
    return result


def _scores(probs: np.ndarray, y: np.ndarray, sources: list[str]) -> dict:
    """What calibration and the reports read off one family's probabilities."""
    ranked = np.argsort(-probs, axis=1)
    return {
        "confidence": probs.max(axis=1),
        "correct": ranked[:, 0] == y,
        "top3": (ranked[:, :3] == y[:, None]).any(axis=1),
        "sources": sources,
        "y": y,
        "pred": ranked[:, 0],
    }


def calibrate(scores: dict[str, dict], target: float, split_name: str) -> dict[str, dict]:
    """Threshold per family at ``target`` precision, with per-source precision/coverage."""
    thresholds = {}
    for family, s in scores.items():
        found = threshold_for_every_source(s["confidence"], s["correct"], s["sources"], target)
        sources = sorted(set(s["sources"]))
        per_source = at_threshold(s["confidence"], s["correct"], s["sources"], found["threshold"])
        thresholds[family] = {
            "threshold": found["threshold"],
            "target_precision": target,
            "precision": round(found["precision"], 4),
            "coverage": round(found["coverage"], 4),
            "split": f"{split_name} ({' + '.join(sources)}), n={found['n']}",
            "rule": f"target reached on all and on each source with >= {MIN_SOURCE} photos, "
            f"holding on >= {MIN_SOURCE} of them",
            "unreached": found["unreached"],
            "by_source": {k: {m: round(v, 4) for m, v in d.items()} for k, d in per_source.items()},
        }
    return thresholds


def _sample_batch(photos: Sequence[Photo], pre, count: int = 4) -> np.ndarray:
    return np.stack(
        [preprocess(open_photo(p.path, pre.min_side).image, pre) for p in photos[:count]]
    )


def build_net(config: FitConfig, prepared: Prepared, heads: dict[str, Head]) -> VitrinaNet:
    pre = preprocessing_for(config.backbone, config.size)
    backbone = build_backbone(config.backbone, pre.size[0], config.weights, config.from_scratch)
    parts = {f: head_parts(f, config.recipe) for f in heads}
    learning = None
    if config.learning_components and not config.separate:
        train = prepared.inputs["train"]
        rest = np.concatenate([getattr(train, p) for p in LEARNING_PARTS], axis=1)
        learning = LearningFeatures(train.final, rest, config.learning_components)
    return VitrinaNet(
        backbone, prepared.descriptor, heads, parts, config.embedding_weights, learning
    )


def write_bundle(
    config: FitConfig,
    net: VitrinaNet,
    folder: Path,
    labels: dict[str, Sequence[str]],
    thresholds: dict[str, dict],
    metrics: dict,
    sample: np.ndarray,
    training_counts: dict[str, dict[str, int]] | None = None,
) -> float:
    """Export, check parity, write the manifest (``training_counts``: source -> family ->
    labelled training photos, for its provenance); returns the parity error."""
    pre = preprocessing_for(config.backbone, config.size)
    export_onnx(net, folder / "model.onnx", pre.size)
    error = parity(net, folder / "model.onnx", sample)
    with torch.no_grad():
        embedding_dim = int(net(torch.from_numpy(sample[:1]))[len(net.families)].shape[1])
    features = None
    if net.learning is not None:
        features = (net.learning.dim, int(net.learning.axes.shape[1]))
    if error > PARITY_ATOL * 10:
        raise RuntimeError(f"{folder / 'model.onnx'}: onnxruntime differs from torch by {error}.")
    provenance = {
        "data": [str(p) for p in config.data],
        "extra_train": [str(p) for p in config.extra_train],
        "backbone_weights": str(config.weights) if config.weights else "package default",
        "command": config.command,
        "training_photos": training_counts or {},
        "recipe": config.recipe.as_dict(),
        "parity_max_abs_diff": error,
    }
    manifest = manifest_for(
        config.name,
        config.version,
        config.backbone,
        pre,
        {f: labels[f] for f in net.families},
        thresholds,
        embedding_dim,
        provenance,
        {f: metrics[f] for f in net.families if f in metrics},
        features,
    )
    write_manifest(folder, manifest)
    return error


def fit(config: FitConfig) -> dict:
    """Train, export, calibrate and (with ``config.report``) evaluate a bundle."""
    check_bundle_output(config.out)
    torch.manual_seed(config.seed)
    prepared = prepare(config)
    heads = train_heads(prepared, config.recipe)
    net = build_net(config, prepared, heads)
    pre = preprocessing_for(config.backbone, config.size)
    if config.finetune_epochs:
        from training.finetune import finetune

        finetune(net, prepared, config)
        scores = finetuned_scores(net, prepared, pre)
    else:
        scores = validation_scores(prepared, heads)
    metrics = {
        f: {
            "validation_top1": round(float(s["correct"].mean()), 4),
            "validation_top3": round(float(s["top3"].mean()), 4),
        }
        for f, s in scores.items()
    }
    if config.held_out and not config.finetune_epochs:
        from training.holdout import held_out_metrics, held_out_scores, honest_thresholds

        held = held_out_scores(prepared, config.recipe)
        thresholds = honest_thresholds(scores, held, config.target_precision)
        for family, by_source in held_out_metrics(held, prepared.labels).items():
            metrics.setdefault(family, {})["held_out"] = by_source
    else:
        thresholds = calibrate(scores, config.target_precision, "validation")
    sample = _sample_batch(prepared.parts["val"], pre)
    counts = {
        source: family_counts([p for p in prepared.parts["train"] if p.source == source])
        for source in sorted({p.source for p in prepared.parts["train"]})
    }
    print("training photos per source and family: " + json.dumps(counts))
    with replacing(config.out) as staging:
        if config.separate:
            for family in net.families:
                member = VitrinaNet(
                    net.backbone, net.descriptor, {family: net.heads[family]}, net.parts
                )
                write_bundle(
                    config,
                    member,
                    staging / family,
                    prepared.labels,
                    thresholds,
                    metrics,
                    sample,
                    counts,
                )
            write_set_manifest(staging, config.name + "-separate", config.version, net.families)
            error = 0.0
        else:
            error = write_bundle(
                config, net, staging, prepared.labels, thresholds, metrics, sample, counts
            )
            if config.quantize:
                from training.quantize import quantize_if_accurate

                metrics["quantization"] = quantize_if_accurate(staging, prepared.parts)
                if metrics["quantization"]["kept"]:
                    thresholds = thresholds_of(staging)
    result = {"thresholds": thresholds, "validation": metrics, "parity": error}
    if config.report is not None:
        result["test"] = report_on_test(
            config.out, prepared.parts["test"], config.report, config.seed, not config.separate
        )
    return result


def report_on_test(
    folder: Path, test: Sequence[Photo], report: Path, seed: int, record: bool = True
) -> dict:
    """Evaluate a bundle on the held-out test split into ``report``; with ``record``, also
    write the test figures into its manifest."""
    from training.evaluate import evaluate

    metrics = evaluate(
        folder,
        test,
        report,
        f"Held-out test split: {len(test)} photos "
        f"({', '.join(sorted({p.source for p in test}))}), seed {seed}.",
    )
    if record:
        _add_test_metrics(folder, metrics)
    return metrics


def _add_test_metrics(folder: Path, test: dict) -> None:
    """Record the held-out test numbers in the manifest (the ONNX file, and the key, stay)."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    for family, values in test.items():
        if family in manifest["metrics"]:
            manifest["metrics"][family].update(
                {"test_top1": round(values["top1"], 4), "test_top3": round(values["top3"], 4)}
            )
    if "similar" in test:
        manifest["metrics"]["similar_p_at_5"] = {
            match: round(values["combined"][5], 4) for match, values in test["similar"].items()
        }
    write_manifest(folder, manifest)


@torch.no_grad()
def finetuned_scores(net: VitrinaNet, prepared: Prepared, pre) -> dict[str, dict]:
    """Validation scores of a fine-tuned network, run on the photos (features changed)."""
    photos = prepared.parts["val"]
    net.eval()
    probs: dict[str, list] = {f: [] for f in net.families}
    for start in range(0, len(photos), 32):
        batch = _sample_batch(photos[start : start + 32], pre, 32)
        outputs = net(torch.from_numpy(batch))
        for f, p in zip(net.families, outputs, strict=False):
            probs[f].append(p.numpy())
    stacked = {f: np.concatenate(p) for f, p in probs.items()}
    return scores_from_probabilities(stacked, photos, prepared.labels)


def scores_from_probabilities(
    probabilities: dict[str, np.ndarray],
    photos: Sequence[Photo],
    labels: dict[str, Sequence[str]],
) -> dict[str, dict]:
    """Per family, the scores calibration reads, from one row of probabilities per photo
    (a network's or an exported graph's outputs); photos without the label are left out."""
    result = {}
    for family, values in probabilities.items():
        rows, y = encoded(photos, family, labels[family])
        if len(rows):
            result[family] = _scores(values[rows], y, [photos[i].source for i in rows])
    return result
