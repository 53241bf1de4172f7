"""A folder of hostile files imported through the core, the CLI and a real subprocess.

Nothing may crash or print a traceback; each bad file is reported with its reason and
every good file lands in the catalog.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile import Expected, make_hostile_corpus, unlock

from app.cli import main
from app.core import importer
from app.core.catalog import Catalog
from app.core.context import AppContext
from app.core.importer import ImportReport, import_paths

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Expected]]]:
    folder = tmp_path_factory.mktemp("hostile") / "corpus"
    expected = make_hostile_corpus(folder)
    yield folder, expected
    unlock(folder)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep similarity indexes and logs out of the real data folder."""
    monkeypatch.setenv("VITRINA_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def shown(path: Path | str) -> str:
    """A path as messages show it: bytes that are not UTF-8 as backslash escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _name(folder: Path, path: Path | str) -> str:
    return os.path.relpath(path, folder).replace(os.sep, "/")


def outcomes(folder: Path, report: ImportReport, catalog: Catalog) -> dict[str, Expected]:
    """What the import did to each file, in the corpus's vocabulary."""
    seen: dict[str, Expected] = {}
    for photo_id in report.added:
        seen[_name(folder, catalog.get_photo(photo_id).path)] = Expected("imported")
    for duplicate in report.duplicates:
        seen[_name(folder, duplicate.path)] = Expected("duplicate")
    for failure in report.failures:
        seen[_name(folder, failure.path)] = Expected("failed", failure.reason)
    return seen


def mismatches(expected: dict[str, Expected], seen: dict[str, Expected]) -> list[str]:
    problems = []
    for name in sorted(set(expected) | set(seen)):
        want, got = expected.get(name), seen.get(name)
        if want is None or got is None or want.status != got.status:
            problems.append(f"{name!r}: expected {want}, got {got}")
        elif want.reason.lower() not in got.reason.lower():
            problems.append(f"{name!r}: reason should mention {want.reason!r}: {got.reason}")
    return problems


def test_corpus_has_enough_kinds(corpus: tuple[Path, dict[str, Expected]]) -> None:
    _, expected = corpus
    assert len(expected) >= 30
    assert {e.status for e in expected.values()} == {"imported", "failed", "duplicate"}


def test_core_import(corpus: tuple[Path, dict[str, Expected]], tiny_bundle: Path, tmp_path) -> None:
    folder, expected = corpus
    with AppContext(Catalog.open(tmp_path / "catalog.db"), tiny_bundle) as ctx:
        report = import_paths([folder], ctx)
        problems = mismatches(expected, outcomes(folder, report, ctx.catalog))
        assert not problems, "\n".join(problems)
        good = sorted(str(folder / n) for n, e in expected.items() if e.status == "imported")
        stored = sorted(ctx.catalog.get_photo(i).path for i in ctx.catalog.photo_ids())
        assert stored == good
        assert ctx.index is not None and ctx.index.ids() == set(report.added)
        for failure in report.failures:
            assert failure.reason.startswith(shown(failure.path)), failure.reason
        rotated = ctx.catalog.resolve(str(folder / "exif-rotated-6.jpg"))
        assert (rotated.width, rotated.height) == (40, 80)


def test_file_vanishing_after_listing(
    tmp_path: Path, tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "photos"
    make = folder / "stays.jpg", folder / "goes.jpg", folder / "goes-later.png"
    folder.mkdir()
    for i, path in enumerate(make):
        path.write_bytes((REPO / "tests" / "data" / "shirt.jpg").read_bytes() + bytes(i))
    listed = importer.collect_files

    def collect_then_delete(paths):
        files, failures = listed(paths)
        make[1].unlink()
        return files, failures

    read = importer.read_photo

    def delete_then_read(path):
        if path == make[2]:
            path.unlink()
        return read(path)

    monkeypatch.setattr(importer, "collect_files", collect_then_delete)
    monkeypatch.setattr(importer, "read_photo", delete_then_read)
    with AppContext(Catalog.open(tmp_path / "catalog.db"), tiny_bundle) as ctx:
        report = import_paths([folder], ctx)
    assert len(report.added) == 1
    reasons = {path.name: reason for path, reason in report.failures}
    assert set(reasons) == {"goes.jpg", "goes-later.png"}
    assert all("does not exist" in r or "No such file" in r for r in reasons.values()), reasons


def test_a_file_rewritten_during_import_gets_the_tags_of_the_bytes_hashed(
    tmp_path: Path, tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The catalog's content hash and the tags come from one read of the file."""
    first, second = (REPO / "tests" / "data" / name for name in ("shirt.jpg", "shoes.jpg"))
    folder = tmp_path / "photos"
    folder.mkdir()
    flipping = folder / "flipping.jpg"
    flipping.write_bytes(first.read_bytes())
    decode = importer.decode_photo

    def rewrite_then_decode(photo, min_size=0):
        flipping.write_bytes(second.read_bytes())  # the shoot tool saves over it meanwhile
        return decode(photo, min_size)

    monkeypatch.setattr(importer, "decode_photo", rewrite_then_decode)
    with AppContext(Catalog.open(tmp_path / "catalog.db"), tiny_bundle) as ctx:
        (photo_id,) = import_paths([folder], ctx).added
        stored = ctx.catalog.get_photo(photo_id)
        top = {p.family: p.confidence for p in ctx.catalog.predictions(photo_id) if p.rank == 1}
        of_first, of_second = (ctx.tagger.tag_file(path).probabilities for path in (first, second))
    assert stored.sha256 == hashlib.sha256(first.read_bytes()).hexdigest()
    assert top == pytest.approx({f: float(p.max()) for f, p in of_first.items()}, abs=1e-6)
    assert top != pytest.approx({f: float(p.max()) for f, p in of_second.items()}, abs=1e-6)


def test_cli_import(corpus: tuple[Path, dict[str, Expected]], tiny_bundle: Path, tmp_path) -> None:
    folder, expected = corpus
    out, err = io.StringIO(), io.StringIO()
    db = tmp_path / "catalog.db"
    code = main(["--db", str(db), "--bundle", str(tiny_bundle), "import", str(folder)], out, err)
    assert code == 1, err.getvalue()
    assert "Traceback" not in err.getvalue() and "unexpected error" not in err.getvalue()
    failures = [line for line in err.getvalue().splitlines() if line.startswith("failed: ")]
    for name, want in expected.items():
        if want.status == "failed":
            path = shown(folder / name)
            hits = [line for line in failures if path in line]
            assert hits and want.reason.lower() in hits[0].lower(), (name, hits)
    good = sum(e.status == "imported" for e in expected.values())
    assert f"Imported {good} photo(s), 1 duplicate(s)" in out.getvalue()
    with Catalog.open(db) as catalog:
        assert catalog.count() == good


def test_cli_subprocess(
    corpus: tuple[Path, dict[str, Expected]], tiny_bundle: Path, tmp_path: Path
) -> None:
    folder, expected = corpus
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONIOENCODING": ""}
    command = [sys.executable, "-m", "app", "--db", str(tmp_path / "c.db")]
    done = subprocess.run(
        [*command, "--bundle", str(tiny_bundle), "import", str(folder)],
        capture_output=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    stderr = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 1, stderr
    assert "Traceback" not in stderr and "unexpected error" not in stderr
    assert "Warning" not in stderr, stderr
    good = sum(e.status == "imported" for e in expected.values())
    assert f"Imported {good} photo(s)".encode() in done.stdout
    bad = sum(e.status == "failed" for e in expected.values())
    assert stderr.count("failed: ") == bad


def test_window_import(
    corpus: tuple[Path, dict[str, Expected]], tiny_bundle: Path, home: Path, qtbot
) -> None:
    from ui_helpers import open_window

    folder, expected = corpus
    window = open_window(qtbot, home / "catalog.db", tiny_bundle)
    with qtbot.waitSignal(window.import_finished, timeout=120_000) as finished:
        assert window.import_paths([folder])
    report = finished.args[0]
    problems = mismatches(expected, outcomes(folder, report, window.ctx.catalog))
    assert not problems, "\n".join(problems)
    shown_rows = dict(window.failures.rows())
    for name, want in expected.items():
        if want.status == "failed":
            qt_text = str(folder / name).encode("utf-8", "ignore").decode()  # Qt drops surrogates
            reason = shown_rows[qt_text]
            assert want.reason.lower() in reason.lower(), (name, reason)
    assert window.reporter.messages == []
    good = sum(e.status == "imported" for e in expected.values())
    assert window.ctx.catalog.count() == good
    qtbot.waitUntil(lambda: window.model.rowCount() == good, timeout=10_000)
