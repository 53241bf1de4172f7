"""open_photo / preprocess / content_hash on real photos and on the odd files users have."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.core import decode
from app.core.bundle import Preprocessing
from app.core.decode import content_hash, open_photo, preprocess, to_rgb
from app.core.errors import DecodeError, UnsupportedFormatError

ORIENTATION = 0x0112


def pre(size=(32, 32), resize="letterbox", layout="NCHW") -> Preprocessing:
    return Preprocessing(size, resize, (255, 255, 255), (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), layout)


def test_real_photo(photos_dir: Path) -> None:
    photo = open_photo(photos_dir / "hat.jpg")
    assert photo.image.mode == "RGB"
    assert (photo.width, photo.height) == photo.image.size == (216, 288)
    assert photo.format == "JPEG"


def test_large_jpeg_is_drafted_but_keeps_original_size(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    Image.new("RGB", (2000, 1600), (10, 120, 200)).save(path, quality=80)
    photo = open_photo(path, min_size=224)
    assert (photo.width, photo.height) == (2000, 1600)
    assert photo.image.size == (500, 400)
    assert open_photo(path).image.size == (2000, 1600)
    assert open_photo(path, min_size=1500).image.size == (2000, 1600)


def two_tone(width: int, height: int) -> Image.Image:
    """Left half red, right half blue."""
    image = Image.new("RGB", (width, height), (255, 0, 0))
    image.paste((0, 0, 255), (width // 2, 0, width, height))
    return image


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_exif_orientation_is_applied(tmp_path: Path, suffix: str) -> None:
    image = two_tone(80, 40)
    exif = image.getexif()
    exif[ORIENTATION] = 6  # display rotated 90 degrees clockwise: left half goes to the top
    path = tmp_path / f"rotated{suffix}"
    image.save(path, exif=exif)
    photo = open_photo(path)
    assert (photo.width, photo.height) == photo.image.size == (40, 80)
    top, bottom = photo.image.getpixel((20, 10)), photo.image.getpixel((20, 70))
    assert top[0] > 200 and top[2] < 60
    assert bottom[2] > 200 and bottom[0] < 60


def test_rotated_large_jpeg_reports_upright_original_size(tmp_path: Path) -> None:
    image = Image.new("RGB", (1600, 800), (90, 90, 90))
    exif = image.getexif()
    exif[ORIENTATION] = 8
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif)
    photo = open_photo(path, min_size=100)
    assert (photo.width, photo.height) == (800, 1600)
    assert photo.image.size == (100, 200)


def test_cmyk_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (20, 20), (0, 255, 255, 0)).save(path)
    photo = open_photo(path)
    assert photo.image.mode == "RGB"
    r, g, b = photo.image.getpixel((10, 10))
    assert r > 200 and g < 60 and b < 60


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_greyscale_is_scaled_not_clipped(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"deep{suffix}"
    Image.fromarray(np.full((10, 12), 32768, dtype=np.uint16)).save(path)
    photo = open_photo(path)
    assert photo.image.mode == "RGB"
    assert all(abs(v - 128) <= 1 for v in photo.image.getpixel((5, 5)))


def test_palette_with_transparency_lands_on_white(tmp_path: Path) -> None:
    image = Image.new("P", (10, 10), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.paste(1, (0, 0, 5, 10))
    path = tmp_path / "palette.png"
    image.save(path, transparency=0)
    rgb = open_photo(path).image
    assert rgb.getpixel((2, 5)) == (255, 0, 0)
    assert rgb.getpixel((8, 5)) == (255, 255, 255)


@pytest.mark.parametrize(
    ("mode", "colour", "expected"),
    [
        ("RGBA", (0, 0, 255, 0), (255, 255, 255)),
        ("RGBA", (0, 0, 255, 255), (0, 0, 255)),
        ("LA", (0, 0), (255, 255, 255)),
        ("LA", (40, 255), (40, 40, 40)),
        ("L", 77, (77, 77, 77)),
        ("1", 1, (255, 255, 255)),
    ],
)
def test_other_modes(tmp_path: Path, mode: str, colour, expected) -> None:
    path = tmp_path / "mode.png"
    Image.new(mode, (6, 6), colour).save(path)
    assert open_photo(path).image.getpixel((3, 3)) == expected


def test_float_and_int_modes_convert() -> None:
    assert to_rgb(Image.new("F", (2, 2), 0.5)).getpixel((0, 0)) == (128, 128, 128)
    assert to_rgb(Image.new("I", (2, 2), 65535)).getpixel((0, 0)) == (255, 255, 255)
    assert to_rgb(Image.new("I", (2, 2), 100)).getpixel((0, 0)) == (100, 100, 100)


def test_animated_image_gives_first_frame(tmp_path: Path) -> None:
    path = tmp_path / "anim.webp"
    frames = [Image.new("RGB", (8, 8), c) for c in [(255, 0, 0), (0, 0, 255)]]
    frames[0].save(path, save_all=True, append_images=frames[1:], lossless=True)
    r, _, b = open_photo(path).image.getpixel((4, 4))
    assert r > 200 and b < 60


def test_decompression_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bomb.png"
    Image.new("RGB", (100, 100)).save(path)
    small = tmp_path / "warn.png"
    Image.new("RGB", (40, 40)).save(small)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    for target in (path, small):
        with pytest.raises(DecodeError, match="too large to decode safely"):
            open_photo(target)


def test_truncated_jpeg(tmp_path: Path, photos_dir: Path) -> None:
    data = (photos_dir / "shirt.jpg").read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DecodeError, match="damaged or truncated") as info:
        open_photo(path)
    assert not isinstance(info.value, UnsupportedFormatError)
    assert str(info.value).startswith(str(path))


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(DecodeError, match=r"empty\.jpg: the file is empty \(0 bytes\)"):
        open_photo(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(DecodeError, match="does not exist"):
        open_photo(tmp_path / "gone.jpg")
    with pytest.raises(DecodeError, match="is a folder"):
        open_photo(tmp_path)


@pytest.mark.parametrize(
    ("name", "data", "what"),
    [
        ("notes.jpg", b"just some words\nin a text file\n", "a text file"),
        ("long.jpg", ("x" + "é" * 600).encode(), "a text file"),
        ("logo.png", b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "SVG"),
        ("logo.jpg", b"<svg width='10' height='10'></svg>", "SVG"),
        ("page.jpg", b"<!DOCTYPE html><html><body>403</body></html>", "HTML page"),
        ("scan.jpg", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF document"),
        ("iphone.jpg", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "HEIC/HEIF"),
        ("iphone.heic", b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", "HEIC/HEIF"),
        ("new.jpg", b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1", "AVIF"),
    ],
)
def test_disguised_non_photos_are_refused(
    tmp_path: Path, name: str, data: bytes, what: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(UnsupportedFormatError) as info:
        open_photo(path)
    message = str(info.value)
    assert message.startswith(f"{path}: is ")
    assert what in message
    assert "Convert it to JPEG or PNG" in message


def test_unsupported_suffix_and_format(tmp_path: Path) -> None:
    gif = tmp_path / "anim.gif"
    Image.new("RGB", (4, 4)).save(gif)
    with pytest.raises(UnsupportedFormatError, match=r"\.gif is not a photo type"):
        open_photo(gif)
    disguised = tmp_path / "anim.jpg"
    disguised.write_bytes(gif.read_bytes())
    with pytest.raises(UnsupportedFormatError, match="is a GIF image"):
        open_photo(disguised)


def test_png_named_jpg_is_read_by_content(tmp_path: Path) -> None:
    path = tmp_path / "really_png.jpg"
    Image.new("RGB", (5, 5), (1, 2, 3)).save(path, format="PNG")
    photo = open_photo(path)
    assert photo.format == "PNG"
    assert photo.image.getpixel((0, 0)) == (1, 2, 3)


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "noise.jpg"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    with pytest.raises(DecodeError, match="not a readable JPEG"):
        open_photo(path)


def test_preprocess_letterbox_pads_with_fill() -> None:
    out = preprocess(Image.new("RGB", (20, 10), (255, 0, 0)), pre())
    assert out.shape == (3, 32, 32) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0, 16], [1.0, 1.0, 1.0])
    np.testing.assert_allclose(out[:, 16, 16], [1.0, -1.0, -1.0])


def test_preprocess_center_crop_keeps_middle() -> None:
    image = Image.new("RGB", (90, 30), (0, 255, 0))
    image.paste((255, 0, 0), (0, 0, 30, 30))
    image.paste((0, 0, 255), (60, 0, 90, 30))
    out = preprocess(image, pre(resize="center_crop"))
    np.testing.assert_allclose(out.mean(axis=(1, 2)), [-1.0, 1.0, -1.0], atol=0.01)


def test_preprocess_stretch_and_nhwc() -> None:
    out = preprocess(two_tone(100, 10), pre(size=(24, 40), resize="stretch", layout="NHWC"))
    assert out.shape == (24, 40, 3)
    np.testing.assert_allclose(out[12, 2], [1.0, -1.0, -1.0])
    np.testing.assert_allclose(out[12, 38], [-1.0, -1.0, 1.0])


def test_preprocess_accepts_any_mode() -> None:
    out = preprocess(Image.new("RGBA", (8, 8), (0, 0, 0, 0)), pre(resize="stretch"))
    np.testing.assert_allclose(out, 1.0)


def test_content_hash(photos_dir: Path, tmp_path: Path) -> None:
    path = photos_dir / "dress.jpg"
    assert content_hash(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(DecodeError, match="cannot be read"):
        content_hash(tmp_path / "gone.jpg")


def test_large_photos_are_reduced_and_decode_within_a_memory_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four threads decoding big 16-bit PNGs hold no more pixel memory than the budget
    allows (four 9,400 x 9,400 ones took 5 GB), and each comes out reduced."""
    path = tmp_path / "big.png"
    ramp = np.tile(np.linspace(0, 65535, 1600, dtype=np.uint16), (1200, 1))
    Image.fromarray(ramp).save(path)  # mode I;16
    budget = decode._Budget(8 * 1600 * 1200)  # one such photo at a time
    peak = []
    hold = budget.hold

    @contextmanager
    def watched(amount: int):
        with hold(amount):
            peak.append(budget.used)
            yield

    monkeypatch.setattr(budget, "hold", watched)
    monkeypatch.setattr(decode, "_BUDGET", budget)
    with ThreadPoolExecutor(4) as pool:
        photos = list(pool.map(lambda _: open_photo(path, min_size=300), range(4)))
    assert max(peak) <= budget.limit
    for photo in photos:
        assert (photo.width, photo.height) == (1600, 1200)
        assert photo.image.size == (400, 300)  # reduced 4x, both sides still >= 300
        assert photo.image.getpixel((399, 0))[0] == 255  # scaled, not clipped
