"""The window's shop side, photographed offscreen for the docs: the possible-duplicate mark
(docs/screenshot-duplicates.png) and File → Export for shop… (docs/screenshot-shop-export.png).

Imports 18 catalog photos of ``../shared/datasets/catalog/`` (the first by file name of
some kinds) into a fresh catalog with the shipped bundle, then web copies of three of them
(70 % size, JPEG quality 70: other bytes, the same pictures), accepts the confident tags,
sets one photo to a category of the shop's own ("kaftan", no taxonomy row) and takes
another's category away, groups one flagged pair into a product, and filters the grid to
the possible duplicates still open, a flagged copy current.

    QT_QPA_PLATFORM=offscreen python -m bench.shop_screenshots
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PIL import Image
from PySide6.QtWidgets import QApplication

from app.ui.main import create_window
from app.ui.settings import use_settings_dir
from app.ui.shop_export_dialog import open_shop_export
from app.ui.style import apply_style
from bench.common import CATALOG_IMAGES
from bench.models import REPO, default_bundle

KINDS = ("Tshirts", "Shirts", "Dresses", "Jeans", "Handbags", "Watches", "Casual Shoes")
PER_KIND = 3
COPIES = 3


def _photos(folder: Path) -> list[Path]:
    """The first photos by file name of a few kinds, copied in; then web copies."""
    chosen: dict[str, list[str]] = {kind: [] for kind in KINDS}
    with (CATALOG_IMAGES.parent / "labels.csv").open() as handle:
        rows = sorted(csv.DictReader(handle), key=lambda row: row["image"])
    for row in rows:
        kind = row["articleType"]
        if kind in chosen and len(chosen[kind]) < PER_KIND:
            chosen[kind].append(row["image"])
    originals = []
    for names in chosen.values():
        for name in names:
            target = folder / Path(name).name
            target.write_bytes((CATALOG_IMAGES.parent / name).read_bytes())
            originals.append(target)
    return sorted(originals)


def _web_copies(originals: list[Path], folder: Path) -> list[Path]:
    copies = []
    for source in originals[:: len(originals) // COPIES][:COPIES]:
        with Image.open(source) as image:
            rgb = image.convert("RGB")
        target = folder / f"{source.stem}-web.jpg"
        rgb.resize((rgb.width * 7 // 10, rgb.height * 7 // 10)).save(target, quality=70)
        copies.append(target)
    return copies


def _wait(app: QApplication, done, seconds: float = 120) -> None:
    end = time.monotonic() + seconds
    while not done():
        if time.monotonic() > end:
            raise TimeoutError("the window did not get there in time")
        app.processEvents()
        time.sleep(0.02)


def _settle(app: QApplication, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


@contextmanager
def offscreen_workspace(doc: str) -> Iterator[tuple[QApplication, Path, Path]]:
    """The styled application, the --out folder and a scratch folder that holds the
    catalog, Vitrina's home and the window's settings (nothing of the user's is touched)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    apply_style(app)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["VITRINA_HOME"] = str(root / "home")
        use_settings_dir(root / "settings")
        yield app, args.out, root


def main() -> None:
    with offscreen_workspace(__doc__) as (app, out, root):
        shoot, later = root / "shoot-2026-11", root / "web"
        shoot.mkdir()
        later.mkdir()
        originals = _photos(shoot)
        copies = _web_copies(originals, later)
        window = create_window(str(root / "catalog.sqlite"), str(default_bundle()))
        window.resize(1440, 900)
        window.show()
        _wait(app, lambda: window.ctx is not None)
        finished: list = []
        window.import_finished.connect(finished.append)
        window.import_paths([shoot])
        _wait(app, lambda: len(finished) == 1, 600)
        window.import_paths(copies)
        _wait(app, lambda: len(finished) == 2, 600)
        catalog = window.ctx.catalog
        ids = catalog.photo_ids()
        catalog.accept_confident_many(ids)
        catalog.set_tag(ids[5], "category", "kaftan")  # a label of the shop's own: no row yet
        for tag in catalog.tags(ids[6]):  # and one photo whose category nobody decided
            if tag.family == "category":
                catalog.remove_tag(ids[6], "category", tag.value)
        flags = catalog.near_duplicates()
        if flags:
            catalog.group_photos([flags[0].photo_id, flags[0].original_id])
        window.catalog_changed()
        window.filter_bar.duplicates.setChecked(True)  # the pairs still open
        shown = 2 * (len(flags) - 1)
        _wait(app, lambda: window.model.rowCount() == shown)
        _wait(app, lambda: all(window.model.item(r) is not None for r in range(shown)))
        flagged = next(r for r in range(shown) if window.model.item(r).duplicate_of is not None)
        window.controller.select_row(flagged)
        _settle(app, 4)
        window.grab().save(str(out / "screenshot-duplicates.png"))
        dialog = open_shop_export(window)
        dialog.image_url.setText("https://cdn.example.com/shoots/2026-11/")
        previewed: list = []
        dialog.previewed.connect(previewed.append)
        _wait(app, lambda: bool(previewed) and dialog.export is not None)
        _settle(app, 2)
        dialog.grab().save(str(out / "screenshot-shop-export.png"))
        dialog.reject()
        window.close()
    print(f"wrote {out / 'screenshot-duplicates.png'} and screenshot-shop-export.png")


if __name__ == "__main__":
    main()
