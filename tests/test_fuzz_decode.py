"""Mutation fuzzing of the image loader: damaged bytes give an RGB image or a DecodeError.

Each format's seed files are flipped, cut, overwritten and spliced by hypothesis
(derandomized, so CI sees the same inputs every run); any other exception, a
non-RGB result or a slow decode fails the test.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
from hostile import encode, photo, rgb48_png
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from app.core.bundle import Preprocessing
from app.core.decode import open_photo, preprocess
from app.core.errors import DecodeError

DATA = Path(__file__).resolve().parent / "data"
PRE = Preprocessing((32, 32), "letterbox", (255, 255, 255), (0.5,) * 3, (0.5,) * 3, "NCHW")
SLOW_S = 5.0
FUZZ = settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _rotated_jpeg() -> bytes:
    image = photo(40, 24)
    exif = image.getexif()
    exif[0x0112] = 6
    return encode(image, "JPEG", exif=exif, quality=70)


def _animated_webp() -> bytes:
    frames = [photo(12, 12), photo(12, 12, "L").convert("RGB")]
    return encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)


def _two_page_tiff() -> bytes:
    return encode(photo(16, 8), "TIFF", save_all=True, append_images=[photo(8, 16, "L")])


def _palette_png() -> bytes:
    image = photo(16, 16).convert("P")
    return encode(image, "PNG", transparency=0)


# suffix -> seed files (the GIF is named .jpg: Vitrina sniffs it, Pillow still parses it)
SEEDS: dict[str, list[bytes]] = {
    ".jpg": [
        (DATA / "shirt.jpg").read_bytes(),
        _rotated_jpeg(),
        encode(photo(32, 32), "JPEG", progressive=True),
        encode(photo(24, 24, "CMYK"), "JPEG"),
    ],
    ".png": [encode(photo(24, 16, "RGBA"), "PNG"), _palette_png(), rgb48_png(12, 8)],
    ".webp": [encode(photo(24, 16), "WEBP", quality=50), _animated_webp()],
    ".tif": [encode(photo(16, 16), "TIFF", compression="tiff_lzw"), _two_page_tiff()],
    ".bmp": [encode(photo(12, 10), "BMP"), encode(photo(12, 10, "P"), "BMP")],
    ".gif": [encode(photo(16, 16), "GIF")],
}
ALL_SEEDS = [seed for seeds in SEEDS.values() for seed in seeds]

offsets = st.integers(min_value=0, max_value=1 << 20)
mutations = st.one_of(
    st.tuples(st.just("flip"), offsets, st.integers(0, 7)),
    st.tuples(st.just("cut"), offsets),
    st.tuples(st.just("write"), offsets, st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("splice"), offsets, offsets, st.integers(1, 256), st.integers(0, 10**6)),
    st.tuples(st.just("delete"), offsets, st.integers(1, 64)),
)


def mutate(data: bytes, steps: list[tuple]) -> bytes:
    """Apply bit flips, truncations, overwrites, deletions and splices from other seeds."""
    buffer = bytearray(data)
    for step in steps:
        if not buffer:
            break
        at = step[1] % len(buffer)
        if step[0] == "flip":
            buffer[at] ^= 1 << step[2]
        elif step[0] == "cut":
            del buffer[max(at, 1) :]
        elif step[0] == "write":
            buffer[at : at + len(step[2])] = step[2]
        elif step[0] == "delete":
            del buffer[at : at + step[2]]
        else:
            donor = ALL_SEEDS[step[4] % len(ALL_SEEDS)]
            start = step[2] % len(donor)
            buffer[at:at] = donor[start : start + step[3]]
    return bytes(buffer)


def check_decodes_or_refuses(path: Path) -> None:
    started = time.monotonic()
    try:
        decoded = open_photo(path, min_size=32)
    except DecodeError:
        pass
    else:
        assert decoded.image.mode == "RGB"
        assert decoded.width > 0 and decoded.height > 0
        pixels = preprocess(decoded.image, PRE)
        assert pixels.shape == (3, 32, 32) and np.isfinite(pixels).all()
    assert time.monotonic() - started < SLOW_S


@pytest.mark.parametrize("suffix", list(SEEDS))
def test_mutated_files(suffix: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp(f"fuzz{suffix[1:]}")
    target = folder / f"fuzzed{'.jpg' if suffix == '.gif' else suffix}"

    @FUZZ
    @given(seed=st.sampled_from(SEEDS[suffix]), steps=st.lists(mutations, min_size=1, max_size=5))
    def run(seed: bytes, steps: list[tuple]) -> None:
        target.write_bytes(mutate(seed, steps))
        check_decodes_or_refuses(target)

    run()


def test_seeds_decode() -> None:
    """The unmutated seeds are good photos (GIF aside), so the fuzzing starts from valid files."""
    for suffix, seeds in SEEDS.items():
        for seed in seeds:
            with Image.open(io.BytesIO(seed)) as image:
                image.load()
            assert suffix == ".gif" or image.format != "GIF"
