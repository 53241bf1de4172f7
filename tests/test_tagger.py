"""Tagger: files and images through a bundle or a bundle set, in batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tinybundle import label_colour

from app.core.bundle import load_bundle
from app.core.errors import DecodeError
from app.core.tagger import Tagger
from app.core.tagging import decide


def test_batches_give_the_same_results(tiny_bundle: Path, photos_dir: Path) -> None:
    images = [Image.open(p).convert("RGB") for p in sorted(photos_dir.glob("*.jpg"))]
    bundle = load_bundle(tiny_bundle)
    small = Tagger(bundle, batch_size=3).tag_images(images)
    large = Tagger(bundle, batch_size=16).tag_images(images)
    assert len(small) == len(large) == 8
    for (p1, e1, _), (p2, e2, _) in zip(small, large, strict=True):
        assert p1.keys() == {"category", "colour"}
        np.testing.assert_allclose(p1["colour"], p2["colour"], atol=1e-6)
        np.testing.assert_allclose(e1, e2, atol=1e-6)
        assert e1.shape == (8,)
    assert Tagger(bundle).tag_images([]) == []


def test_colour_is_read_from_the_photo(tiny_bundle: Path) -> None:
    tagger = Tagger(load_bundle(tiny_bundle))
    images = [Image.new("RGB", (60, 40), label_colour("colour", c)) for c in ("red", "blue")]
    (red_probs, _, _), (blue_probs, _, _) = tagger.tag_images(images)
    red = decide(red_probs, tagger.families)[1]
    assert red.top.label == "red" and red.confident
    assert decide(blue_probs, tagger.families)[1].top.label == "blue"


def test_similar_photos_have_similar_embeddings(tiny_bundle: Path) -> None:
    tagger = Tagger(load_bundle(tiny_bundle))
    colours = [(200, 30, 30), (190, 40, 35), (30, 40, 200)]
    red, dark_red, blue = (
        v for _, v, _ in tagger.tag_images([Image.new("RGB", (9, 9), c) for c in colours])
    )
    assert float(red @ dark_red) > 0.99
    assert float(red @ blue) < float(red @ dark_red) - 0.1


def test_tag_file(tiny_bundle: Path, photos_dir: Path) -> None:
    tagger = Tagger(load_bundle(tiny_bundle))
    assert tagger.embedding_key == tagger.bundle.key
    assert tagger.embedding_dim == 8
    assert tagger.min_size == 32
    tagged = tagger.tag_file(photos_dir / "pants.jpg")
    assert tagged.path == photos_dir / "pants.jpg"
    assert (tagged.width, tagged.height) == (162, 288)
    assert tagged.probabilities["category"].shape == (4,)
    assert np.linalg.norm(tagged.embedding) == pytest.approx(1.0, abs=1e-5)


def test_tag_file_refuses_broken_photo(tiny_bundle: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a photo")
    with pytest.raises(DecodeError):
        Tagger(load_bundle(tiny_bundle)).tag_file(broken)


def test_set_tagger(tiny_set_bundle: Path, photos_dir: Path) -> None:
    tagger = Tagger(load_bundle(tiny_set_bundle), batch_size=2)
    assert tagger.min_size == 40
    assert tagger.embedding_dim == 16
    paths = sorted(photos_dir.glob("*.jpg"))[:3]
    tagged = tagger.tag_photos([(p, tagger.open(p)) for p in paths])
    assert [t.path for t in tagged] == paths
    for photo in tagged:
        assert photo.probabilities.keys() == {"category", "colour"}
        assert photo.embedding.shape == (16,)
        assert np.linalg.norm(photo.embedding) == pytest.approx(1.0, abs=1e-5)


def test_batch_size_must_be_positive(tiny_bundle: Path) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        Tagger(load_bundle(tiny_bundle), batch_size=0)
