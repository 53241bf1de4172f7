"""Label maps, splits, thresholds and backbone errors: fast checks without training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.train

import torch  # noqa: E402

from training.backbones import BackboneError, build_backbone  # noqa: E402
from training.calibrate import threshold_for, threshold_for_every_source  # noqa: E402
from training.datasets import (  # noqa: E402
    DatasetError,
    Photo,
    load_csv,
    split,
    with_extra_train,
)
from training.labelmaps import LabelMap, vocabulary  # noqa: E402


def _catalog(title: str, article: str = "Shirts", colour: str = "Red") -> dict[str, str]:
    return {"articleType": article, "baseColour": colour, "productDisplayName": title}


@pytest.mark.parametrize(
    ("title", "article", "expected"),
    [
        ("Turtle Check Men Red Shirt", "Shirts", None),
        ("Locomotive Men Blue Grey White Checked Shirt", "Shirts", "checked"),
        ("Vishudh Women Flower Print White Kurtis", "Kurtis", "floral"),
        ("PUMA Women Yellow Printed T-shirt", "Tshirts", "printed"),
        ("Solid Striped Shirt", "Shirts", None),
        ("Wildcraft Unisex Orange Printed Backpack", "Backpacks", None),
    ],
)
def test_catalog_pattern_from_titles(title: str, article: str, expected: str | None) -> None:
    labels = LabelMap.load("catalog").labels_for(_catalog(title, article))
    assert labels.get("pattern") == expected


def test_catalog_colours_merge_and_metallics_stay_unknown() -> None:
    catalog = LabelMap.load("catalog")
    assert catalog.labels_for(_catalog("x", colour="Navy Blue"))["colour"] == "navy"
    assert catalog.labels_for(_catalog("x", colour="Off White"))["colour"] == "white"
    assert "colour" not in catalog.labels_for(_catalog("x", colour="Silver"))
    for labels in (catalog.labels_for(_catalog("x", colour=c)) for c in ("Teal", "Cream")):
        assert labels["colour"] in vocabulary()["colour"]


def test_catalog_sleeves_and_polo_override() -> None:
    catalog = LabelMap.load("catalog")
    polo = catalog.labels_for(_catalog("Basics Men Striped Polo T-shirt", "Tshirts"))
    assert polo["category"] == "polo" and polo["sleeve"] == "short"
    brand = catalog.labels_for(_catalog("U.S. Polo Assn. Men Blue T-shirt", "Tshirts"))
    assert brand["category"] == "t-shirt"
    full = catalog.labels_for(_catalog("Nike Men Full Sleeve Black T-shirt", "Tshirts"))
    assert full["sleeve"] == "long"
    assert "sleeve" not in catalog.labels_for(_catalog("Arrow Men White Shirt", "Shirts"))


def test_clothing_map_excludes_non_labels() -> None:
    clothing = LabelMap.load("clothing")
    assert clothing.labels_for({"category": "Not sure"}) is None
    assert clothing.labels_for({"category": "Hoodie"}) == {"category": "hoodie", "sleeve": "long"}


def test_every_mapped_label_is_in_the_vocabulary() -> None:
    vocab = vocabulary()
    assert len(vocab["category"]) >= 15
    assert {
        "red",
        "green",
        "purple",
        "white",
        "yellow",
        "turquoise",
        "brown",
        "grey",
        "blue",
        "black",
    } <= set(vocab["colour"])
    for name in ("catalog", "clothing"):
        spec = LabelMap.load(name).spec
        assert set(spec["category"]["map"].values()) <= set(vocab["category"])
        if "colour" in spec:
            assert set(spec["colour"]["map"].values()) <= set(vocab["colour"])


def test_generic_csv_needs_image_and_a_family(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("image,price\na.jpg,3\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="family column"):
        load_csv(bad)
    good = tmp_path / "good.csv"
    good.write_text("image,colour,pattern\na.jpg,red,\nb.jpg,,\n", encoding="utf-8")
    photos = load_csv(good)
    assert len(photos) == 1 and photos[0].labels == {"colour": "red"}


def test_corrections_exported_by_the_app_load_as_training_data(
    tmp_path: Path, tiny_bundle: Path, photos_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core.context import AppContext
    from app.core.export import export_catalog
    from app.core.importer import import_paths

    monkeypatch.setenv("VITRINA_HOME", str(tmp_path / "home"))
    with AppContext.open(tmp_path / "catalog.sqlite", tiny_bundle) as ctx:
        first, second = import_paths([photos_dir], ctx).added[:2]
        ctx.catalog.set_tag(first, "colour", "red", "staff")
        ctx.catalog.set_tag(second, "category", "dress", "staff")
        exported = tmp_path / "corrections.csv"
        export_catalog(ctx.catalog, "csv", True, exported)
        paths = {ctx.catalog.get_photo(i).path: i for i in (first, second)}
    photos = {str(p.path): p.labels for p in load_csv(exported)}
    assert photos == {
        path: ({"colour": "red"} if i == first else {"category": "dress"})
        for path, i in paths.items()
    }


def test_split_is_seeded_stratified_and_disjoint() -> None:
    photos = [
        Photo(Path(f"/x/{s}{i}.jpg"), s, {"category": "a" if i % 3 else "b"})
        for s in ("shop", "home")
        for i in range(60)
    ]
    first, second = split(photos, seed=3), split(photos, seed=3)
    assert [p.path for p in first["val"]] == [p.path for p in second["val"]]
    seen = [p.path for part in first.values() for p in part]
    assert len(seen) == len(set(seen)) == len(photos)
    assert {p.source for p in first["val"]} == {"shop", "home"}


def test_checked_labels_move_no_photo_between_splits(tmp_path: Path) -> None:
    """Checked labels may add a family or override a mapped (e.g. shop) label."""
    rng = np.random.default_rng(1)
    colours = ("red", "blue", "turquoise")
    base = [
        Photo(
            Path(f"/home/{i}.jpg"),
            "home",
            {"category": "a" if i % 4 else "b"} | ({"colour": "grey"} if i % 5 == 0 else {}),
        )
        for i in range(200)
    ]
    checked = [
        Photo(
            p.path,
            p.source,
            p.labels | {"colour": colours[rng.integers(3)]},
            checked=frozenset({"colour"}),
            unchecked=p.labels,
        )
        if i % 3 == 0
        else p
        for i, p in enumerate(base)
    ]
    before, after = split(base, seed=0), split(checked, seed=0)
    for part in before:
        assert [p.path for p in before[part]] == [p.path for p in after[part]]
    assert any(p.labels.get("colour") in colours for p in after["test"])

    overlay = tmp_path / "checked.csv"
    overlay.write_text(
        "image,colour,pattern\nimages/a.jpg,navy,unsure\nimages/b.jpg,multi,floral\n"
        "images/c.jpg,unsure,\n",
        encoding="utf-8",
    )
    labelmap = LabelMap("t", {"image_column": "image", "checked_labels": str(overlay)})
    assert labelmap.checked_labels() == {  # unsure/multi: checked, no label holds
        "images/a.jpg": {"colour": "navy", "pattern": None},
        "images/b.jpg": {"colour": None, "pattern": "floral"},
        "images/c.jpg": {"colour": None},
    }


def test_shipped_checked_labels_use_the_vocabulary() -> None:
    labelmap = LabelMap.load("clothing")
    checked = labelmap.checked_labels()
    assert len(checked) > 500
    vocab = vocabulary()
    for labels in checked.values():
        for family, label in labels.items():
            assert label is None or label in vocab[family], (family, label)


def test_extra_train_joins_training_only_and_drops_held_out_derivatives(tmp_path: Path) -> None:
    photos = [Photo(Path(f"/cat/images/{i}.jpg"), "catalog", {"colour": "red"}) for i in range(40)]
    parts = split(photos, seed=0)
    held = parts["test"][0].path.stem
    extra_csv = tmp_path / "labels.csv"
    extra_csv.write_text(
        f"image,colour,pattern,source\na.jpg,blue,floral,{parts['train'][0].path.stem}\n"
        f"b.jpg,,polka dot,{held}\nc.jpg,navy,,\n",
        encoding="utf-8",
    )
    extra = load_csv(extra_csv, source="synth")
    assert [p.origin for p in extra] == [parts["train"][0].path.stem, held, ""]
    joined, dropped = with_extra_train(parts, extra)
    assert dropped == 1
    assert joined["train"] == parts["train"] + [extra[0], extra[2]]
    assert joined["val"] == parts["val"] and joined["test"] == parts["test"]


def test_threshold_reaches_target_precision_at_most_coverage() -> None:
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0, 1, 2000)
    correct = rng.uniform(0, 1, 2000) < confidence
    found = threshold_for(confidence, correct, 0.9)
    kept = confidence >= found["threshold"]
    assert correct[kept].mean() >= 0.9
    assert found["coverage"] == pytest.approx(kept.mean())
    assert threshold_for(confidence, np.zeros(2000, bool), 0.9)["threshold"] == 1.0


def test_resnet50_refuses_without_weights_and_checks_keys(tmp_path: Path) -> None:
    import torch

    with pytest.raises(BackboneError, match="--weights FILE"):
        build_backbone("resnet50")
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv.weight": torch.zeros(1)}, wrong)
    with pytest.raises(BackboneError, match="does not fit"):
        build_backbone("resnet50", weights=wrong)
    assert build_backbone("resnet50", from_scratch=True, size=64) is not None


def test_garment_pool_weighs_where_the_final_map_is_strong() -> None:
    """The tap is averaged over the cells where the final features are strong (the
    product), not over the whole frame; the final map's coarser grid is spread by
    nearest neighbour."""
    from training.backbones import garment_pool

    tap = torch.zeros(1, 2, 6, 6)
    tap[:, 0, :, :3] = 1.0  # channel 0: the left half
    tap[:, 1] = 1.0  # channel 1: everywhere
    final = torch.zeros(1, 4, 3, 3)
    final[:, :, :, 0] = 2.0  # strong only in the left third
    pooled = garment_pool(tap, final)[0]
    assert pooled.tolist() == pytest.approx([1.0, 1.0])
    assert tap.mean(dim=(2, 3))[0, 0] == pytest.approx(0.5)  # plain pooling would say half


@pytest.mark.parametrize("name", ["efficientnet_lite2", "efficientnet_lite0", "resnet50"])
def test_every_backbone_gives_final_mid_and_garment_features(name: str) -> None:
    from training.backbones import SPECS

    spec = SPECS[name]
    net = build_backbone(name, 96, from_scratch=True)
    with torch.no_grad():
        final, mid, garment = net(torch.zeros(2, 3, 96, 96))
    assert (final.shape[1], mid.shape[1], garment.shape[1]) == (
        spec.dim,
        spec.mid_dim,
        spec.garment_dim,
    )


def _normalised(rgb: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(rgb.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    return (x - 0.5) / 0.5


@pytest.mark.parametrize(
    ("garment", "backdrop"),
    [
        ((250, 250, 250), (120, 80, 40)),
        ((200, 30, 30), (255, 255, 255)),
        ((20, 20, 20), (90, 140, 200)),
    ],
)
def test_colour_descriptor_reads_the_garment_not_the_backdrop(garment, backdrop) -> None:
    """A white shirt on a wooden floor is white; the backdrop is the border's median colour,
    so a garment reaching the bottom edge does not change it."""
    from training.colour import ColourDescriptor, palette

    rgb = np.empty((104, 104, 3), np.uint8)
    rgb[:] = backdrop
    rgb[20:, 25:80] = garment  # touches the bottom border
    descriptor = ColourDescriptor(104, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    described = descriptor(_normalised(rgb))[0].numpy()
    hist, mean = described[:64], described[64:67]
    nearest = np.argmin(((palette().numpy() - np.array(garment) / 255) ** 2).sum(1))
    assert hist.argmax() == nearest
    assert np.abs(mean - np.array(garment) / 255).max() < 0.1


def test_hand_checked_labels_count_checked_weight_times(monkeypatch: pytest.MonkeyPatch) -> None:
    from training import pipeline
    from training.colour import ColourDescriptor
    from training.heads import HeadInputs, Recipe

    photos = [
        Photo(
            Path(f"/p/{i}.jpg"),
            "home",
            {"category": "a" if i % 2 else "b", "colour": "red"},
            checked=frozenset({"colour"}) if i < 2 else frozenset(),
        )
        for i in range(6)
    ]
    inputs = HeadInputs(
        np.arange(6, dtype=np.float32)[:, None],
        np.zeros((6, 1), np.float32),
        np.zeros((6, 1), np.float32),
        np.zeros((6, 1), np.float32),
        {"category": ("final",), "colour": ("final",)},
    )
    prepared = pipeline.Prepared(
        photos,
        {"train": photos},
        {"category": ("a", "b", "c"), "colour": ("red", "blue")},
        {"train": inputs},
        None,
        ColourDescriptor(8, (0.5,) * 3, (0.5,) * 3),
    )
    seen = {}
    monkeypatch.setattr(
        pipeline,
        "train_family_head",
        lambda family, x, y, k, recipe, x_m: seen.setdefault(k, x[:, 0].tolist()),
    )
    pipeline.train_heads(prepared, Recipe(checked_weight=3))
    assert sorted(seen[2]) == [0, 0, 0, 1, 1, 1, 2, 3, 4, 5]  # colour: 2 of its labels checked
    assert sorted(seen[3]) == [0, 1, 2, 3, 4, 5]  # category: none checked


def test_threshold_holds_on_every_large_source() -> None:
    """Catalog shots are easy and many; consumer photos need a higher threshold."""
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0, 1, 3000)
    sources = np.array(["catalog"] * 2540 + ["clothing"] * 400 + ["tiny"] * 60)  # tiny: no say
    skill = np.where(sources == "catalog", 0.4, 0.15)
    correct = rng.uniform(0, 1, 3000) < np.clip(confidence + skill, 0, 1)
    pooled = threshold_for(confidence, correct, 0.95)["threshold"]
    found = threshold_for_every_source(confidence, correct, sources, 0.95)
    consumer = sources == "clothing"
    assert found["threshold"] > pooled
    assert (
        found["threshold"]
        == threshold_for(confidence[consumer], correct[consumer], 0.95, min_kept=100)["threshold"]
    )
    kept = consumer & (confidence >= found["threshold"])
    assert correct[kept].mean() >= 0.95
    assert found["unreached"] == []

    hopeless = correct.copy()
    hopeless[consumer] = rng.uniform(0, 1, consumer.sum()) < 0.8  # never 95 % at any threshold
    capped = threshold_for_every_source(confidence, hopeless, sources, 0.95)
    assert capped["unreached"] == ["clothing"]
    shop, reached = sources == "catalog", sources != "clothing"
    # The unreached source sets it neither alone nor through the pool of every photo.
    assert capped["threshold"] == max(
        threshold_for(confidence[reached], hopeless[reached], 0.95)["threshold"],
        threshold_for(confidence[shop], hopeless[shop], 0.95, min_kept=100)["threshold"],
    )
    assert capped["threshold"] < threshold_for(confidence, hopeless, 0.95)["threshold"]
    assert capped["threshold"] < 1.0


def test_embedding_parts_keep_their_family_weight_and_probability_share() -> None:
    """Each family's slice of the embedding has length proportional to its weight, and
    inside it the probability part weighs PROBABILITY_WEIGHT times the activation."""
    from training.network import PROBABILITY_WEIGHT, combine

    torch.manual_seed(0)
    hidden = {"colour": torch.rand(3, 64), "sleeve": torch.rand(3, 64)}
    probs = {name: torch.softmax(torch.rand(3, k), 1) for name, k in (("colour", 5), ("sleeve", 3))}
    embedding = combine(hidden, probs, {"colour": 1.5, "sleeve": 0.5})
    colour, sleeve = embedding[:, : 64 + 5], embedding[:, 64 + 5 :]
    assert torch.allclose(embedding.norm(dim=1), torch.ones(3))
    assert torch.allclose(colour.norm(dim=1) / sleeve.norm(dim=1), torch.full((3,), 3.0))
    ratio = colour[:, 64:].norm(dim=1) / colour[:, :64].norm(dim=1)
    assert torch.allclose(ratio, torch.full((3,), PROBABILITY_WEIGHT))


def test_embedding_weights_recombine_exactly_as_the_exported_graph_does() -> None:
    """The A/B's numpy re-weighting of the shipped variant is the graph's own embedding,
    and the square-root form is the one bundles before @2026.12.03.4 carried."""
    from training.experiments.embedding_weights import VARIANTS, Variant, recombine
    from training.network import combine
    from training.pipeline import DEFAULT_EMBEDDING_WEIGHTS

    torch.manual_seed(0)
    hidden = {name: torch.randn(4, 64) for name in ("category", "colour", "sleeve")}
    probs = {name: torch.softmax(torch.randn(4, 5) * 3, 1) for name in hidden}
    shipped = next(v for name, v in VARIANTS.items() if name.endswith("(shipped)"))
    assert shipped == Variant(DEFAULT_EMBEDDING_WEIGHTS)
    expected = combine(hidden, probs, DEFAULT_EMBEDDING_WEIGHTS).numpy()
    numpy_in = ({k: v.numpy() for k, v in hidden.items()}, {k: v.numpy() for k, v in probs.items()})
    assert np.allclose(recombine(*numpy_in, shipped), expected, atol=1e-6)
    root = recombine(*numpy_in, Variant({}, 2.0, 0.5))
    part = root[:, 64:69] / np.linalg.norm(root[:, :64], axis=1, keepdims=True)
    assert np.allclose(part, 2.0 * np.sqrt(probs["category"].numpy()), atol=1e-5)


def test_a_perfect_embedding_reaches_the_best_possible_precision_at_k() -> None:
    """P@5 counts shared keys among the 5 nearest; a key with fewer than 5 other photos
    caps it, and an embedding that is the key itself reaches exactly that cap."""
    from training.evaluate import best_precision_at_k, precision_at_k

    keys = [("shirt", "red")] * 7 + [("shirt", "blue")] * 3 + [("dress", "red")]
    best = best_precision_at_k(keys, (5,))[5]
    assert best == pytest.approx((7 * 5 / 5 + 3 * 2 / 5 + 0) / 11)
    codes = sorted(set(keys))
    perfect = np.eye(len(codes))[[codes.index(k) for k in keys]] + 1e-3
    assert precision_at_k(perfect, keys, (5,))[5] == pytest.approx(best)
    shuffled = np.random.default_rng(0).normal(size=(len(keys), 8))
    assert precision_at_k(shuffled, keys, (5,))[5] < best


def test_embedding_parts_follow_the_combined_layout() -> None:
    """The report's per-family P@5 reads each family's own slice: activation then
    probabilities, whatever K each family has."""
    from types import SimpleNamespace

    from training.evaluate import embedding_parts
    from training.network import combine

    torch.manual_seed(0)
    sizes = {"category": 7, "colour": 5, "sleeve": 3}
    hidden = {name: torch.rand(4, 64) for name in sizes}
    probs = {name: torch.softmax(torch.rand(4, k), 1) for name, k in sizes.items()}
    embedding = combine(hidden, probs, {}).numpy()
    bundle = SimpleNamespace(
        families=[
            SimpleNamespace(name=n, labels=[str(i) for i in range(k)]) for n, k in sizes.items()
        ]
    )
    parts = embedding_parts(bundle, embedding)
    assert list(parts) == list(sizes)
    for name, part in parts.items():
        assert part.shape == (4, 64 + sizes[name])
        tail = part[:, 64:] / np.linalg.norm(part[:, 64:], axis=1, keepdims=True)
        unit = probs[name] / probs[name].norm(dim=1, keepdim=True)
        assert np.allclose(tail, unit.numpy(), atol=1e-5)
    bundle.families.append(SimpleNamespace(name="odd", labels=["a", "b"]))
    assert embedding_parts(bundle, embedding) == {}


def test_colour_head_ensemble_answers_the_members_mean_probability() -> None:
    """The graph's softmax of the ensemble's "logits" is the mean of its members'
    probabilities; the embedding keeps the first member's activation."""
    from training.heads import FamilyHead, HeadEnsemble, Recipe, make_head

    torch.manual_seed(0)
    members = [FamilyHead(5, 3) for _ in range(3)]
    ensemble = HeadEnsemble(members).eval()
    x = torch.rand(4, 5)
    with torch.no_grad():
        logits, hidden = ensemble(x)
        expected = torch.stack([torch.softmax(m.eval()(x)[0], 1) for m in members]).mean(0)
        assert torch.allclose(torch.softmax(logits, 1), expected, atol=1e-6)
        assert torch.equal(hidden, members[0](x)[1])
    assert isinstance(make_head("colour", 5, 3, Recipe()), HeadEnsemble)
    assert isinstance(make_head("pattern", 5, 3, Recipe()), FamilyHead)
    assert isinstance(make_head("colour", 5, 3, Recipe(colour_members=1)), FamilyHead)


def test_recover_names_the_folder_when_it_holds_no_bundle(tmp_path: Path) -> None:
    from training.recover import main as recover_main

    with pytest.raises(SystemExit, match=r"no manifest\.json"):
        recover_main([str(tmp_path), "--out", str(tmp_path / "backbone.pt")])
    assert not (tmp_path / "backbone.pt").exists()


def test_tail_loss_counts_checked_labels_more_and_skips_unknown() -> None:
    from torch.nn import functional as F

    from training.loop import masked_loss
    from training.tailtune import targets

    labels = {"colour": ("red", "blue"), "pattern": ("solid", "striped")}
    photos = [
        Photo(Path("a.jpg"), "s", {"colour": "red"}, checked=frozenset({"colour"})),
        Photo(Path("b.jpg"), "s", {"colour": "blue", "pattern": "solid"}),
    ]
    y, w = targets(photos, labels, checked_weight=3)
    assert y.tolist() == [[0, -100], [1, 0]]
    assert w.tolist() == [[3.0, 1.0], [1.0, 1.0]]
    logits = {"colour": torch.tensor([[2.0, 0.0], [0.0, 1.0]]), "pattern": torch.zeros(2, 2)}
    ce = F.cross_entropy(
        logits["colour"], torch.tensor([0, 1]), label_smoothing=0.1, reduction="none"
    )
    expected = (3 * ce[0] + ce[1]) / 4 + F.cross_entropy(
        torch.zeros(1, 2), torch.tensor([0]), label_smoothing=0.1
    )
    assert torch.isclose(masked_loss(logits, torch.from_numpy(y), torch.from_numpy(w)), expected)


def test_a_source_right_only_in_its_top_few_photos_cannot_set_the_threshold() -> None:
    """Precision on a source's top 30 photos is noise: it must hold on 100 of them."""
    rng = np.random.default_rng(1)
    confidence = rng.uniform(0, 1, 2000)
    sources = np.array(["catalog"] * 1400 + ["clothing"] * 600)
    correct = rng.uniform(0, 1, 2000) < np.where(sources == "catalog", 0.99, 0.85)
    consumer = np.flatnonzero(sources == "clothing")
    top = consumer[np.argsort(-confidence[consumer])[:30]]
    correct[top] = True  # 30 of 30 right at the very top, 85 % below
    assert threshold_for(confidence[consumer], correct[consumer], 0.95)["coverage"] > 0
    found = threshold_for_every_source(confidence, correct, sources, 0.95)
    assert found["unreached"] == ["clothing"]
    assert found["threshold"] == threshold_for(confidence, correct, 0.95)["threshold"]


def test_feature_cache_follows_the_weights_contents_not_their_name(tmp_path: Path) -> None:
    from training.features import cache_folder, preprocessing_for

    pre = preprocessing_for("efficientnet_lite0")
    weights = tmp_path / "tail.pt"
    weights.write_bytes(b"first tail")
    first = cache_folder(tmp_path, "efficientnet_lite0", pre, weights)
    weights.write_bytes(b"second tail, written to the same --out file")
    assert cache_folder(tmp_path, "efficientnet_lite0", pre, weights) != first
    copy = tmp_path / "renamed.pt"
    copy.write_bytes(b"first tail")
    assert cache_folder(tmp_path, "efficientnet_lite0", pre, copy) == first
    assert cache_folder(tmp_path, "efficientnet_lite0", pre, Path("imgsim")) != first


def test_fit_refuses_a_folder_that_is_not_a_bundle_before_training(tmp_path: Path) -> None:
    """`vitrina-train fit --out ~/Documents` used to delete the folder at the end of the run."""
    from training.outputs import OutputFolderError
    from training.pipeline import FitConfig, fit

    precious = tmp_path / "Documents"
    precious.mkdir()
    (precious / "thesis.txt").write_text("years of work")
    config = FitConfig(data=[tmp_path / "no-such-data"], out=precious)
    with pytest.raises(OutputFolderError, match="not empty and holds no Vitrina bundle"):
        fit(config)
    assert (precious / "thesis.txt").read_text() == "years of work"


def test_a_bundle_is_replaced_only_by_a_complete_one(tmp_path: Path) -> None:
    from training.outputs import check_bundle_output, replacing

    out = tmp_path / "bundle"
    out.mkdir()
    (out / "manifest.json").write_text('{"format": "vitrina-bundle", "version": "old"}')
    check_bundle_output(out)  # a previous bundle may be replaced
    with pytest.raises(RuntimeError), replacing(out) as staging:
        (staging / "manifest.json").write_text('{"format": "vitrina-bundle", "version": "new"}')
        raise RuntimeError("the run failed half-way")
    assert '"old"' in (out / "manifest.json").read_text()
    with replacing(out) as staging:
        (staging / "manifest.json").write_text('{"format": "vitrina-bundle", "version": "new"}')
    assert '"new"' in (out / "manifest.json").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]  # nothing left beside it


def test_dresses_map_every_crowd_pattern_into_the_family() -> None:
    dresses = LabelMap.load("dresses")
    expected = {
        "plain": "solid",
        "squares": "checked",
        "houndstooth": "checked",
        "polka dot": "polka dot",
        "stripes": "striped",
        "ikat": "printed",
        "skull": "printed",
    }
    for crowd, pattern in expected.items():
        assert dresses.labels_for({"image": "a.jpg", "pattern": crowd}) == {
            "category": "dress",
            "pattern": pattern,
        }


def test_a_bare_image_pattern_csv_is_not_read_as_the_dresses_set(tmp_path: Path) -> None:
    """The dresses map names its folder: one's own image,pattern CSV keeps its own labels."""
    from training.labelmaps import detect

    for name in ("dresses", "my-shop"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "labels.csv").write_text("image,pattern\na.jpg,solid\n")
    assert detect(tmp_path / "dresses" / "labels.csv").name == "dresses"
    assert detect(tmp_path / "my-shop" / "labels.csv") is None


def test_jeans_and_sweatshirts_are_categories_of_their_own() -> None:
    catalog = LabelMap.load("catalog")
    assert catalog.labels_for(_catalog("Levis Men Blue Jeans", "Jeans"))["category"] == "jeans"
    sweatshirt = catalog.labels_for(_catalog("Puma Men Grey Sweatshirt", "Sweatshirts"))
    assert sweatshirt["category"] == "sweatshirt" and sweatshirt["sleeve"] == "long"
    assert {"jeans", "sweatshirt"} <= set(vocabulary()["category"])


def test_pinned_photos_stay_where_their_label_map_puts_them() -> None:
    """The shipped backbone was fine-tuned on one split: new sources or new labels must not
    move its held-out photos into training."""
    pinned = [
        Photo(Path(f"/c/{i}.jpg"), "catalog", {"colour": "red"}, pinned="test") for i in range(5)
    ]
    drawn = [Photo(Path(f"/d/{i}.jpg"), "dresses", {"pattern": "floral"}) for i in range(40)]
    parts = split(pinned + drawn, seed=3)
    assert [p for p in parts["test"] if p.source == "catalog"] == pinned
    assert sum(len(v) for v in parts.values()) == 45 and len(parts["val"]) == 6


def test_the_shipped_sources_pin_their_held_out_photos() -> None:
    for name, count in (("catalog", 3192), ("clothing", 1384)):
        held_out = LabelMap.load(name).held_out()
        assert len(held_out) == count and set(held_out.values()) == {"val", "test"}


def test_vitrina_train_dispatches_through_its_command_table() -> None:
    from training.cli import COMMANDS, _parser

    names = ["fit", "tailtune", "average", "quantize", "features", "compare", "evaluate"]
    assert [command.name for command in COMMANDS] == names
    args = _parser().parse_args(["compare", "--data", "labels.csv", "--threads", "1"])
    assert args.run is next(c.handler for c in COMMANDS if c.name == "compare")
    assert args.data == [Path("labels.csv")] and args.threads == 1


def test_held_out_scores_skip_labels_the_heads_were_never_taught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The catalog's watches cannot be learned from consumer photos: scoring them as errors
    of the heads trained without the catalog set every category threshold (0.85)."""
    from training import holdout, pipeline
    from training.colour import ColourDescriptor
    from training.heads import HeadInputs

    photos = [
        Photo(Path(f"/{source}/{i}.jpg"), source, {"category": label})
        for source, labels in (("home", "ab"), ("shop", "abw"))
        for i, label in enumerate(labels * 60)
    ]
    n = len(photos)
    inputs = HeadInputs(
        np.zeros((n, 1), np.float32),
        np.zeros((n, 1), np.float32),
        np.zeros((n, 1), np.float32),
        np.zeros((n, 1), np.float32),
        {"category": ("final",)},
    )
    names = ("a", "b", "w")
    prepared = pipeline.Prepared(
        photos, {"train": photos}, {"category": names}, {"train": inputs}, None,
        ColourDescriptor(8, (0.5,) * 3, (0.5,) * 3),
    )  # fmt: skip
    monkeypatch.setattr(holdout, "train_heads", lambda prepared, recipe, keep: {"category": None})
    monkeypatch.setattr(
        holdout, "predict", lambda head, x: np.tile(np.array([[0.6, 0.3, 0.1]]), (len(x), 1))
    )
    scores = holdout.held_out_scores(prepared, None)
    shop = scores["shop"]["category"]
    assert len(shop["y"]) == 120 and set(shop["y"].tolist()) == {0, 1}  # no "w": never taught
    assert len(scores["home"]["category"]["y"]) == 120
