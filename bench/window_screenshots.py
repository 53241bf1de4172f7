"""The window photographed offscreen for the docs: the main view (docs/screenshot.png) and
the threshold panel after the catalog learned from its reviews (docs/screenshot-learning.png).

Main view: the eight test photos and 21 catalog photos (the first by file name of a few
kinds) imported with the shipped bundle, the first catalog photo current. After learning:
the first 300 worn dresses of ``../shared/datasets/dresses/`` by file name imported, the
first 200 reviewed with their labels (as `vitrina import-tags` applies them), then
`vitrina learn`'s core; the window opens on that catalog.

    QT_QPA_PLATFORM=offscreen python -m bench.window_screenshots
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

from app.core.adaptation import learn_from_reviews
from app.core.context import AppContext
from app.core.importer import import_paths
from app.core.tag_import import TagRecord, apply_tag_records
from app.ui.main import create_window
from bench.learning import labelled_photos
from bench.models import REPO, default_bundle
from bench.shop_screenshots import _photos, _settle, _wait, offscreen_workspace

DRESSES = REPO.parent / "shared" / "datasets" / "dresses"
IMPORTED, REVIEWED = 300, 200


def _learned_catalog(path: Path) -> None:
    """A catalog of worn dresses whose first reviews it learned from."""
    truth = labelled_photos([DRESSES], None)
    shoot = sorted(truth)[:IMPORTED]
    with AppContext.open(path, default_bundle()) as ctx:
        import_paths(shoot, ctx)
        families = {f.name: f.labels for f in ctx.families}
        records = [
            TagRecord(i + 2, str(p), "", {f: v for f, v in truth[p].items() if f in families}, ())
            for i, p in enumerate(shoot[:REVIEWED])
        ]
        apply_tag_records(ctx.catalog, records, "bench", families)
        learn_from_reviews(ctx)


def _grab(app: QApplication, catalog: Path, out: Path, row: int) -> None:
    window = create_window(str(catalog), str(default_bundle()))
    window.resize(1440, 900)
    window.show()
    _wait(app, lambda: window.ctx is not None and window.model.rowCount() > row)
    _wait(app, lambda: window.model.item(row) is not None)
    window.controller.select_row(row)
    _settle(app, 4)
    window.grab().save(str(out))
    window.close()


def main() -> None:
    with offscreen_workspace(__doc__) as (app, out, root):
        shoot = root / "shoot-2026-12"
        shoot.mkdir()
        _photos(shoot)
        for photo in sorted((REPO / "tests" / "data").glob("*.jpg")):
            shutil.copy(photo, shoot)
        with AppContext.open(root / "catalog.sqlite", default_bundle()) as ctx:
            import_paths([shoot], ctx)
        _grab(app, root / "catalog.sqlite", out / "screenshot.png", 0)
        _learned_catalog(root / "dresses.sqlite")
        _grab(app, root / "dresses.sqlite", out / "screenshot-learning.png", REVIEWED)
    print(f"wrote {out / 'screenshot.png'} and screenshot-learning.png")


if __name__ == "__main__":
    main()
