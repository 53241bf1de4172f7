"""Near-duplicates: the hash survives re-exports, flags are written at import with the photo,
and the staff can group flagged photos into one product or dismiss the flag."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from cli_fixtures import Run
from PIL import Image, ImageOps
from sqlalchemy import update

from app import cli
from app.core.catalog import PhotoFilter
from app.core.catalog.models import Photo
from app.core.context import AppContext
from app.core.decode import open_photo
from app.core.importer import import_paths, retag_photos
from app.core.near_duplicates import (
    HASH_BYTES,
    NEAR_THRESHOLD,
    HashIndex,
    hamming,
    perceptual_hash,
    trimmed,
)

DATA = Path(__file__).parent / "data"


def _photo(name: str) -> Image.Image:
    with Image.open(DATA / name) as image:
        return ImageOps.exif_transpose(image).convert("RGB")


def _reencoded(image: Image.Image, quality: int, scale: float = 1.0) -> Image.Image:
    size = (round(image.width * scale), round(image.height * scale))
    out = io.BytesIO()
    image.resize(size, Image.Resampling.LANCZOS).save(out, "JPEG", quality=quality)
    return Image.open(io.BytesIO(out.getvalue())).convert("RGB")


def test_the_hash_survives_re_encoding_and_resizing_but_tells_products_apart() -> None:
    dress = _photo("dress.jpg")
    value = perceptual_hash(dress)
    assert len(value) == HASH_BYTES
    assert hamming(value, perceptual_hash(_reencoded(dress, 60))) <= NEAR_THRESHOLD
    assert hamming(value, perceptual_hash(_reencoded(dress, 85, scale=0.5))) <= NEAR_THRESHOLD
    for other in ("skirt.jpg", "shirt.jpg", "hat.jpg"):
        assert hamming(value, perceptual_hash(_photo(other))) > NEAR_THRESHOLD


def test_a_plain_background_border_is_trimmed_so_a_crop_of_background_keeps_the_hash() -> None:
    product = Image.new("RGB", (120, 160), (200, 30, 40))
    product.paste((20, 20, 120), (20, 40, 100, 120))
    framed = Image.new("RGB", (300, 300), "white")
    framed.paste(product, (90, 70))
    cropped = framed.crop((40, 30, 280, 290))  # only white background goes
    assert trimmed(framed).size == trimmed(cropped).size == (120, 160)
    assert hamming(perceptual_hash(framed), perceptual_hash(cropped)) == 0
    plain = Image.new("RGB", (50, 50), "white")
    assert trimmed(plain).size == (50, 50)  # nothing to trim to


def test_the_hash_index_finds_the_nearest_within_the_threshold_and_grows() -> None:
    a, b = os.urandom(HASH_BYTES), os.urandom(HASH_BYTES)
    near_a = bytes([a[0] ^ 0b1011, *a[1:]])
    index = HashIndex([("sha-a", a), ("bad", b"short")])
    assert len(index) == 1  # a value of the wrong size is left out
    assert index.closest(near_a) is not None
    assert index.closest(near_a).sha256 == "sha-a" and index.closest(near_a).distance == 3
    assert index.closest(b) is None
    index.extend([("sha-b", b)])
    assert index.closest(b).sha256 == "sha-b" and len(index) == 2
    assert HashIndex().closest(a) is None


def _copy(photos_dir: Path, name: str, target: str, quality: int) -> Path:
    out = photos_dir / target
    _reencoded(_photo(name), quality, scale=0.7).save(out, "JPEG", quality=quality)
    return out


def test_import_flags_a_re_exported_photo_as_a_possible_duplicate(
    ctx: AppContext, photos_dir: Path, tmp_path: Path
) -> None:
    first = import_paths([photos_dir], ctx)
    ids = {Path(ctx.catalog.get_photo(i).path).name: i for i in first.added}
    assert first.near_duplicates == []  # eight different products
    later = tmp_path / "later"
    later.mkdir()
    copy = _copy(later, "dress.jpg", "dress-web.jpg", 70)
    report = import_paths([later], ctx)
    assert len(report.added) == 1 and not report.duplicates  # other bytes: not a duplicate
    [match] = report.near_duplicates
    assert match.path == copy and match.original_id == ids["dress.jpg"]
    assert match.photo_id == report.added[0] and match.distance <= NEAR_THRESHOLD
    [flag] = ctx.catalog.near_duplicates()
    assert (flag.photo_id, flag.original_id, flag.status) == (
        match.photo_id,
        ids["dress.jpg"],
        "open",
    )
    assert ctx.catalog.near_duplicate_marks([match.photo_id, ids["dress.jpg"]]) == {
        match.photo_id: ids["dress.jpg"]
    }
    both = ctx.catalog.photo_ids(PhotoFilter(near_duplicates=True))
    assert both == sorted([match.photo_id, ids["dress.jpg"]])


def test_two_look_alikes_in_one_import_flag_the_later_one(
    ctx: AppContext, photos_dir: Path, tmp_path: Path
) -> None:
    shoot = tmp_path / "shoot"
    shoot.mkdir()
    (shoot / "a.jpg").write_bytes((photos_dir / "skirt.jpg").read_bytes())
    _copy(shoot, "skirt.jpg", "b.jpg", 60)
    report = import_paths([shoot], ctx)
    [match] = report.near_duplicates
    assert match.path.name == "b.jpg" and match.original.endswith("a.jpg")


def test_group_and_dismiss_close_the_flag_and_ungroup_ends_a_lone_product(
    ctx: AppContext, photos_dir: Path, tmp_path: Path
) -> None:
    first = import_paths([photos_dir], ctx)
    later = tmp_path / "later"
    later.mkdir()
    _copy(later, "dress.jpg", "dress-2.jpg", 70)
    _copy(later, "hat.jpg", "hat-2.jpg", 70)
    report = import_paths([later], ctx)
    flags = {m.path.name: m for m in report.near_duplicates}
    dress, hat = flags["dress-2.jpg"], flags["hat-2.jpg"]
    key = ctx.catalog.group_photos([dress.photo_id, dress.original_id])
    assert key == min(dress.photo_id, dress.original_id)
    assert ctx.catalog.get_photo(dress.photo_id).product == key
    assert ctx.catalog.product_members([dress.photo_id]) == {
        key: sorted([dress.photo_id, dress.original_id])
    }
    assert ctx.catalog.dismiss_near_duplicates([hat.photo_id]) == 1
    statuses = {f.photo_id: f.status for f in ctx.catalog.near_duplicates(status=None)}
    assert statuses == {dress.photo_id: "grouped", hat.photo_id: "dismissed"}
    assert ctx.catalog.near_duplicates() == []
    assert ctx.catalog.photo_ids(PhotoFilter(near_duplicates=True)) == []
    third = next(i for i in first.added if i not in (dress.original_id, hat.original_id))
    assert ctx.catalog.group_photos([third, dress.photo_id]) == key  # joins the product
    assert len(ctx.catalog.product_members([third])[key]) == 3
    assert ctx.catalog.ungroup_photos([third, dress.photo_id]) == 2
    assert ctx.catalog.get_photo(dress.original_id).product is None  # left alone: no product
    with pytest.raises(ValueError, match="two photos"):
        ctx.catalog.group_photos([third])


def test_re_tagging_gives_photos_imported_before_a_hash(ctx: AppContext, photos_dir: Path) -> None:
    report = import_paths([photos_dir / "hat.jpg"], ctx)
    with ctx.catalog._write("forgetting the hash") as session:  # as imported before 0004
        session.execute(update(Photo).values(near_hash=None))
    assert list(ctx.catalog.near_hashes()) == []
    retag_photos(report.added, ctx)
    [(_sha, value)] = list(ctx.catalog.near_hashes())
    decoded = open_photo(photos_dir / "hat.jpg", ctx.tagger.decode_side)  # as the import decodes
    assert value == perceptual_hash(decoded.image)


def test_the_cli_lists_groups_and_dismisses_possible_duplicates(
    tmp_path: Path, tiny_bundle: Path, photos_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VITRINA_HOME", str(tmp_path / "home"))
    run = Run(tmp_path / "c.sqlite", tiny_bundle).full

    assert run("import", str(photos_dir))[0] == cli.OK
    later = tmp_path / "later"
    later.mkdir()
    _copy(later, "dress.jpg", "dress-web.jpg", 70)
    _copy(later, "hat.jpg", "hat-web.jpg", 70)
    code, out, _ = run("import", str(later))
    assert code == cli.OK and "2 possible duplicate(s)" in out
    assert re.search(
        r"possible duplicate: .*dress-web\.jpg \(looks like photo 1: .*dress\.jpg\)", out
    )
    code, out, _ = run("duplicates")
    assert (
        "photo 9: " in out and "looks like photo 1" in out and "2 possible duplicate(s) to" in out
    )
    code, out, _ = run("group", "9", str(photos_dir / "dress.jpg"))
    assert code == cli.OK and "product 1: photos 1, 9." in out
    code, out, _ = run("dismiss", "10")
    assert code == cli.OK and "1 possible duplicate flag(s) dismissed" in out
    code, out, _ = run("duplicates")
    assert "0 possible duplicate(s)" in out
    code, out, _ = run("duplicates", "--all")
    assert "[grouped]" in out and "[dismissed]" in out
    code, _, err = run("group", "9")
    assert code == cli.FATAL and "Name two photos or more" in err
    code, out, _ = run("ungroup", "9")
    assert code == cli.OK and "1 photo(s) taken out" in out
