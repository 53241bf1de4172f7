"""The shipped default bundle, through the app's own loader, on real CC0 photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.core.bundle import load_bundle
from app.core.context import AppContext
from app.core.importer import import_paths
from app.core.paths import default_bundle_path
from app.core.tagger import Tagger

# tests/data file -> the default bundle's category label for it
EXPECTED = {
    "t-shirt.jpg": "t-shirt",
    "pants.jpg": "trousers",
    "shoes.jpg": "shoes",
    "dress.jpg": "dress",
    "hat.jpg": "hat",
    "shirt.jpg": "shirt",
    "skirt.jpg": "skirt",
    "longsleeve.jpg": "longsleeve",
}


@pytest.fixture(scope="module")
def bundle():
    return load_bundle(default_bundle_path())


def test_manifest_is_complete(bundle) -> None:
    assert [f.name for f in bundle.families] == ["category", "colour", "pattern", "sleeve"]
    for family in bundle.families:
        assert 0 < family.threshold < 1
        assert family.calibration["target_precision"] == 0.95
    assert bundle.embedding is not None and bundle.embedding.dim > 0
    assert bundle.manifest["provenance"]["data"]
    assert "category" in bundle.manifest["metrics"]


def test_real_photos_get_their_category_in_the_top_three(bundle, photos_dir: Path) -> None:
    tagger = Tagger(bundle)
    hits = 0
    for name, label in EXPECTED.items():
        tagged = tagger.tag_file(photos_dir / name)
        probs = tagged.probabilities["category"]
        assert probs.shape == (len(bundle.families[0].labels),)
        assert np.isclose(probs.sum(), 1, atol=1e-4)
        top3 = [bundle.families[0].labels[i] for i in np.argsort(probs)[::-1][:3]]
        hits += label in top3
        assert np.isclose(np.linalg.norm(tagged.embedding), 1, atol=1e-4)
    assert hits >= 7, f"only {hits} of {len(EXPECTED)} photos had their category in the top 3"


def test_import_tags_and_finds_similar_with_the_default(
    tmp_path: Path, photos_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VITRINA_HOME", str(tmp_path / "home"))
    with AppContext.open(tmp_path / "catalog.sqlite") as ctx:
        report = import_paths([photos_dir], ctx)
        assert len(report.added) == len(EXPECTED) and not report.failures
        first = report.added[0]
        families = {p.family for p in ctx.catalog.predictions(first)}
        assert families == {"category", "colour", "pattern", "sleeve"}
        neighbours = ctx.index.nearest(
            ctx.catalog.embedding(first, ctx.bundle.key), k=3, exclude=first
        )
        assert len(neighbours) == 3 and all(pid != first for pid, _ in neighbours)


def test_the_default_stores_what_a_catalog_learns_from(
    bundle, tmp_path: Path, photos_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Learning from reviews (docs/learning.md) needs the bundle's features at import."""
    assert bundle.features is not None and bundle.features.dim > 0
    for family in bundle.families:
        assert family.calibration["set_on"] in ("validation", "held-out sources")
    monkeypatch.setenv("VITRINA_HOME", str(tmp_path / "home"))
    with AppContext.open(tmp_path / "catalog.sqlite") as ctx:
        added = import_paths([photos_dir], ctx).added
        assert ctx.catalog.count_with_features(ctx.bundle.key) == len(added) == len(EXPECTED)
