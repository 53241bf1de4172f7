"""SIGKILL a real `vitrina import` mid-way: the catalog stays whole and the index catches up."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from app.core.context import AppContext

REPO = Path(__file__).resolve().parents[1]
PHOTOS = 400


def _shoot(folder: Path) -> Path:
    """Distinct small photos, so every one is a new catalog row."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(PHOTOS):
        pixels = rng.integers(0, 256, size=(24, 24, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"photo-{i:04d}.png")
    return folder


def _rows(db: Path) -> int:
    """Photos committed so far; 0 while the catalog is still being created."""
    try:
        with sqlite3.connect(db) as connection:
            return connection.execute("SELECT count(*) FROM photos").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_sigkill_mid_import_then_restart(tmp_path: Path, tiny_bundle: Path) -> None:
    shoot, db = _shoot(tmp_path / "shoot"), tmp_path / "catalog.sqlite"
    env = {**os.environ, "VITRINA_HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "app", "--db", str(db), "--bundle", str(tiny_bundle)]
    process = subprocess.Popen(
        [*command, "import", str(shoot)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    target = random.randint(20, PHOTOS // 2)
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if db.exists() and _rows(db) >= target:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()

    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with AppContext.open(db, tiny_bundle) as ctx:
        ids = set(ctx.catalog.photo_ids())
        assert 0 < len(ids) < PHOTOS
        key = ctx.bundle.key
        assert ctx.catalog.photos_missing_embedding(key) == []
        for photo_id in ids:
            assert ctx.catalog.predictions(photo_id), f"photo {photo_id} is half-written"
        assert ctx.index.ids() == ids

    finished = subprocess.run(
        [*command, "import", str(shoot)], env=env, capture_output=True, text=True, timeout=300
    )
    assert finished.returncode == 0, finished.stderr
    with AppContext.open(db, tiny_bundle) as ctx:
        assert ctx.catalog.count() == PHOTOS
        assert len(ctx.index.ids()) == PHOTOS
