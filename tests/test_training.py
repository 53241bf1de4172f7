"""End to end: a tiny bundle trained on ~40 photos, exported, checked and loaded by the app."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.train

from PIL import Image, ImageDraw  # noqa: E402

from app.core.bundle import Bundle, BundleSet, load_bundle  # noqa: E402
from app.core.decode import open_photo, preprocess  # noqa: E402

DATA_DIR = Path(__file__).resolve().parent / "data"
COLOURS = {
    "red": (200, 30, 30),
    "green": (30, 160, 50),
    "blue": (30, 60, 200),
    "black": (15, 15, 15),
}
SLEEVES = {"dress": "sleeveless", "longsleeve": "long", "shirt": "long", "t-shirt": "short"}


def _garment(colour: tuple[int, int, int], striped: bool, seed: int) -> Image.Image:
    """A t-shirt silhouette on white, solid or striped."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (160, 200), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    jitter = [int(v) for v in rng.integers(-8, 8, size=2)]
    body = [(40, 40), (120, 40), (150, 80), (125, 95), (120, 180), (40, 180), (35, 95), (10, 80)]
    draw.polygon([(x + jitter[0], y + jitter[1]) for x, y in body], fill=colour)
    if striped:
        for y in range(45, 180, 16):
            draw.rectangle([30, y, 130, y + 6], fill=(245, 245, 245))
    return image


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 real CC0 photos (category, some sleeves) + 32 drawn garments (colour, pattern)."""
    root = tmp_path_factory.mktemp("tiny_data")
    rows = []
    for photo in sorted(DATA_DIR.glob("*.jpg")):
        shutil.copy2(photo, root / photo.name)
        rows.append(
            {"image": photo.name, "category": photo.stem, "sleeve": SLEEVES.get(photo.stem, "")}
        )
    for i in range(32):
        name = list(COLOURS)[i % 4]
        striped = (i // 4) % 2 == 1
        file = f"drawn_{i:02d}.jpg"
        _garment(COLOURS[name], striped, i).save(root / file, quality=92)
        rows.append(
            {
                "image": file,
                "category": "t-shirt",
                "colour": name,
                "pattern": "striped" if striped else "solid",
                "sleeve": "short",
            }
        )
    with (root / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, ["image", "category", "colour", "pattern", "sleeve"])
        writer.writeheader()
        writer.writerows(rows)
    return root


def _config(tiny_data: Path, out: Path, cache: Path, **kwargs):
    from training.heads import Recipe
    from training.pipeline import FitConfig

    return FitConfig(
        data=[tiny_data / "labels.csv"],
        out=out,
        backbone="efficientnet_lite0",
        size=96,
        cache_dir=cache,
        recipe=Recipe(epochs=30, mirrored=True),
        name="tiny",
        **kwargs,
    )


@pytest.fixture(scope="module")
def fitted(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory):
    from training.pipeline import fit

    torch.set_num_threads(2)
    work = tmp_path_factory.mktemp("fit")
    config = _config(tiny_data, work / "bundle", work / "cache", report=work / "report")
    return config, fit(config)


def test_fit_writes_a_bundle_the_app_loads(fitted) -> None:
    config, result = fitted
    bundle = load_bundle(config.out)
    assert isinstance(bundle, Bundle)
    assert [f.name for f in bundle.families] == ["category", "colour", "pattern", "sleeve"]
    # Per family: the 64-d head activation and its probabilities.
    dim = sum(64 + len(f.labels) for f in bundle.families)
    assert bundle.embedding is not None and bundle.embedding.dim == dim
    assert result["parity"] < 1e-4
    for family in bundle.families:
        assert 0.0 <= family.threshold <= 1.0
        assert family.calibration["target_precision"] == 0.95
        assert "coverage" in family.calibration and "by_source" in family.calibration


def test_embedding_variants_are_scored_from_the_bundle_outputs(fitted) -> None:
    """``python -m training.experiments.embedding_weights`` re-weights a trained bundle's
    embedding and scores every variant on both held-out splits."""
    from training.experiments.embedding_weights import VARIANTS, compare

    config, _ = fitted
    lines = compare(config.out, config.data)
    assert len(lines) == 2 + len(VARIANTS)
    for name, line in zip(VARIANTS, lines[2:], strict=True):
        cells = line.strip("| ").split(" | ")
        assert cells[0] == name and len(cells) == 5
        assert all(cell == "nan" or 0.0 <= float(cell) <= 1.0 for cell in cells[1:])


def test_backbone_recovered_from_the_bundle_gives_the_same_features(fitted, tmp_path) -> None:
    """``python -m training.recover`` turns the exported graph back into a --weights file
    (batch norms folded into the convolutions): same features as the backbone trained."""
    from training.backbones import build_backbone
    from training.recover import main as recover_main

    config, _ = fitted
    out = tmp_path / "backbone.pt"
    recover_main([str(config.out), "--out", str(out)])
    original = build_backbone(config.backbone, config.size)
    recovered = build_backbone(config.backbone, config.size, out)
    x = torch.rand(2, 3, config.size, config.size) * 2 - 1
    with torch.no_grad():
        for a, b in zip(original(x), recovered(x), strict=True):
            assert torch.allclose(a, b, atol=1e-4)


def test_bundle_tags_drawn_colours_and_embeds_unit_vectors(fitted, tiny_data: Path) -> None:
    config, _ = fitted
    bundle = load_bundle(config.out)
    rows = list(csv.DictReader((tiny_data / "labels.csv").open(encoding="utf-8")))
    drawn = [r for r in rows if r["colour"]]
    batch = np.stack(
        [preprocess(open_photo(tiny_data / r["image"]).image, bundle.preprocessing) for r in drawn]
    )
    output = bundle.run(batch)
    labels = bundle.families[1].labels
    predicted = [labels[i] for i in output.probabilities["colour"].argmax(1)]
    accuracy = np.mean([p == r["colour"] for p, r in zip(predicted, drawn, strict=True)])
    assert accuracy >= 0.9
    assert np.allclose(np.linalg.norm(output.embedding, axis=1), 1.0, atol=1e-5)
    assert np.allclose(output.probabilities["pattern"].sum(1), 1.0, atol=1e-5)


def test_parity_torch_vs_onnxruntime_on_dynamic_batch(fitted, tiny_data: Path) -> None:
    from training.export import parity
    from training.pipeline import build_net, prepare, train_heads

    config, _ = fitted
    prepared = prepare(config)
    net = build_net(config, prepared, train_heads(prepared, config.recipe))
    path = config.out.parent / "parity.onnx"
    from training.export import export_onnx

    export_onnx(net, path, (96, 96))
    bundle = load_bundle(config.out)
    photos = sorted(tiny_data.glob("*.jpg"))[:5]
    batch = np.stack([preprocess(open_photo(p).image, bundle.preprocessing) for p in photos])
    assert parity(net, path, batch) < 1e-4
    assert parity(net, path, batch[:1]) < 1e-4


def test_features_are_cached_on_disk(fitted) -> None:
    from training.pipeline import prepare

    config, _ = fitted
    shards = sorted(config.cache_dir.rglob("*.npz"))
    assert shards
    prepare(config)
    assert sorted(config.cache_dir.rglob("*.npz")) == shards


def test_report_has_metrics_and_plots(fitted) -> None:
    config, _ = fitted
    text = (config.report / "REPORT.md").read_text(encoding="utf-8")
    assert "top-1" in text and "Similar items" in text
    assert (config.report / "confusion_colour.png").is_file()
    assert (config.report / "coverage_colour.png").is_file()
    manifest = json.loads((config.out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["metrics"]["colour"]["validation_top1"] >= 0.0


@pytest.mark.slow
def test_separate_writes_a_bundle_set(fitted, tmp_path: Path, tiny_data: Path) -> None:
    from dataclasses import replace

    from training.evaluate import embedding_parts
    from training.pipeline import fit

    config, _ = fitted
    fit(replace(config, out=tmp_path / "set", separate=True, report=None))
    bundle = load_bundle(tmp_path / "set")
    assert isinstance(bundle, BundleSet)
    assert sorted(f.name for f in bundle.families) == ["category", "colour", "pattern", "sleeve"]
    parts = embedding_parts(bundle, np.zeros((1, bundle.embedding.dim), np.float32))
    assert {name: part.shape[1] for name, part in parts.items()} == {
        member.families[0].name: member.embedding.dim for member in bundle.members
    }


@pytest.mark.slow
def test_finetune_runs_one_epoch_and_resumes(fitted, tmp_path: Path) -> None:
    from dataclasses import replace

    from training.pipeline import fit

    config, _ = fitted
    out = tmp_path / "ft"
    fit(replace(config, out=out, finetune_epochs=1, report=None))
    checkpoints = config.cache_dir.parent / "checkpoints" / "ft"
    assert (checkpoints / "epoch-1.pt").is_file()
    fit(replace(config, out=out, finetune_epochs=1, report=None))
    assert isinstance(load_bundle(out), Bundle)


def test_tailtune_trains_only_the_tail_and_writes_a_checkpoint_fit_loads(
    fitted, tmp_path: Path
) -> None:
    from dataclasses import replace

    from training.backbones import build_backbone
    from training.features import cache_folder, preprocessing_for
    from training.tailtune import TailConfig, tailtune

    config, _ = fitted
    out = tmp_path / "tail.pt"
    result = tailtune(replace(config, report=None), TailConfig(out, epochs=2, batch_size=8))

    assert result["steps"] == 2 * (len(_train_photos(config)) // 8)
    assert (
        set(result["before"])
        == set(result["after"])
        == {
            "category",
            "colour",
            "pattern",
            "sleeve",
        }
    )
    original = build_backbone(config.backbone, config.size)
    tuned = build_backbone(config.backbone, config.size, weights=out)
    for mine, theirs in zip(tuned.stem.parameters(), original.stem.parameters(), strict=True):
        assert torch.equal(mine, theirs)
    assert any(
        not torch.equal(mine, theirs)
        for mine, theirs in zip(tuned.tail.parameters(), original.tail.parameters(), strict=True)
    )
    pre = preprocessing_for(config.backbone, config.size)
    stem_cache = cache_folder(config.cache_dir, config.backbone, pre, kind="stem")
    assert stem_cache != cache_folder(config.cache_dir, config.backbone, pre)
    shards = sorted(stem_cache.glob("plain-*.npz"))
    assert shards
    stamps = [s.stat().st_mtime_ns for s in shards]
    # The same order seed repeats the run exactly; another one is a sibling to average with.
    for seed in (config.seed, config.seed + 1):
        again = tmp_path / f"order-{seed}.pt"
        tailtune(replace(config, report=None), TailConfig(again, 2, batch_size=8, order_seed=seed))
        same = [
            torch.equal(mine, theirs)
            for mine, theirs in zip(
                build_backbone(config.backbone, config.size, weights=again).tail.parameters(),
                tuned.tail.parameters(),
                strict=True,
            )
        ]
        assert all(same) if seed == config.seed else not all(same)
    assert [s.stat().st_mtime_ns for s in sorted(stem_cache.glob("plain-*.npz"))] == stamps


def _train_photos(config) -> list:
    from training.datasets import load_data, split

    return split(load_data(config.data), config.seed)["train"]


@pytest.mark.slow
def test_quantize_keeps_int8_tail_and_recalibrates(fitted, tmp_path: Path, monkeypatch) -> None:
    """``vitrina-train quantize``: only the backbone's tail goes int8 (the colour descriptor
    and the heads stay fp32), the thresholds come from the int8 graph, the app loads it;
    a copy that loses accuracy leaves nothing behind."""
    import onnx

    from training import quantize

    config, _ = fitted
    monkeypatch.setattr(quantize, "TOLERANCE", 1.0)
    out = tmp_path / "int8"
    result = quantize.quantize_bundle(config.out, out, config.data, command="test")
    assert result["kept"] and result["int8_bytes"] < result["fp32_bytes"]
    graph = onnx.load(str(out / "model.onnx")).graph
    dequantized = {o for n in graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    readers = [n.name for n in graph.node if set(n.input) & dequantized]
    # int8 inside the tail; the stem, the colour descriptor and the heads read no int8 value.
    assert sum(name.startswith("/backbone/tail/") for name in readers) > 10
    assert all(n.startswith("/backbone/") and "/stem/" not in n for n in readers), readers
    bundle, fp32 = load_bundle(out), load_bundle(config.out)
    assert bundle.version == f"{fp32.version}-int8"
    assert bundle.manifest["provenance"]["quantized"] == {"from": fp32.label, "command": "test"}
    assert bundle.manifest["metrics"]["quantization"]["kept"] is True
    assert all(f.calibration["split"].startswith("validation, int8 graph") for f in bundle.families)
    photo = open_photo(sorted(DATA_DIR.glob("*.jpg"))[0], bundle.min_side).image
    output = bundle.run(preprocess(photo, bundle.preprocessing)[None])
    assert np.isclose(output.probabilities["colour"].sum(), 1.0, atol=1e-4)
    with pytest.raises(quantize.QuantizeError, match="already int8"):
        quantize.quantize_bundle(out, tmp_path / "again", config.data)
    with pytest.raises(quantize.QuantizeError, match="already exists"):
        quantize.quantize_bundle(config.out, out, config.data)

    monkeypatch.setattr(quantize, "TOLERANCE", -1.0)
    rejected = quantize.quantize_bundle(config.out, tmp_path / "rejected", config.data)
    assert not rejected["kept"] and not (tmp_path / "rejected").exists()
    assert not (tmp_path / "rejected.int8").exists()


def test_quantize_refuses_a_graph_not_made_by_fit(tmp_path: Path) -> None:
    from tinybundle import make_tiny_bundle

    from training.quantize import QuantizeError, quantize_graph

    folder = make_tiny_bundle(tmp_path / "tiny")
    bundle = load_bundle(folder)
    batch = np.zeros((1, 3, 32, 32), np.float32)
    with pytest.raises(QuantizeError, match="only graphs exported by vitrina-train fit"):
        quantize_graph(bundle.model_path, tmp_path / "int8.onnx", bundle.input_name, [batch])


def test_quantize_names_the_missing_training_photos(fitted, tmp_path: Path, capsys) -> None:
    from training.cli import main

    config, _ = fitted
    moved = tmp_path / "moved"
    shutil.copytree(config.out, moved)
    manifest = json.loads((moved / "manifest.json").read_text(encoding="utf-8"))
    manifest["provenance"]["data"] = [str(tmp_path / "gone.csv")]
    (moved / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert main(["quantize", str(moved), "--out", str(tmp_path / "int8")]) == 1
    error = capsys.readouterr().err
    assert "gone.csv" in error and "--data" in error
    assert not (tmp_path / "int8").exists()


def test_quantize_refuses_photos_without_the_bundles_labels(fitted, tmp_path: Path) -> None:
    from training.quantize import QuantizeError, quantize_bundle

    config, _ = fitted
    unlabelled = tmp_path / "unlabelled"
    unlabelled.mkdir()
    for photo in sorted(DATA_DIR.glob("*.jpg")):
        shutil.copy2(photo, unlabelled / photo.name)
    (unlabelled / "labels.csv").write_text(
        "image,category\n"
        + "".join(f"{p.name},not-a-label\n" for p in sorted(DATA_DIR.glob("*.jpg"))),
        encoding="utf-8",
    )
    with pytest.raises(QuantizeError, match="cannot be checked"):
        quantize_bundle(config.out, tmp_path / "int8", [unlabelled / "labels.csv"])
    assert not (tmp_path / "int8").exists()
