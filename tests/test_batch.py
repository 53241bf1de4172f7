"""`vitrina batch` on a local Ray instance: the same rows as `vitrina import` in a PostgreSQL
catalog, and a run killed midway then run again tags every photo once."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from catalog_fixtures import PGVECTOR_ENV, fresh_database, pg_admin_url
from sqlalchemy import create_engine, text
from tinybundle import make_tiny_bundle

from app.core.context import AppContext
from app.core.importer import import_paths

REPO = Path(__file__).resolve().parents[1]
PHOTOS = 200


def _needs_ray() -> None:
    try:
        import ray  # noqa: F401
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but Ray is missing: install the scale extra (.[scale]).")
        pytest.skip("Ray is not installed (pip install -e '.[scale]')")


@pytest.fixture(scope="module")
def backlog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 distinct photos, two copies of photos already in it and one damaged file."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("backlog")
    rng = np.random.default_rng(26)
    for i in range(PHOTOS):
        colour = rng.integers(0, 256, 3)
        pixels = np.clip(colour + rng.normal(0, 12, (60, 80, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"look-{i:03d}.jpg", quality=90)
    (folder / "copies").mkdir()
    shutil.copy(folder / "look-007.jpg", folder / "copies" / "look-7 copy.jpg")
    shutil.copy(folder / "look-150.jpg", folder / "copies" / "look-150 copy.jpg")
    (folder / "broken.jpg").write_bytes((folder / "look-001.jpg").read_bytes()[:300])
    return folder


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_bundle(tmp_path_factory.mktemp("bundle") / "tiny")


def vitrina(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VITRINA_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def catalog_rows(url: str) -> dict[str, dict]:
    """Path -> everything an import writes of the photo (ids aside)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            photos = connection.execute(
                text(
                    "SELECT id, path, sha256, size_bytes, width, height, review_state, bundle "
                    "FROM photos"
                )
            ).all()
            rows: dict[str, dict] = {}
            for photo_id, path, *fields in photos:
                predictions = connection.execute(
                    text(
                        "SELECT family, rank, label, confidence, threshold FROM predictions "
                        "WHERE photo_id = :id ORDER BY family, rank"
                    ),
                    {"id": photo_id},
                ).all()
                vector = connection.execute(
                    text("SELECT vector FROM embeddings WHERE photo_id = :id"), {"id": photo_id}
                ).scalar_one()
                features, probabilities = connection.execute(
                    text("SELECT features, probabilities FROM photo_features WHERE photo_id = :id"),
                    {"id": photo_id},
                ).one()
                rows[Path(path).name] = {
                    "fields": fields,
                    "labels": [(f, r, label) for f, r, label, _, _ in predictions],
                    "confidences": np.array([c for *_, c, _ in predictions]),
                    "thresholds": [t for *_, t in predictions],
                    "embedding": np.frombuffer(vector, dtype="<f4"),
                    "features": np.frombuffer(features, dtype="<f2"),
                    "probabilities": np.frombuffer(probabilities, dtype="<f4"),
                }
            events = connection.execute(text("SELECT count(*) FROM tag_events")).scalar_one()
    finally:
        engine.dispose()
    assert events == 0  # an import decides no tag: the audit trail starts empty
    return rows


def assert_same_catalog(batch: dict[str, dict], imported: dict[str, dict]) -> None:
    assert sorted(batch) == sorted(imported)
    for name, row in imported.items():
        other = batch[name]
        assert other["fields"] == row["fields"], name
        assert other["labels"] == row["labels"], name
        assert other["thresholds"] == row["thresholds"], name
        np.testing.assert_allclose(other["confidences"], row["confidences"], atol=1e-6)
        np.testing.assert_allclose(other["embedding"], row["embedding"], atol=1e-6)
        np.testing.assert_allclose(other["probabilities"], row["probabilities"], atol=1e-6)
        np.testing.assert_allclose(other["features"], row["features"], atol=1e-3)


def neighbours(output: str) -> str:
    """`similar`'s lines without photo ids (a killed transaction may use up a few)."""
    return re.sub(r"photo \d+", "photo #", output)


@pytest.fixture(scope="module")
def imported(
    backlog: Path, bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[dict[str, dict], str]]:
    """The backlog imported with `vitrina import` into a pgvector catalog: its rows and the
    neighbours `similar` finds there."""
    for url in fresh_database(pg_admin_url(PGVECTOR_ENV, "start-pgvector")):
        home = tmp_path_factory.mktemp("home")
        with AppContext.open(url, bundle) as ctx:
            report = import_paths([backlog], ctx)
        assert (len(report.added), len(report.duplicates), len(report.failures)) == (PHOTOS, 2, 1)
        near = vitrina(
            "--db",
            url,
            "--bundle",
            str(bundle),
            "similar",
            str(backlog / "look-000.jpg"),
            home=home,
        )
        assert near.returncode == 0, near.stderr
        yield catalog_rows(url), neighbours(near.stdout)


@pytest.mark.postgres
@pytest.mark.slow
def test_batch_writes_what_import_writes(
    backlog: Path, bundle: Path, fresh_pgvector_url: str, tmp_path: Path, imported
) -> None:
    _needs_ray()
    rows, similar = imported
    url = fresh_pgvector_url
    args = ("--db", url, "--bundle", str(bundle))
    done = vitrina(*args, "batch", "--workers", "2", str(backlog), home=tmp_path)
    assert done.returncode == 1, done.stderr  # the damaged file, as import reports it
    assert f"Tagged {PHOTOS} photo(s) on 2 Ray worker(s)" in done.stdout
    assert "2 duplicate(s), 1 failed" in done.stdout
    assert done.stdout.count("duplicate: ") == 2
    assert "broken.jpg" in done.stderr and "Traceback" not in done.stderr
    assert_same_catalog(catalog_rows(url), rows)
    # Similar items come from the server, and match those of the imported catalog.
    same = vitrina(*args, "similar", str(backlog / "look-000.jpg"), home=tmp_path)
    assert neighbours(same.stdout) == similar


KILLED_RUN = """
import os, signal, sys
from app.core.batch import run_batch
from app.core.context import AppContext

def progress(done, total, path):
    if done == 100:  # after the second batch's commit, while Ray tags the next ones
        os.kill(os.getpid(), signal.SIGKILL)

with AppContext.open(sys.argv[1], sys.argv[2]) as ctx:
    run_batch([sys.argv[3]], ctx, workers=1, progress=progress)
"""


@pytest.mark.postgres
@pytest.mark.slow
def test_a_killed_batch_run_again_tags_every_photo_once(
    backlog: Path, bundle: Path, fresh_pg_url: str, tmp_path: Path, imported
) -> None:
    _needs_ray()
    env = {**os.environ, "VITRINA_HOME": str(tmp_path)}
    killed = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(KILLED_RUN),
            fresh_pg_url,
            str(bundle),
            str(backlog),
        ],
        cwd=REPO,
        env=env,
        start_new_session=True,  # its own process group: Ray's helpers are ended with it
    )
    try:
        assert killed.wait(timeout=300) == -signal.SIGKILL
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(killed.pid, signal.SIGKILL)
    written = len(catalog_rows(fresh_pg_url))
    assert 0 < written < PHOTOS
    done = vitrina(
        "--db", fresh_pg_url, "--bundle", str(bundle), "batch", str(backlog), home=tmp_path
    )
    assert f"skipped {written} already in the catalog" in done.stdout, done.stdout + done.stderr
    rows = catalog_rows(fresh_pg_url)
    assert_same_catalog(rows, imported[0])  # every photo once (one row per path and hash)
    assert len({row["fields"][0] for row in rows.values()}) == PHOTOS
    # Here an hnswlib index, caught up after the kill: the same neighbours as the server's.
    near = vitrina(
        "--db",
        fresh_pg_url,
        "--bundle",
        str(bundle),
        "similar",
        str(backlog / "look-000.jpg"),
        home=tmp_path,
    )
    assert neighbours(near.stdout) == imported[1]


def test_the_app_never_loads_ray_unless_a_batch_runs(tmp_path: Path) -> None:
    code = (
        "import sys; from app.cli import main; "
        f"main(['--db', {str(tmp_path / 'c.sqlite')!r}, 'stats']); "
        "print('ray' in sys.modules)"
    )
    env = {**os.environ, "VITRINA_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines()[-1] == "False"


def test_without_ray_batch_says_how_to_install_it(
    tmp_path: Path, tiny_bundle: Path, photos_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from app.cli import main

    monkeypatch.setenv("VITRINA_HOME", str(tmp_path / "home"))
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the scale extra were not installed
    out, err = io.StringIO(), io.StringIO()
    db = str(tmp_path / "c.sqlite")
    code = main(["--db", db, "--bundle", str(tiny_bundle), "batch", str(photos_dir)], out, err)
    assert code == 2
    assert "runs on Ray, which is not installed" in err.getvalue()
    assert "pip install -e '.[scale]'" in err.getvalue()


def test_a_ray_that_cannot_start_is_said_plainly() -> None:
    """A local Ray whose node times out at start (a busy machine) raises a bare Exception:
    the command says what failed and what to do, not "unexpected error"."""
    from app.core.batch import _start
    from app.core.errors import VitrinaError

    class StuckRay:
        def init(self, **_: object) -> None:
            raise Exception("The current node timed out during startup.")

    with pytest.raises(VitrinaError, match="Cannot start or reach a local Ray instance"):
        _start(StuckRay(), None)
