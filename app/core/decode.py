"""THE place a photo is decoded and turned into a network input.

Training and the app both call :func:`open_photo` and :func:`preprocess`, so the pixels a
model was trained on are the pixels it sees in the app.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from app.core.errors import DecodeError, UnsupportedFormatError

if TYPE_CHECKING:
    from app.core.bundle import Preprocessing

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
)
# MPO is what Pillow calls a JPEG carrying extra (e.g. depth) pictures, as phones write.
SUPPORTED_FORMATS: frozenset[str] = frozenset({"JPEG", "MPO", "PNG", "WEBP", "BMP", "TIFF"})
CONVERT_HINT = "Convert it to JPEG or PNG to import it."
SNIFF_BYTES = 1024
WHITE = (255, 255, 255)
RESAMPLE = Image.Resampling.BILINEAR

# Bytes of file and pixels that decoding threads may hold at once (several threads each
# decoding a 9,400 x 9,400 16-bit PNG took 5 GB); a photo larger than this decodes alone.
DECODE_BUDGET_BYTES = 1 << 30
# A photo file larger than this is refused: it is read into memory whole (hashed and
# decoded from the same bytes), and no product photo comes near it.
MAX_FILE_BYTES = 512 << 20

_IMAGE_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG", b"BM", b"II*\x00", b"MM\x00*", b"GIF8")
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1"}
_AVIF_BRANDS = {b"avif", b"avis"}


@dataclass(frozen=True)
class DecodedPhoto:
    image: Image.Image  # RGB, EXIF-transposed, drafted down to no less than min_size
    width: int  # original pixel size, after EXIF transpose
    height: int
    format: str


def _sniff(head: bytes) -> str | None:
    """Name a non-photo format that often hides behind a photo's suffix, or None."""
    if head.startswith(_IMAGE_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return None
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _AVIF_BRANDS:
            return "an AVIF image"
        if brand in _HEIF_BRANDS or brand.startswith(b"he"):
            return "a HEIC/HEIF photo (the iPhone format)"
        return "a video or ISO media file"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if b"<svg" in text[:SNIFF_BYTES] and text.startswith(
        (b"<svg", b"<?xml", b"<!--", b"<!doctype svg")
    ):
        return "an SVG drawing"
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "an HTML page (perhaps a saved web page, not the photo itself)"
    if b"\x00" not in head:
        try:  # incremental: a character cut at the end of the sniffed bytes is fine
            codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        except UnicodeDecodeError:
            return None
        return "a text file"
    return None


@dataclass(frozen=True)
class PhotoFile:
    """A photo file's bytes as read once, and their SHA-256: the catalog's duplicate key
    and the decoded pixels come from the same bytes even if the file changes meanwhile."""

    path: Path
    data: bytes
    sha256: str


def read_photo(path: Path | str) -> PhotoFile:
    """Read a photo file whole, refusing non-photos by their first bytes.

    Raises DecodeError (UnsupportedFormatError for non-photos) naming the file."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
            _check_signature(path, head)
            size = os.fstat(handle.fileno()).st_size
            if size > MAX_FILE_BYTES:
                raise DecodeError(
                    f"{path}: the file is {size / 2**20:,.0f} MB, larger than any photo "
                    f"Vitrina imports ({MAX_FILE_BYTES >> 20} MB). Save it smaller first."
                )
            data = head + handle.read()
    except FileNotFoundError:
        raise DecodeError(f"{path}: the file does not exist. Check the path.") from None
    except IsADirectoryError:
        raise DecodeError(f"{path}: is a folder, not a photo. Pass the photo files.") from None
    except OSError as exc:
        raise DecodeError(
            f"{path}: cannot be read ({exc.strerror or exc}). Check its permissions."
        ) from None
    return PhotoFile(path, data, hashlib.sha256(data).hexdigest())


def _check_signature(path: Path, head: bytes) -> None:
    if not head:
        raise DecodeError(f"{path}: the file is empty (0 bytes). Copy the photo again.")
    disguised = _sniff(head)
    if disguised:
        raise UnsupportedFormatError(
            f"{path}: is {disguised}, not a photo Vitrina reads. {CONVERT_HINT}"
        )
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise UnsupportedFormatError(
            f"{path}: {path.suffix or 'no suffix'} is not a photo type Vitrina reads "
            f"(it reads {', '.join(sorted(SUPPORTED_SUFFIXES))}). {CONVERT_HINT}"
        )


class _Budget:
    """Bytes that decoding threads hold at once; a request larger than the whole budget
    waits until it can run alone."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._free = threading.Condition()

    @contextmanager
    def hold(self, amount: int) -> Iterator[None]:
        amount = min(amount, self.limit)
        with self._free:
            self._free.wait_for(lambda: self.used + amount <= self.limit)
            self.used += amount
        try:
            yield
        finally:
            with self._free:
                self.used -= amount
                self._free.notify_all()


_BUDGET = _Budget(DECODE_BUDGET_BYTES)


def _flatten_alpha(image: Image.Image) -> Image.Image:
    """Composite onto white: product photos with transparency are shown on white."""
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, WHITE)
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _high_depth_to_l(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit and float greyscale scaled into 8 bits instead of clipped (in float32,
    in place: a float64 copy of a 9,400 x 9,400 photo alone is 700 MB)."""
    values = np.asarray(image).astype(np.float32)
    if image.mode == "F":
        top = 1.0 if values.size and values.max() <= 1.0 else 255.0
    elif image.mode.startswith("I;16") or (values.size and values.max() > 255):
        top = 65535.0
    else:
        top = 255.0
    values *= 255.0 / top
    np.rint(values, out=values)
    np.clip(values, 0, 255, out=values)
    return Image.fromarray(values.astype(np.uint8), mode="L")


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode as 8-bit RGB; transparency composited onto white."""
    mode = image.mode
    if mode == "RGB" and "transparency" not in image.info:
        return image
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        return _flatten_alpha(image)
    if mode in ("I", "F") or mode.startswith("I;16"):
        return _high_depth_to_l(image).convert("RGB")
    return image.convert("RGB")


def _pixel_bytes(img: Image.Image) -> int:
    """What holding the loaded photo and its RGB copy costs, from the header alone."""
    bits = {"1": 1, "L": 8, "P": 8, "I;16": 16, "I;16B": 16, "I;16L": 16, "I": 32, "F": 32}
    per_pixel = bits.get(img.mode, 8 * len(img.getbands())) / 8
    return int(img.size[0] * img.size[1] * (per_pixel + 3 + 4))  # + RGB + float32 scratch


def _reduced(image: Image.Image, min_size: int) -> Image.Image:
    """Shrink by a whole factor while both sides stay >= ``min_size``, as a JPEG draft does:
    the network needs a few hundred pixels, and a batch of full-size PNGs would not fit."""
    factor = min(image.size) // min_size if min_size > 0 else 1
    return image.reduce(factor) if factor >= 2 else image


def _decode(path: Path, data: bytes, min_size: int) -> DecodedPhoto:
    with Image.open(io.BytesIO(data)) as img:
        if img.format not in SUPPORTED_FORMATS:
            raise UnsupportedFormatError(
                f"{path}: is a {img.format} image, which Vitrina does not import. {CONVERT_HINT}"
            )
        width, height = img.size
        if Image.MAX_IMAGE_PIXELS and width * height > Image.MAX_IMAGE_PIXELS:
            # The warnings filter in open_photo is process-wide, so a thread decoding
            # beside another may miss it; this check holds in every thread.
            raise Image.DecompressionBombError(f"{width * height} pixels")
        if img.getexif().get(0x0112, 1) in (5, 6, 7, 8):
            width, height = height, width
        if min_size > 0 and img.format in ("JPEG", "MPO"):
            img.draft("RGB", (min_size, min_size))
        with _BUDGET.hold(_pixel_bytes(img)):
            img.load()
            upright = ImageOps.exif_transpose(img)
            rgb = _reduced(to_rgb(upright), min_size)
            rgb.load()
        return DecodedPhoto(rgb, width, height, img.format)


def open_photo(path: Path | str, min_size: int = 0) -> DecodedPhoto:
    """Read and decode a photo as upright RGB, reduced while both sides stay >= ``min_size``.

    Raises DecodeError (UnsupportedFormatError for non-photos) with a message naming the file.
    """
    return decode_photo(read_photo(path), min_size)


def decode_photo(photo: PhotoFile, min_size: int = 0) -> DecodedPhoto:
    """Decode the bytes :func:`read_photo` read (see :func:`open_photo`)."""
    path = photo.path
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Pillow's notes on damaged metadata
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return _decode(path, photo.data, min_size)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise DecodeError(
                f"{path}: the image is too large to decode safely (over "
                f"{Image.MAX_IMAGE_PIXELS:,} pixels). Scale it down before importing."
            ) from None
        except UnidentifiedImageError:
            raise DecodeError(
                f"{path}: is not a readable JPEG, PNG, WebP, BMP or TIFF image; it is damaged "
                f"or in another format. {CONVERT_HINT}"
            ) from None
        except DecodeError:
            raise
        except (OSError, ValueError, SyntaxError, EOFError, IndexError) as exc:
            raise DecodeError(
                f"{path}: the image data is damaged or truncated ({exc}). "
                "Copy the photo again from its source."
            ) from None


def preprocess(image: Image.Image, pre: Preprocessing) -> np.ndarray:
    """Resize per ``pre.resize``, scale to value/255, apply mean/std; (C,H,W) or (H,W,C) float32."""
    image = to_rgb(image)
    height, width = pre.size
    if pre.resize == "center_crop":
        image = ImageOps.fit(image, (width, height), method=RESAMPLE)
    elif pre.resize == "letterbox":
        image = ImageOps.pad(image, (width, height), method=RESAMPLE, color=pre.fill)
    else:
        image = image.resize((width, height), RESAMPLE)
    pixels = np.asarray(image, dtype=np.float32) / np.float32(255.0)
    pixels = (pixels - np.asarray(pre.mean, np.float32)) / np.asarray(pre.std, np.float32)
    if pre.layout == "NCHW":
        pixels = pixels.transpose(2, 0, 1)
    return np.ascontiguousarray(pixels, dtype=np.float32)


def content_hash(path: Path | str) -> str:
    """SHA-256 hex digest of the file's bytes, read in blocks (duplicates are found by it)."""
    digest = hashlib.sha256()
    try:
        with Path(path).open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise DecodeError(
            f"{path}: cannot be read ({exc.strerror or exc}). Check that it exists and is readable."
        ) from None
    return digest.hexdigest()
