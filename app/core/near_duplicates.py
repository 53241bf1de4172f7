"""THE place a near-duplicate is decided: the same product shot twice, or one file re-exported.

A 256-bit difference hash of the decoded photo (the pixels the importer already has, so no
second decode), taken after trimming a plain background border, so that a crop which only
cuts background keeps the hash. Two photos are near-duplicates when their hashes differ in
at most NEAR_THRESHOLD bits. Hash, trim and threshold were chosen on the precision/recall
curves of ``python -m bench.near_duplicates`` (docs/near-duplicates.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

HASH_SIDE = 16
HASH_MIN_SIDE = 128  # photos are decoded at least this large (bundles need 260) to be hashed
HASH_BYTES = HASH_SIDE * HASH_SIDE // 8
NEAR_THRESHOLD = 24  # bits of 256; docs/near-duplicates.md has the curve it was chosen on
TRIM_TOLERANCE = 40  # levels a background pixel may differ from the background's colour
TRIM_PLAIN_SHARE = 0.85  # border pixels that must be background for the photo to be trimmed
TRIM_LINE_SHARE = 0.02  # share of a row or column that must differ for it to be content
TRIM_MIN_AREA = 0.1  # a "content box" smaller than this share of the photo is not trimmed to


def _plain_background(rgb: np.ndarray) -> np.ndarray | None:
    """The colour of a plain border (most border pixels within TRIM_TOLERANCE of their
    median colour): a studio background; None for a photo whose edges show a scene."""
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]]).astype(np.int16)
    colour = np.median(border, axis=0)
    close = np.abs(border - colour).max(axis=1) <= TRIM_TOLERANCE
    return colour if close.mean() >= TRIM_PLAIN_SHARE else None


def trimmed(image: Image.Image) -> Image.Image:
    """The photo without its plain studio border (white, grey, any one colour), so that a
    crop that only cuts background keeps the hash; unchanged when the edges show a scene
    or the content box is tiny."""
    rgb = image.convert("RGB")
    pixels = np.asarray(rgb)
    colour = _plain_background(pixels)
    if colour is None:
        return rgb
    content = np.abs(pixels.astype(np.int16) - colour).max(axis=2) > TRIM_TOLERANCE
    # A row or column is the product's when enough of it differs from the background:
    # noise, wrinkles and dust in a studio background are left out of the box.
    rows = np.flatnonzero(content.mean(axis=1) > TRIM_LINE_SHARE)
    cols = np.flatnonzero(content.mean(axis=0) > TRIM_LINE_SHARE)
    if not len(rows) or not len(cols):
        return rgb
    box = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
    if (box[2] - box[0]) * (box[3] - box[1]) < TRIM_MIN_AREA * rgb.width * rgb.height:
        return rgb
    return rgb.crop(box)


def perceptual_hash(image: Image.Image) -> bytes:
    """256 bits: in a 17x16 grey thumbnail of the trimmed photo, is each pixel brighter
    than its left neighbour."""
    grey = ImageOps.grayscale(trimmed(image)).resize(
        (HASH_SIDE + 1, HASH_SIDE), Image.Resampling.LANCZOS, reducing_gap=2.0
    )
    pixels = np.asarray(grey, dtype=np.int16)
    return np.packbits(pixels[:, 1:] > pixels[:, :-1]).tobytes()


def bit_counts(words: np.ndarray) -> np.ndarray:
    """Set bits of each uint64, by the SWAR method: plain arithmetic on whole arrays, so
    100,000 hashes are counted in a few milliseconds whatever the numpy version."""
    x = words - ((words >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (x * np.uint64(0x0101010101010101)) >> np.uint64(56)


def hamming(a: bytes, b: bytes) -> int:
    """How many bits differ between two hashes."""
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


@dataclass(frozen=True)
class Match:
    """The photo (by content hash) a new one looks like, and how many bits apart."""

    sha256: str
    distance: int


class HashIndex:
    """Every known photo's hash in one array, so a new photo is compared with all of them at
    once (100,000 photos: a few milliseconds); a photo added joins it."""

    def __init__(self, items: Iterable[tuple[str, bytes]] = ()) -> None:
        pairs = [(sha, value) for sha, value in items if len(value) == HASH_BYTES]
        self._shas = [sha for sha, _ in pairs]
        data = b"".join(value for _, value in pairs)
        self._hashes = np.frombuffer(data, dtype=np.uint64).reshape(-1, HASH_BYTES // 8).copy()

    def __len__(self) -> int:
        return len(self._shas)

    def closest(self, value: bytes, threshold: int = NEAR_THRESHOLD) -> Match | None:
        """The nearest photo within ``threshold`` bits (the earliest added on a tie), or None."""
        if not self._shas or len(value) != HASH_BYTES:
            return None
        query = np.frombuffer(value, dtype=np.uint64)
        distances = bit_counts(np.bitwise_xor(self._hashes, query)).sum(axis=1)
        best = int(np.argmin(distances))
        if distances[best] > threshold:
            return None
        return Match(self._shas[best], int(distances[best]))

    def extend(self, items: Iterable[tuple[str, bytes]]) -> None:
        """Add photos (content hash, perceptual hash): a batch at a time, one copy."""
        more = HashIndex(items)
        self._shas += more._shas
        self._hashes = np.concatenate([self._hashes, more._hashes])
