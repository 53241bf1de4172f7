"""A folder of bad and odd files, each with what importing it should do.

``make_hostile_corpus(folder)`` writes the files and returns ``{relative name: Expected}``.
Everything is generated in a few hundred milliseconds: bombs are small files whose
headers lie about their size, HEIC is a fake ``ftyp`` box, and so on.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

ORIENTATION = 0x0112
IMAGE_DESCRIPTION = 0x010E


@dataclass(frozen=True)
class Expected:
    """``status`` is "imported", "failed" or "duplicate"; ``reason`` is a substring
    (compared case-insensitively) of the failure message."""

    status: str
    reason: str = ""


IMPORTED = Expected("imported")
DUPLICATE = Expected("duplicate")


def failed(reason: str) -> Expected:
    return Expected("failed", reason)


# --- encoders for what Pillow will not write ----------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_bytes(
    width: int, height: int, colour_type: int, depth: int, rows: bytes, extra: bytes = b""
) -> bytes:
    """A PNG by hand: ``rows`` is the unfiltered scanlines (filter bytes are added)."""
    stride = len(rows) // height if height else 0
    raw = b"".join(b"\x00" + rows[i * stride : (i + 1) * stride] for i in range(height))
    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + extra
        + _chunk(b"IDAT", zlib.compress(raw))
        + _chunk(b"IEND", b"")
    )


def rgb48_png(width: int = 24, height: int = 16) -> bytes:
    """A 16-bit-per-channel RGB PNG (Pillow reads these but cannot write them)."""
    ramp = np.linspace(0, 65535, width * height * 3).astype(">u2")
    return png_bytes(width, height, 2, 16, ramp.tobytes())


def png_claiming(width: int, height: int) -> bytes:
    """A valid-looking PNG header for a huge picture, with a few bytes of pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", data)
        + _chunk(b"IEND", b"")
    )


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose SOF0 header is patched to claim ``width`` x ``height``."""
    data = bytearray(encode(photo(16, 16), "JPEG", quality=80))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def ztxt_bomb_png() -> bytes:
    """A PNG whose compressed text chunk inflates to 64 MB (Pillow refuses over its limit)."""
    text = b"Comment\x00\x00" + zlib.compress(b"\x00" * (64 << 20), 9)
    return png_bytes(4, 4, 2, 8, bytes(4 * 4 * 3), extra=_chunk(b"zTXt", text))


def bad_crc_png() -> bytes:
    data = bytearray(encode(photo(8, 8), "PNG"))
    data[29] ^= 0xFF  # last byte of the IHDR chunk's CRC
    return bytes(data)


# --- ordinary pictures ----------------------------------------------------------------


def photo(width: int = 64, height: int = 48, mode: str = "RGB") -> Image.Image:
    """A two-tone picture (left red, right blue), converted to ``mode``."""
    image = Image.new("RGB", (width, height), (220, 30, 30))
    image.paste((30, 30, 220), (width // 2, 0, width, height))
    return image.convert(mode) if mode != "RGB" else image


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def _exif_jpeg(**tags: object) -> bytes:
    image = photo(80, 40)
    exif = image.getexif()
    for tag, value in tags.items():
        exif[int(tag.removeprefix("t"))] = value
    return encode(image, "JPEG", exif=exif, quality=85)


def _animated(fmt: str, **params: object) -> bytes:
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, **params)


def _palette_transparent() -> bytes:
    image = photo(16, 16).convert("P")
    image.info["transparency"] = 0
    return encode(image, "PNG", transparency=0)


def _multipage_tiff() -> bytes:
    pages = [photo(20, 20), photo(30, 10), photo(10, 30)]
    return encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])


def _garbage_exif_jpeg() -> bytes:
    """A JPEG with an APP1 'Exif' segment holding random bytes."""
    data = encode(photo(16, 16), "JPEG")
    junk = b"Exif\x00\x00" + np.random.default_rng(5).integers(0, 256, 200, np.uint8).tobytes()
    segment = b"\xff\xe1" + struct.pack(">H", len(junk) + 2) + junk
    return data[:2] + segment + data[2:]


# Files written with bytes: name -> (bytes factory, expectation).
FILES: dict[str, tuple[Callable[[], bytes], Expected]] = {
    # ordinary photos, some in odd modes
    "plain.jpg": (lambda: encode(photo(), "JPEG"), IMPORTED),
    "plain UPPER.JPG": (lambda: encode(photo(60, 40), "JPEG"), IMPORTED),
    "progressive.jpeg": (lambda: encode(photo(70), "JPEG", progressive=True), IMPORTED),
    "cmyk.jpg": (lambda: encode(photo(mode="CMYK"), "JPEG"), IMPORTED),
    "grey.jpg": (lambda: encode(photo(mode="L"), "JPEG"), IMPORTED),
    "grey.png": (lambda: encode(photo(mode="L"), "PNG"), IMPORTED),
    "grey-alpha.png": (lambda: encode(photo(mode="LA"), "PNG"), IMPORTED),
    "bilevel.png": (lambda: encode(photo(mode="1"), "PNG"), IMPORTED),
    "rgba.png": (lambda: encode(photo(mode="RGBA"), "PNG"), IMPORTED),
    "palette-transparent.png": (_palette_transparent, IMPORTED),
    "sixteen-bit-grey.png": (
        lambda: encode(Image.fromarray(np.arange(0, 65535, 64, np.uint16).reshape(32, 32)), "PNG"),
        IMPORTED,
    ),
    "rgb48.png": (rgb48_png, IMPORTED),
    "float.tif": (lambda: encode(Image.new("F", (16, 16), 0.5), "TIFF"), IMPORTED),
    "cmyk.tif": (lambda: encode(photo(mode="CMYK"), "TIFF"), IMPORTED),
    "lzw.tiff": (lambda: encode(photo(), "TIFF", compression="tiff_lzw"), IMPORTED),
    "multipage.tif": (_multipage_tiff, IMPORTED),
    "plain.bmp": (lambda: encode(photo(33, 17), "BMP"), IMPORTED),
    "lossless.webp": (lambda: encode(photo(mode="RGBA"), "WEBP", lossless=True), IMPORTED),
    "lossy.webp": (lambda: encode(photo(50, 50), "WEBP", quality=60), IMPORTED),
    "animated.webp": (lambda: _animated("WEBP", lossless=True), IMPORTED),
    "one-pixel.png": (lambda: encode(Image.new("RGB", (1, 1), (9, 9, 9)), "PNG"), IMPORTED),
    "wide-20000x50.png": (lambda: encode(photo(20000, 50), "PNG"), IMPORTED),
    "tall-50x20000.jpg": (lambda: encode(photo(50, 20000), "JPEG"), IMPORTED),
    "exif-rotated-6.jpg": (lambda: _exif_jpeg(t274=6), IMPORTED),
    "exif-orientation-9.jpg": (lambda: _exif_jpeg(t274=9), IMPORTED),
    "exif-orientation-0.jpg": (lambda: _exif_jpeg(t274=0), IMPORTED),
    "exif-huge-60k.jpg": (lambda: _exif_jpeg(t270="x" * 60_000, t274=3), IMPORTED),
    "exif-garbage.jpg": (_garbage_exif_jpeg, IMPORTED),
    "png-named.jpg": (lambda: encode(photo(40, 40), "PNG"), IMPORTED),
    "jpeg-named.png": (lambda: encode(photo(41, 40), "JPEG"), IMPORTED),
    "trailing-garbage.jpg": (lambda: encode(photo(42, 40), "JPEG") + b"\x00junk" * 100, IMPORTED),
    # names
    "with spaces in name.jpg": (lambda: encode(photo(43, 40), "JPEG"), IMPORTED),
    "кириллица.jpg": (lambda: encode(photo(44, 40), "JPEG"), IMPORTED),
    "中文照片.png": (lambda: encode(photo(45, 40), "PNG"), IMPORTED),
    "emoji 📷👗.jpg": (lambda: encode(photo(46, 40), "JPEG"), IMPORTED),
    "-starts-with-dash.jpg": (lambda: encode(photo(47, 40), "JPEG"), IMPORTED),
    'quote\'s "and" %s $HOME.jpg': (lambda: encode(photo(48, 40), "JPEG"), IMPORTED),
    "new\nline.jpg": (lambda: encode(photo(49, 40), "JPEG"), IMPORTED),
    "e\u0301-decomposed.jpg": (lambda: encode(photo(51, 40), "JPEG"), IMPORTED),
    "l" * 240 + ".jpg": (lambda: encode(photo(52, 40), "JPEG"), IMPORTED),
    "folder.jpg/inside.jpg": (lambda: encode(photo(53, 40), "JPEG"), IMPORTED),
    "deep/a/b/c/d/e/f/deep.png": (lambda: encode(photo(54, 40), "PNG"), IMPORTED),
    "dup-a.jpg": (lambda: encode(photo(55, 40), "JPEG"), IMPORTED),
    "dup-b.jpg": (lambda: encode(photo(55, 40), "JPEG"), DUPLICATE),
    # damaged
    "zero.jpg": (lambda: b"", failed("empty")),
    "zero.png": (lambda: b"", failed("empty")),
    "truncated-half.jpg": (lambda: encode(photo(200, 200), "JPEG")[:1500], failed("damaged")),
    "truncated-header.jpg": (lambda: encode(photo(), "JPEG")[:40], failed("damaged")),
    "truncated.png": (lambda: encode(photo(200, 200), "PNG")[:300], failed("damaged")),
    "truncated-signature.png": (lambda: b"\x89PNG\r\n", failed("damaged")),
    "bad-crc.png": (bad_crc_png, failed("damaged")),
    "ztxt-bomb.png": (ztxt_bomb_png, failed("damaged")),
    "noise.jpg": (
        lambda: np.random.default_rng(1).integers(0, 256, 3000, np.uint8).tobytes(),
        failed("damaged"),
    ),
    "bomb-30000.png": (lambda: png_claiming(30000, 30000), failed("too large")),
    "bomb-30000.jpg": (lambda: jpeg_claiming(30000, 30000), failed("too large")),
    "bomb-10000.png": (lambda: png_claiming(10000, 10000), failed("too large")),
    # not photos, or not a photo type Vitrina reads
    "page.jpg": (lambda: b"<!DOCTYPE html>\n<html><body>Not found</body></html>", failed("HTML")),
    "notes.jpg": (lambda: "price list: 12 €\n".encode(), failed("text")),
    "drawing.svg": (lambda: b'<svg xmlns="http://www.w3.org/2000/svg"/>', failed("svg")),
    "drawing.jpg": (lambda: b'<?xml version="1.0"?>\n<svg width="2"/>', failed("svg")),
    "iphone.heic": (lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", failed("heic")),
    "iphone.jpg": (lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", failed("heic")),
    "modern.avif": (lambda: encode(photo(16, 16), "AVIF"), failed("avif")),
    "modern.jpg": (lambda: encode(photo(16, 16), "AVIF"), failed("avif")),
    "spec.pdf": (lambda: b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n", failed("pdf")),
    "scan.jpg": (lambda: b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", failed("pdf")),
    "animated.gif": (lambda: _animated("GIF", loop=0), failed("gif")),
    "gif-named.jpg": (lambda: encode(photo(16, 16), "GIF"), failed("gif")),
    "jpeg2000.jp2": (lambda: encode(photo(16, 16), "JPEG2000"), failed("jp2")),
    "jpeg2000.jpg": (lambda: encode(photo(16, 16), "JPEG2000"), failed("JPEG2000")),
}


def _write_special(folder: Path, expected: dict[str, Expected]) -> None:
    """Links, loops, a FIFO, unreadable files and names that are not valid UTF-8."""
    hidden = folder / ".targets"
    hidden.mkdir()
    (hidden / "real.jpg").write_bytes(encode(photo(56, 40), "JPEG"))
    os.symlink(hidden / "real.jpg", folder / "link-to-photo.jpg")
    expected["link-to-photo.jpg"] = IMPORTED
    os.symlink(folder / "nowhere.jpg", folder / "broken-link.jpg")
    expected["broken-link.jpg"] = failed("broken symbolic link")
    os.symlink("loop-b.jpg", folder / "loop-a.jpg")
    os.symlink("loop-a.jpg", folder / "loop-b.jpg")
    expected["loop-a.jpg"] = failed("loop")
    expected["loop-b.jpg"] = failed("loop")
    (folder / "dirloop").mkdir()
    os.symlink("..", folder / "dirloop" / "up")
    expected["dirloop/up"] = failed("links back to a folder")
    os.mkfifo(folder / "fifo.jpg")
    expected["fifo.jpg"] = failed("not a regular file")

    locked = folder / "no-permission.jpg"
    locked.write_bytes(encode(photo(57, 40), "JPEG"))
    locked.chmod(0)
    locked_dir = folder / "locked-folder"
    locked_dir.mkdir()
    (locked_dir / "inside-locked.jpg").write_bytes(encode(photo(58, 40), "JPEG"))
    locked_dir.chmod(0)
    if os.access(locked, os.R_OK):  # root reads anything: then these are ordinary photos
        expected["no-permission.jpg"] = IMPORTED
        expected["locked-folder/inside-locked.jpg"] = IMPORTED
    else:
        expected["no-permission.jpg"] = failed("permission denied")
        expected["locked-folder"] = failed("permission denied")

    latin1 = os.fsencode(folder) + b"/caf\xe9-latin1.jpg"
    with open(latin1, "wb") as handle:
        handle.write(encode(photo(59, 40), "JPEG"))
    expected[os.fsdecode(b"caf\xe9-latin1.jpg")] = failed("not valid UTF-8")


def make_hostile_corpus(folder: Path | str) -> dict[str, Expected]:
    """Fill ``folder`` with the corpus; keys are paths relative to it ('/'-separated)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    expected: dict[str, Expected] = {}
    for name, (make, outcome) in FILES.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(make())
        expected[name] = outcome
    _write_special(folder, expected)
    return expected


def unlock(folder: Path | str) -> None:
    """Give back read permission to what the corpus locked, so the folder can be removed."""
    for path in Path(folder).rglob("*"):
        if not path.is_symlink() and not stat.S_IMODE(path.lstat().st_mode):
            path.chmod(0o755 if path.is_dir() else 0o644)
