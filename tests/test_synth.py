"""Synthetic-photo generator: cut-out, re-colour, patterns, determinism.

Inputs are drawn here (a shaded garment-shaped blob on white), so the tests need
neither the catalog nor torch.
"""

from __future__ import annotations

import colorsys
import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from training.synth import backdrops
from training.synth.cutout import connected_to, cut_garment
from training.synth.generate import generate
from training.synth.recolour import flat, load_palette, paint, recolour
from training.synth.textures import PATTERNS, stripes

H, W = 224, 168


def garment_photo(colour: tuple[int, int, int] = (60, 120, 60)) -> tuple[np.ndarray, np.ndarray]:
    """A T-shirt-like blob with vertical folds on a white backdrop, plus its true mask."""
    im = Image.new("L", (W, H), 0)
    d = ImageDraw.Draw(im)
    d.polygon(
        [(40, 40), (128, 40), (160, 90), (135, 100), (130, 200), (38, 200), (33, 100), (8, 90)],
        fill=255,
    )
    mask = np.asarray(im) > 127
    x = np.arange(W, dtype=np.float32)
    folds = 0.8 + 0.2 * np.sin(x / 6.0)[None, :] * np.ones((H, 1), np.float32)
    rgb = np.full((H, W, 3), 255, np.float32)
    rgb[mask] = (np.array(colour, np.float32) * folds[..., None])[mask]
    return rgb.astype(np.uint8), mask


def shrink(mask: np.ndarray, steps: int) -> np.ndarray:
    """Erode a mask by `steps` pixels (4-neighbourhood)."""
    for _ in range(steps):
        mask = mask & np.roll(mask, 1, 0) & np.roll(mask, -1, 0)
        mask = mask & np.roll(mask, 1, 1) & np.roll(mask, -1, 1)
    return mask


def test_connected_to_follows_only_connected_pixels() -> None:
    allowed = np.zeros((5, 7), bool)
    allowed[1, 0:4] = allowed[1:4, 3] = allowed[3, 3:6] = True  # a bent path
    allowed[0, 6] = True  # isolated
    seed = np.zeros_like(allowed)
    seed[1, 0] = True
    got = connected_to(allowed, seed)
    assert got[3, 5] and not got[0, 6]
    assert got.sum() == allowed.sum() - 1


def test_mask_found_on_product_shot() -> None:
    rgb, truth = garment_photo()
    cut = cut_garment(rgb, "topwear")
    assert cut is not None
    iou = (cut.mask & truth).sum() / (cut.mask | truth).sum()
    assert iou > 0.95


def test_blank_photo_rejected() -> None:
    assert cut_garment(np.full((H, W, 3), 255, np.uint8)) is None


@pytest.mark.parametrize("target", [(200, 30, 35), (30, 90, 200), (250, 215, 40), (20, 30, 80)])
@pytest.mark.parametrize("source", [(60, 120, 60), (25, 25, 28)])
def test_recolour_hits_target_and_keeps_folds(target, source) -> None:
    rgb, truth = garment_photo(source)
    cut = cut_garment(rgb, "topwear")
    assert cut is not None
    out = recolour(cut, target)
    inner = shrink(truth, 3)
    med = np.median(out[inner].astype(float), axis=0)
    hue = colorsys.rgb_to_hsv(*(med / 255))[0]
    want = colorsys.rgb_to_hsv(*(np.array(target) / 255))[0]
    assert min(abs(hue - want), 1 - abs(hue - want)) < 0.03
    assert np.abs(med - target).max() < 12
    lum = out[inner].astype(float).mean(axis=1)
    assert lum.std() / lum.mean() > 0.04  # folds survive, even from a near-black source


def test_background_stays_white() -> None:
    rgb, truth = garment_photo()
    cut = cut_garment(rgb)
    assert cut is not None
    out = recolour(cut, (128, 0, 128))
    far = shrink(~truth, 3)
    assert (out[far] == 255).all()


def test_white_target_keeps_shading() -> None:
    rgb, truth = garment_photo((120, 120, 130))
    cut = cut_garment(rgb)
    assert cut is not None
    out = recolour(cut, (245, 245, 245)).astype(float)
    assert out[truth].mean() > 200 and out[truth].mean(axis=1).std() > 3


def test_stripes_are_periodic() -> None:
    rng = np.random.default_rng(3)
    found = False
    for _ in range(20):
        img = stripes(120, 120, rng, (255, 255, 255), [(0, 0, 0)])
        col = img[:, 60].mean(axis=1)
        row = img[60, :].mean(axis=1)
        for profile in (col, row):
            p = profile - profile.mean()
            if p.std() < 0.1:
                continue
            spec = np.abs(np.fft.rfft(p))
            peak = spec[1:].max()
            assert peak > 4 * np.median(spec[1:])  # one dominant frequency
            found = True
    assert found


def test_every_pattern_paints_a_mask() -> None:
    rgb, truth = garment_photo()
    cut = cut_garment(rgb)
    assert cut is not None
    x0, y0, x1, y1 = cut.bbox
    rng = np.random.default_rng(0)
    base = (30, 90, 200)
    for name, make in PATTERNS.items():
        albedo = make(y1 - y0, x1 - x0, rng, base, [(250, 215, 40), (200, 30, 35)])
        assert albedo.shape == (y1 - y0, x1 - x0, 3), name
        assert albedo.std() > 0.01, name
        out = paint(cut, albedo)
        assert out.shape == rgb.shape
    assert (paint(cut, flat(cut, base))[truth].std(axis=0) < 40).all()


def test_palette_uses_project_vocabulary() -> None:
    names = set(load_palette())
    assert names == {
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
        "navy",
        "pink",
        "beige",
        "maroon",
        "orange",
        "olive",
    }


def fake_catalog(root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    fields = "image,id,gender,masterCategory,subCategory,articleType,baseColour,season,year,"
    fields += "usage,productDisplayName"
    rows = []
    for i, colour in enumerate([(60, 120, 60), (120, 60, 60), (70, 70, 140)]):
        rgb, _ = garment_photo(colour)
        Image.fromarray(rgb).save(root / f"images/{i + 1}.jpg", quality=95)
        rows.append(
            f"images/{i + 1}.jpg,{i + 1},Men,Apparel,Topwear,Tshirts,Green,Summer,2012,"
            f"Casual,Brand Men Solid Short Sleeve T-shirt"
        )
    (root / "labels.csv").write_text(fields + "\n" + "\n".join(rows) + "\n")
    return root


def test_generate_is_deterministic(tmp_path: Path) -> None:
    catalog = fake_catalog(tmp_path / "catalog")
    outs = []
    for run in ("a", "b"):
        n = generate(catalog, tmp_path / run, per_class=2, per_colour=1, seed=7)
        assert n == 5 * 2 + 16
        outs.append(tmp_path / run)
    a, b = ((p / "labels.csv").read_text() for p in outs)
    assert a == b
    rows = list(csv.DictReader((outs[0] / "labels.csv").read_text().splitlines()))
    assert set(rows[0]) == {"image", "category", "colour", "pattern", "sleeve", "source"}
    assert {r["pattern"] for r in rows} == {
        "solid",
        "striped",
        "checked",
        "polka dot",
        "floral",
        "printed",
    }
    assert rows[0]["sleeve"] == "short"
    for r in rows[:5]:
        assert (outs[0] / r["image"]).read_bytes() == (outs[1] / r["image"]).read_bytes()


def test_backdrops_swap_the_white_backdrop_and_keep_garment_and_labels(tmp_path: Path) -> None:
    shop, home = tmp_path / "shop", tmp_path / "home"
    for folder in (shop, home):
        (folder / "images").mkdir(parents=True)
    rows = ["image,category,colour"]
    for i in range(40):
        rgb, _ = garment_photo((20 + 5 * i, 60, 160))
        Image.fromarray(rgb).save(shop / "images" / f"{i}.png")
        rows.append(f"images/{i}.png,t-shirt,{'blue' if i % 2 else 'navy'}")
    (shop / "labels.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    rows = ["image,category"]
    for i in range(40):
        Image.new("RGB", (W, H), (120, 80, 40)).save(home / "images" / f"h{i}.png")
        rows.append(f"images/h{i}.png,dress")
    (home / "labels.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")

    out = tmp_path / "out"
    n = backdrops.generate([home, shop], out, seed=0, garments_from="shop")
    with open(out / "labels.csv", newline="") as f:
        made = list(csv.DictReader(f))
    assert len(made) == n == 28  # the shop's training split (70 % of 40)
    _, mask = garment_photo()
    inside, outside = shrink(mask, 3), ~shrink(~mask, 3)
    for row in made:
        source = np.asarray(Image.open(shop / "images" / f"{row['source']}.png"), np.int16)
        photo = np.asarray(Image.open(out / row["image"]), np.int16)
        assert row["colour"] == ("blue" if int(row["source"]) % 2 else "navy")
        assert row["category"] == "t-shirt"
        assert np.abs(photo[inside] - source[inside]).mean() < 4  # JPEG noise only
        assert np.abs(photo[~outside] - 255).mean() > 30  # no longer white
