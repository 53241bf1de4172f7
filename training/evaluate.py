"""Evaluate a bundle through the app's own loader and write a Markdown + PNG report.

Runs the exported ONNX graph (not the torch model), so the numbers are what the app gets.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from tqdm import tqdm

from app.core.bundle import Bundle, BundleSet, load_bundle
from app.core.decode import open_photo, preprocess
from training.calibrate import at_threshold, precision_coverage
from training.datasets import Photo

KS = (5, 10)


def run_bundle(
    bundle: Bundle | BundleSet, paths: Sequence[Path], batch_size: int = 32
) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Probabilities per family and embeddings for every photo, in order."""
    probs: dict[str, list[np.ndarray]] = {f.name: [] for f in bundle.families}
    embeddings: list[np.ndarray] = []
    for start in tqdm(range(0, len(paths), batch_size), desc="evaluate", unit="batch"):
        chunk = paths[start : start + batch_size]
        if isinstance(bundle, BundleSet):
            output = bundle.run([open_photo(p).image for p in chunk])
        else:
            pre = bundle.preprocessing
            batch = [preprocess(open_photo(p, pre.min_side).image, pre) for p in chunk]
            output = bundle.run(np.stack(batch))
        for name, values in output.probabilities.items():
            probs[name].append(values)
        if output.embedding is not None:
            embeddings.append(output.embedding)
    stacked = {name: np.concatenate(values) for name, values in probs.items()}
    return stacked, (np.concatenate(embeddings) if embeddings else None)


def precision_at_k(
    embedding: np.ndarray, keys: Sequence[tuple], ks: Sequence[int] = KS
) -> dict[int, float]:
    """Share of each photo's k nearest neighbours (cosine) that share its key."""
    vectors = embedding / np.maximum(np.linalg.norm(embedding, axis=1, keepdims=True), 1e-12)
    codes = {key: i for i, key in enumerate(sorted(set(keys)))}
    labels = np.array([codes[key] for key in keys])
    result = {k: 0.0 for k in ks}
    top = max(ks)
    for start in range(0, len(vectors), 512):
        sims = vectors[start : start + 512] @ vectors.T
        rows = np.arange(sims.shape[0])
        sims[rows, rows + start] = -np.inf
        nearest = np.argpartition(-sims, top, axis=1)[:, :top]
        order = np.take_along_axis(sims, nearest, axis=1).argsort(axis=1)[:, ::-1]
        nearest = np.take_along_axis(nearest, order, axis=1)
        same = labels[nearest] == labels[start + rows][:, None]
        for k in ks:
            result[k] += float(same[:, :k].mean(axis=1).sum())
    return {k: v / len(vectors) for k, v in result.items()}


def best_precision_at_k(keys: Sequence[tuple], ks: Sequence[int] = KS) -> dict[int, float]:
    """The highest P@k any embedding could reach on these photos: a key shared by fewer
    than k other photos caps its photos' share, so a small test pool cannot reach 1."""
    counts = Counter(keys)
    return {k: float(np.mean([min(k, counts[key] - 1) / k for key in keys])) for k in ks}


def embedding_parts(bundle: Bundle | BundleSet, embedding: np.ndarray) -> dict[str, np.ndarray]:
    """The combined embedding split back into its per-family parts.

    A vitrina-train graph lays each family out as ``training.network.combine`` does: its
    activation (the same width for every family), then its K probabilities; a set
    concatenates its members' embeddings. Empty when the widths do not fit that layout
    (a bundle from elsewhere): only the combined embedding is then scored.
    """
    if isinstance(bundle, BundleSet):
        parts, start = {}, 0
        for member in bundle.members:
            if member.embedding is not None:
                width = member.embedding.dim
                parts |= embedding_parts(member, embedding[:, start : start + width])
                start += width
        return parts
    sizes = [len(f.labels) for f in bundle.families]
    hidden, rest = divmod(embedding.shape[1] - sum(sizes), len(sizes))
    if hidden <= 0 or rest:
        return {}
    ends = np.cumsum([hidden + k for k in sizes])
    return {
        f.name: embedding[:, end - hidden - k : end]
        for f, k, end in zip(bundle.families, sizes, ends, strict=True)
    }


def _confusion(y: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (y, pred), 1)
    return matrix


def _plot_confusion(matrix: np.ndarray, labels: Sequence[str], title: str, path: Path) -> None:
    share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    side = max(4.0, 0.35 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(side, side))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _plot_curves(curves: dict[str, tuple], threshold: float, title: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5, 4))
    for name, (conf, precision, coverage) in curves.items():
        ax.plot(coverage, precision, label=name)
        at = conf >= threshold
        if at.any():
            ax.scatter([coverage[at][-1]], [precision[at][-1]], s=20)
    ax.set_xlabel("coverage (share of photos tagged)")
    ax.set_ylabel("precision")
    ax.set_ylim(0.4, 1.01)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def family_metrics(
    family, probs: np.ndarray, photos: Sequence[Photo], out: Path
) -> tuple[dict, list[str]]:
    """Top-1/top-3, per-class precision/recall, confusion, precision-coverage for one family."""
    index = {label: i for i, label in enumerate(family.labels)}
    rows = [i for i, p in enumerate(photos) if p.labels.get(family.name) in index]
    if not rows:
        return {}, []
    y = np.array([index[photos[i].labels[family.name]] for i in rows])
    p = probs[rows]
    sources = [photos[i].source for i in rows]
    ranked = np.argsort(-p, axis=1)
    pred = ranked[:, 0]
    correct = pred == y
    metrics: dict = {
        "n": len(rows),
        "top1": float(correct.mean()),
        "top3": float((ranked[:, :3] == y[:, None]).any(axis=1).mean()),
    }
    by_source = {}
    for source in sorted(set(sources)):
        sel = np.array(sources) == source
        by_source[source] = {
            "n": int(sel.sum()),
            "top1": float(correct[sel].mean()),
            "top3": float((ranked[sel, :3] == y[sel, None]).any(axis=1).mean()),
        }
    metrics["by_source"] = by_source
    confidence = p.max(axis=1)
    metrics["at_threshold"] = at_threshold(confidence, correct, sources, family.threshold)
    matrix = _confusion(y, pred, len(family.labels))
    lines = [
        f"### {family.name}",
        "",
        f"top-1 **{metrics['top1']:.3f}**, top-3 **{metrics['top3']:.3f}** on {len(rows)} photos; "
        f"threshold {family.threshold:.3f}.",
        "",
        "| source | n | top-1 | top-3 | coverage at threshold | precision at threshold |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for source, m in by_source.items():
        t = metrics["at_threshold"][source]
        lines.append(
            f"| {source} | {m['n']} | {m['top1']:.3f} | {m['top3']:.3f} | "
            f"{t['coverage']:.3f} | {t['precision']:.3f} |"
        )
    lines += ["", "| label | n | precision | recall |", "| --- | --- | --- | --- |"]
    per_class = {}
    for i, label in enumerate(family.labels):
        support = int(matrix[i].sum())
        predicted = int(matrix[:, i].sum())
        precision = matrix[i, i] / predicted if predicted else float("nan")
        recall = matrix[i, i] / support if support else float("nan")
        per_class[label] = {"n": support, "precision": precision, "recall": recall}
        if support or predicted:
            lines.append(f"| {label} | {support} | {precision:.3f} | {recall:.3f} |")
    metrics["per_class"] = per_class
    _plot_confusion(
        matrix,
        family.labels,
        f"{family.name} (row-normalised)",
        out / f"confusion_{family.name}.png",
    )
    curves = {"all": precision_coverage(confidence, correct)}
    for source in sorted(set(sources)):
        sel = np.array(sources) == source
        curves[source] = precision_coverage(confidence[sel], correct[sel])
    _plot_curves(
        curves,
        family.threshold,
        f"{family.name}: precision vs coverage",
        out / f"coverage_{family.name}.png",
    )
    lines += [
        "",
        f"![confusion](confusion_{family.name}.png) ![coverage](coverage_{family.name}.png)",
        "",
    ]
    return metrics, lines


MATCHES = {
    "category+colour": ("category", "colour"),
    "category+colour+pattern": ("category", "colour", "pattern"),
}


def match_keys(photos: Sequence[Photo], families: Sequence[str]) -> tuple[list[int], list[tuple]]:
    """The photos labelled in every one of ``families``, and their label tuples."""
    rows = [i for i, p in enumerate(photos) if all(f in p.labels for f in families)]
    return rows, [tuple(photos[i].labels[f] for f in families) for i in rows]


def similar_items(bundle, embedding: np.ndarray, photos: Sequence[Photo]) -> tuple[dict, list[str]]:
    """P@k where a neighbour counts when category and colour (and pattern) match."""
    lines = ["## Similar items", ""]
    results: dict = {}
    variants = {"combined": embedding, **embedding_parts(bundle, embedding)}
    lines += [
        "| match on | photos | "
        + " | ".join(f"{v} P@{k}" for v in variants for k in KS[:1])
        + f" | best possible P@{KS[0]} |",
        "| --- | --- | " + " | ".join("---" for _ in variants) + " | --- |",
    ]
    for name, families in MATCHES.items():
        rows, keys = match_keys(photos, families)
        if len(rows) <= max(KS):
            continue
        results[name] = {v: precision_at_k(e[rows], keys) for v, e in variants.items()}
        results[name]["best possible"] = best_precision_at_k(keys)
        cells = " | ".join(f"{results[name][v][KS[0]]:.3f}" for v in [*variants, "best possible"])
        lines.append(f"| {name} | {len(rows)} | {cells} |")
    lines += [
        "",
        "A neighbour counts when it shares every label in the row. *Best possible*: the "
        f"P@{KS[0]} of a perfect embedding on these photos, below 1 where a label "
        f"combination has fewer than {KS[0] + 1} photos.",
        "",
    ]
    return results, lines


def held_out_lines(bundle: Bundle | BundleSet) -> list[str]:
    """The figures a bundle's fit measured on each source left out of its heads' training
    (manifest metrics and calibration, training.holdout): they lead every report, since a
    split of the training sources flatters."""
    rows = []
    for family in bundle.families:
        by_source = bundle.manifest.get("metrics", {}).get(family.name, {}).get("held_out", {})
        held = family.calibration.get("held_out", {}).get("by_source", {})
        for source, m in sorted(by_source.items()):
            at = held.get(source, {})
            recall = ", ".join(f"{k} {v:.2f}" for k, v in m["recall"].items())
            rows.append(
                f"| {family.name} | {source} | {m['n']} | {m['top1']:.3f} | {m['top3']:.3f} | "
                f"{at.get('precision', float('nan')):.3f} / {at.get('coverage', 0):.3f} | "
                f"{recall} |"
            )
    if not rows:
        return []
    return [
        "## Photos from a source the heads never trained on",
        "",
        "Each source scored by heads trained on the other sources (leave one source out, "
        "training.holdout; the backbone is shared); precision / coverage at the bundle's "
        "threshold.",
        "",
        "| family | held-out source | n | top-1 | top-3 | precision / coverage | recall |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
    ]


def evaluate(bundle_path: Path, photos: Sequence[Photo], out: Path, title: str = "") -> dict:
    """Write ``out/REPORT.md`` and plots; return the metrics."""
    out.mkdir(parents=True, exist_ok=True)
    bundle = load_bundle(bundle_path)
    probs, embedding = run_bundle(bundle, [p.path for p in photos])
    lines = [
        f"# Evaluation of {bundle.name}@{bundle.version}",
        "",
        *held_out_lines(bundle),
        "## This split",
        "",
        title or f"{len(photos)} photos.",
        "",
    ]
    metrics: dict = {}
    for family in bundle.families:
        family_result, family_lines = family_metrics(family, probs[family.name], photos, out)
        if family_result:
            metrics[family.name] = family_result
            lines += family_lines
    if embedding is not None:
        metrics["similar"], sim_lines = similar_items(bundle, embedding, photos)
        lines += sim_lines
    (out / "REPORT.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return metrics
