"""Responsiveness of the real window (offscreen): import stalls, cold start, grid scrolling.

1. Import: 1,000 photos (symlinks to catalog photos) imported through the window while
   ``app.ui.stall_probe.StallProbe`` (5 ms timer) records the longest event-loop stall.
2. Cold start: a fresh ``python`` process opens the window on a 100,000-photo catalog;
   times from process start to the first paint of the main window and to the catalog
   being open (``MainWindow.opened``), alternated with a bare PySide6 window (same
   interpreter start, no Vitrina) whose first paint is the floor on this machine.
3. Scrolling: the grid over a 100,000-photo synthetic catalog is scrolled by a 60 Hz timer
   (smoothly, then by jumps to random places); frame time = gap between viewport paints.
4. Keyboard review: on the catalog the import wrote, **A** (accept the confident tags, go
   to the next photo) is pressed as soon as the previous photo's tags and similar items
   are on screen; latency = key press to the next photo's preview, to its tags, and to
   its similar items. Then every confident tag accepted must be in the catalog.

    python -m bench.responsiveness --quick      # 40 photos, one cold start; < 1 minute
    python -m bench.responsiveness
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

from bench.common import CACHE, catalog_photos, percentile_ms, report
from bench.models import REPO, default_bundle

GRID_PHOTOS = 100_000
TIMEOUT_S = 600
FRAME_MS = 16

# Run in a fresh interpreter: prints seconds from process start to first paint and to open.
COLD_START = """
import os, sys, time
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication
from app.ui.settings import use_settings_dir
use_settings_dir(sys.argv[3])
from app.ui.main import create_window
from app.ui.style import apply_style
marks = {}
class Painted(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and "paint" not in marks:
            marks["paint"] = time.time()
        return False
app = QApplication(sys.argv[:1])
apply_style(app)
window = create_window(sys.argv[1], sys.argv[2])
painted = Painted()
window.installEventFilter(painted)
def opened():
    marks["opened"] = time.time()
window.opened.connect(opened)
window.show()
deadline = time.time() + 60
while ("paint" not in marks or "opened" not in marks) and time.time() < deadline:
    app.processEvents()
    time.sleep(0.001)
print(marks.get("paint", float("nan")), marks.get("opened", float("nan")), flush=True)
window.close()
"""

BARE_START = """
import os, time
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QListView, QMainWindow
marks = {}
class Painted(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and "paint" not in marks:
            marks["paint"] = time.time()
        return False
app = QApplication([])
window = QMainWindow()
window.setCentralWidget(QListView())
painted = Painted()
window.installEventFilter(painted)
window.resize(1440, 900)
window.show()
while "paint" not in marks:
    app.processEvents()
    time.sleep(0.001)
print(marks["paint"], marks["paint"], flush=True)
"""


class PaintClock(QObject):
    """Notes when a widget paints."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def eventFilter(self, _obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.times.append(time.perf_counter())
        return False


def wait_until(app: QApplication, condition, timeout_s: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not get there in time")
        app.processEvents()
        time.sleep(0.002)


def open_window(app: QApplication, db: Path, bundle: Path):
    from app.ui.main import create_window

    window = create_window(str(db), str(bundle))
    window.reporter.quiet = True
    window.show()
    wait_until(app, lambda: window.ctx is not None or window.banner.isVisible())
    if window.ctx is None:
        raise RuntimeError(f"the window could not open {db}")
    return window


def import_stall(app: QApplication, home: Path, bundle: Path, count: int) -> dict:
    """Import ``count`` photos through the window while the probe watches the event loop."""
    from app.ui.stall_probe import StallProbe

    folder = home / "photos"
    folder.mkdir()
    for photo in catalog_photos(count, offset=1000):
        (folder / photo.name).symlink_to(photo)
    window = open_window(app, home / "import.sqlite", bundle)
    reports: list = []
    window.import_finished.connect(reports.append)
    probe = StallProbe(interval_ms=5)
    gaps: list[float] = []
    probe._timer.timeout.connect(lambda: gaps.append(time.perf_counter()))
    probe.start()
    started = time.perf_counter()
    window.import_paths([folder])
    wait_until(app, lambda: bool(reports))
    elapsed = time.perf_counter() - started
    stall = probe.stop()
    window.close()
    added = len(reports[0].added)
    stalls = np.diff(gaps) * 1000 - probe.interval_ms
    return {
        "photos": count,
        "imported": added,
        "photos_per_s": round(added / elapsed, 2),
        "max_stall_ms": round(stall, 1),
        "stalls_over_50ms": int((stalls > 50).sum()),
        "p99_stall_ms": round(float(np.percentile(stalls, 99)), 1),
    }


def _started(code: str, args: list[str]) -> tuple[float, float]:
    """Seconds from spawning a fresh interpreter to the marks ``code`` prints."""
    start = time.time()
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=True,
        timeout=300,
    )
    painted, ready = (float(v) for v in out.stdout.split()[-2:])
    return painted - start, ready - start


def keyboard_review(app: QApplication, db: Path, bundle: Path, presses: int) -> dict:
    """Press A ``presses`` times, each once the previous photo is fully shown (a fast
    reviewer), then check that every accept reached the catalog."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from app.ui.stall_probe import StallProbe

    window = open_window(app, db, bundle)
    wait_until(app, lambda: window.model.rowCount() > presses)
    controller = window.controller
    shown: dict[tuple[str, int], float] = {}
    confident: dict[int, set[str]] = {}

    def tags_shown(review) -> None:
        shown.setdefault(("tags", review.photo.id), time.perf_counter())
        confident[review.photo.id] = {
            f.family for f in review.families if f.decision and f.decision.confident
        }

    controller.review_shown.connect(tags_shown)
    controller.similar_shown.connect(
        lambda _n: shown.setdefault(("similar", controller.current_id), time.perf_counter())
    )
    window.grid.setFocus()
    controller.reload_current()  # the first photo was shown before we listened
    wait_until(app, lambda: controller.current_id in confident)
    wait_until(app, lambda: ("similar", controller.current_id) in shown)
    reviewed = [controller.current_id]
    tags_ms, similar_ms, photo_ms = [], [], []
    probe = StallProbe(interval_ms=5)
    probe.start()
    for _ in range(presses):
        before = controller.current_id
        pressed = time.perf_counter()
        QTest.keyClick(QApplication.focusWidget() or window, Qt.Key.Key_A)
        wait_until(app, lambda: controller.preview_cache.is_ready(controller.current_sha))
        photo_ms.append(time.perf_counter() - pressed)
        wait_until(
            app,
            lambda before=before: (
                controller.current_id != before
                and ("tags", controller.current_id) in shown
                and ("similar", controller.current_id) in shown
            ),
        )
        tags_ms.append(shown[("tags", controller.current_id)] - pressed)
        similar_ms.append(shown[("similar", controller.current_id)] - pressed)
        reviewed.append(controller.current_id)
    stall = probe.stop()
    controller.wait(30_000)
    catalog = window.ctx.catalog
    missing = sum(
        len(
            confident[photo_id]
            - {t.family for t in catalog.tags(photo_id) if t.status == "accepted"}
        )
        for photo_id in reviewed[:-1]
    )
    window.close()
    return {
        "presses": presses,
        "photo_p50_ms": round(percentile_ms(photo_ms, 50), 1),
        "photo_p95_ms": round(percentile_ms(photo_ms, 95), 1),
        "tags_p50_ms": round(percentile_ms(tags_ms, 50), 1),
        "tags_p95_ms": round(percentile_ms(tags_ms, 95), 1),
        "tags_max_ms": round(percentile_ms(tags_ms, 100), 1),
        "similar_p50_ms": round(percentile_ms(similar_ms, 50), 1),
        "similar_p95_ms": round(percentile_ms(similar_ms, 95), 1),
        "max_stall_ms": round(stall, 1),
        "confident_tags_accepted": sum(len(confident[i]) for i in reviewed[:-1]),
        "confident_tags_missing_from_catalog": missing,
    }


def cold_start(db: Path, bundle: Path, settings: Path, runs: int) -> dict:
    """Process start to first paint and to an open catalog; a bare Qt window alternated."""
    paint, opened, bare = [], [], []
    for _ in range(runs):
        bare.append(_started(BARE_START, [])[0])
        painted, ready = _started(COLD_START, [str(db), str(bundle), str(settings)])
        paint.append(painted)
        opened.append(ready)
    return {
        "catalog_photos": GRID_PHOTOS,
        "runs": runs,
        "first_paint_s": round(float(np.median(paint)), 3),
        "catalog_open_s": round(float(np.median(opened)), 3),
        "bare_qt_first_paint_s": round(float(np.median(bare)), 3),
        "first_paint_over_bare": round(float(np.median(np.array(paint) / np.array(bare))), 2),
    }


def scrolling(app: QApplication, db: Path, bundle: Path, seconds: float) -> dict:
    """Scroll the grid by timer; frame time is the gap between two paints of the viewport."""
    window = open_window(app, db, bundle)
    wait_until(app, lambda: window.model.rowCount() >= GRID_PHOTOS)
    grid, bar = window.grid, window.grid.verticalScrollBar()
    wait_until(app, lambda: bar.maximum() > 0)
    clock = PaintClock()
    grid.viewport().installEventFilter(clock)
    rng = np.random.default_rng(0)
    results = {"rows": window.model.rowCount()}
    for mode in ("smooth", "jump"):
        clock.times.clear()
        timer = QTimer()
        timer.setInterval(FRAME_MS)

        def step(mode: str = mode) -> None:
            if mode == "smooth":
                bar.setValue(bar.value() + 120)
            else:
                bar.setValue(int(rng.integers(0, bar.maximum())))

        timer.timeout.connect(step)
        timer.start()
        end = time.monotonic() + seconds
        wait_until(app, lambda end=end: time.monotonic() > end)
        timer.stop()
        frames = np.diff(clock.times)
        results[mode] = {
            "frames": len(frames),
            "frame_p50_ms": round(percentile_ms(frames, 50), 1),
            "frame_p95_ms": round(percentile_ms(frames, 95), 1),
            "frame_max_ms": round(percentile_ms(frames, 100), 1),
        }
    window.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="40 photos, one cold start")
    parser.add_argument("--bundle", type=Path, help="bundle folder (default: models_onnx/default)")
    parser.add_argument("--out", type=Path, help="write the JSON result here")
    args = parser.parse_args()
    bundle_path = (args.bundle or default_bundle()).resolve()
    from app.core.bundle import load_bundle
    from app.ui.settings import use_settings_dir
    from app.ui.style import apply_style
    from bench.common import synthetic_catalog

    bundle = load_bundle(bundle_path)
    families = {f.name: f.labels for f in bundle.families}
    dim = bundle.embedding.dim if bundle.embedding else 0
    big = synthetic_catalog(CACHE / "grid-100k.sqlite", GRID_PHOTOS, bundle.key, families, dim)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ["VITRINA_HOME"] = str(home / "home")
        use_settings_dir(home / "settings")
        app = QApplication.instance() or QApplication([])
        apply_style(app)
        results = {
            "import": import_stall(app, home, bundle_path, 40 if args.quick else 1000),
            "review": keyboard_review(
                app, home / "import.sqlite", bundle_path, 30 if args.quick else 200
            ),
            "cold_start": cold_start(big, bundle_path, home / "settings", 1 if args.quick else 5),
            "scroll": scrolling(app, big, bundle_path, 2 if args.quick else 5),
        }
    report("responsiveness", {"bundle": str(bundle_path), **results}, args.out)


if __name__ == "__main__":
    main()
