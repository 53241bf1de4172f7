"""Real processes on one catalog: two editors racing (no lost update), SIGKILL mid-import,
and a long-running window sharing the catalog with short command-line runs.

Run as a script this module is the child process: ``editor`` or ``importer``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
sys.path[:0] = [str(REPO), str(TESTS)]

from catalog_fixtures import add_sample  # noqa: E402

from app.core.catalog import Catalog  # noqa: E402
from app.core.errors import ConflictError  # noqa: E402

pytest_plugins = ("catalog_fixtures",)
ROUNDS = 15


def _wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.002)


def editor(url: str, photo_id: int, me: str, other: str, sync: Path) -> None:
    """Each round: read the version, wait until the other has read it too, then write."""
    outcomes = []
    with Catalog.open(url) as catalog:
        for round_ in range(ROUNDS):
            seen = catalog.tag_version(photo_id, "colour")
            (sync / f"{me}-{round_}").touch()
            _wait_for(sync / f"{other}-{round_}")
            value = f"{me}-{round_}"
            try:
                catalog.set_tag(photo_id, "colour", value, me, expected_version=seen)
                outcomes.append({"round": round_, "saved": value, "seen": seen})
            except ConflictError as error:
                outcomes.append({"round": round_, "conflict": str(error), "seen": seen})
    print(json.dumps(outcomes))


def importer(url: str, start: int) -> None:
    """Add tagged photos until killed."""
    with Catalog.open(url) as catalog:
        seed = start
        while True:
            add_sample(catalog, seed)
            seed += 1


def tagger(url: str, edits: str) -> None:
    """A command-line run: open, apply ``photo:family:value`` edits ("" family: a free tag)."""
    with Catalog.open(url) as catalog:
        for edit in edits.split(","):
            photo_id, family, value = edit.split(":")
            if family:
                catalog.set_tag(int(photo_id), family, value, "cli")
            else:
                catalog.add_free_tag(int(photo_id), value, "cli")


def _child(*args: str) -> list[str]:
    return [sys.executable, __file__, *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def test_two_editors_never_lose_an_update(catalog: Catalog, tmp_path: Path) -> None:
    photo = add_sample(catalog, 1)
    args = [catalog.url, str(photo.id)]
    editors = [
        subprocess.Popen(
            _child("editor", *args, me, other, str(tmp_path)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for me, other in (("alice", "bob"), ("bob", "alice"))
    ]
    results = {}
    for name, process in zip(("alice", "bob"), editors, strict=True):
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err
        results[name] = json.loads(out)

    saved = [r for name in results for r in results[name] if "saved" in r]
    conflicts = {name: [r for r in results[name] if "conflict" in r] for name in results}
    # Both read the same version each round, so exactly one write per round wins.
    assert sorted(r["round"] for r in saved) == list(range(ROUNDS))
    for name, other in (("alice", "bob"), ("bob", "alice")):
        for conflict in conflicts[name]:
            assert f"Photo {photo.id}" in conflict["conflict"]
            assert f"by {other}" in conflict["conflict"]
    events = catalog.audit(photo.id)
    assert [e.version for e in events] == list(range(1, ROUNDS + 1))
    assert sorted(e.value for e in events) == sorted(r["saved"] for r in saved)
    assert all(e.actor == e.value.split("-")[0] for e in events)
    assert [e.previous_value for e in events[1:]] == [e.value for e in events[:-1]]
    (tag,) = catalog.tags(photo.id)
    assert (tag.value, tag.version) == (events[-1].value, ROUNDS)


def _integrity_ok(catalog: Catalog) -> None:
    if catalog.dialect == "sqlite":
        path = catalog.url.removeprefix("sqlite:///")
        connection = sqlite3.connect(path)
        try:
            assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
        finally:
            connection.close()


def test_sigkill_mid_import_leaves_no_half_written_photo(catalog: Catalog) -> None:
    rng = random.Random()
    start = 0
    for _kill in range(3):
        before = catalog.count()
        process = subprocess.Popen(_child("importer", catalog.url, str(start)), env=_env())
        try:
            target = before + rng.randint(5, 40)
            deadline = time.monotonic() + 120
            while catalog.count() < target and process.poll() is None:
                assert time.monotonic() < deadline, "the importer made no progress"
                time.sleep(0.01)
            time.sleep(rng.random() * 0.05)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL
        _integrity_ok(catalog)
        with Catalog.open(catalog.url) as reopened:
            ids = reopened.photo_ids()
            assert len(ids) > before
            for photo_id in ids:
                predictions = reopened.predictions(photo_id)
                assert len(predictions) == 6, f"photo {photo_id} is half-written"
            assert reopened.photos_missing_embedding("tiny@1/16") == []
            start = max(int(p.sha256, 16) for p in reopened.list_photos(limit=10**6)) + 1
    stats = catalog.stats()
    assert stats["photos"] == stats["embeddings"]["tiny@1/16"]


def _touch_by_name(catalog: Catalog) -> None:
    """What a file dialog, a thumbnailer or a MIME sniffer does to the files in a folder it
    shows: open each by name, read a little, close. With POSIX locks that close drops every
    lock this process holds on the file."""
    if catalog.dialect != "sqlite":
        return
    path = catalog.url.removeprefix("sqlite:///")
    for name in (path, f"{path}-wal", f"{path}-shm"):
        if os.path.exists(name):
            with open(name, "rb") as handle:
                handle.read(64)


def test_a_window_and_command_line_runs_share_a_catalog_and_lose_nothing(
    catalog: Catalog,
) -> None:
    """The window keeps its catalog open for hours while `vitrina tag` runs come and go,
    and something in the window's process opens the catalog's files by name meanwhile."""
    for seed in range(1, 7):
        add_sample(catalog, seed)
    assert catalog.tags(1) == []  # the window has read the catalog

    def cli(edits: str) -> None:
        run = subprocess.run(
            _child("tagger", catalog.url, edits), env=_env(), capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr

    _touch_by_name(catalog)
    cli("2::cli-A")
    catalog.add_free_tag(3, "window-B", "window")
    _touch_by_name(catalog)
    cli("5::cli-C,6:colour:red")
    catalog.add_free_tag(4, "window-D", "window")
    assert [t.value for t in catalog.tags(5)] == ["cli-C"]  # the window sees the CLI's edits
    catalog.close()

    _integrity_ok(catalog)
    with Catalog.open(catalog.url) as reopened:
        found = {i: [(t.family, t.value) for t in reopened.tags(i)] for i in range(1, 7)}
    assert found == {
        1: [],
        2: [(None, "cli-A")],
        3: [(None, "window-B")],
        4: [(None, "window-D")],
        5: [(None, "cli-C")],
        6: [("colour", "red")],
    }


if __name__ == "__main__":
    if sys.argv[1] == "editor":
        url, photo_id, me, other, sync = sys.argv[2:7]
        editor(url, int(photo_id), me, other, Path(sync))
    elif sys.argv[1] == "importer":
        importer(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "tagger":
        tagger(sys.argv[2], sys.argv[3])
    else:
        pytest.exit(f"unknown role {sys.argv[1]}")
