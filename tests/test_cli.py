"""The `vitrina` command line, driven through ``main([...])``, plus one real subprocess."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from app import cli

REPO = Path(__file__).resolve().parents[1]


class Run:
    """Calls ``cli.main`` on one catalog and bundle, capturing stdout and stderr."""

    def __init__(self, db: Path, bundle: Path) -> None:
        self.db, self.bundle = db, bundle
        self.out = self.err = ""

    def __call__(self, *args: str, bundle: Path | None = None) -> int:
        out, err = io.StringIO(), io.StringIO()
        base = ["--db", str(self.db), "--bundle", str(bundle or self.bundle)]
        code = cli.main([*base, *args], out=out, err=err)
        self.out, self.err = out.getvalue(), err.getvalue()
        assert "Traceback" not in self.out + self.err
        return code


@pytest.fixture
def run(tmp_path: Path, tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("VITRINA_HOME", str(tmp_path / "home"))
    return Run(tmp_path / "catalog.sqlite", tiny_bundle)


@pytest.fixture
def imported(run: Run, photos_dir: Path) -> Run:
    assert run("import", str(photos_dir)) == cli.OK
    return run


def test_import_reports_summary_and_failures(run: Run, photos_dir: Path) -> None:
    (photos_dir / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    assert run("import", str(photos_dir)) == cli.SOME_FAILED
    assert "Imported 8 photo(s), 0 duplicate(s), 1 failed" in run.out
    assert "failed: " in run.err and "broken.jpg" in run.err
    assert run("import", str(photos_dir / "hat.jpg")) == cli.OK
    assert "duplicate: " in run.out


def test_import_of_a_moved_folder_says_where_the_photos_went(
    imported: Run, photos_dir: Path, tmp_path: Path
) -> None:
    moved = photos_dir.rename(tmp_path / "moved")
    assert imported("import", str(moved)) == cli.OK
    assert f"moved: {moved / 'hat.jpg'} (was {photos_dir / 'hat.jpg'}" in imported.out
    assert "0 duplicate(s), 8 found at a new path, 0 failed" in imported.out


def test_a_reader_that_stops_early_is_not_an_error(imported: Run) -> None:
    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    err = io.StringIO()
    argv = ["--db", str(imported.db), "--bundle", str(imported.bundle), "show", "1"]
    assert cli.main(argv, out=ClosedPipe(), err=err) == cli.OK
    assert err.getvalue() == ""


def test_missing_bundle_says_how_to_get_one(run: Run, tmp_path: Path, photos_dir: Path) -> None:
    assert run("import", str(photos_dir), bundle=tmp_path / "nowhere") == cli.FATAL
    assert "models_onnx/default" in run.err and "VITRINA_BUNDLE" in run.err
    assert "vitrina-train" in run.err


def test_commands_without_a_model_work_without_a_bundle(imported: Run, tmp_path: Path) -> None:
    nowhere = tmp_path / "nowhere"
    assert imported("stats", bundle=nowhere) == cli.OK
    assert "photos: 8" in imported.out
    assert imported("show", "1", bundle=nowhere) == cli.OK
    assert imported("accept", "1", "colour", bundle=nowhere) == cli.OK
    assert imported("export", bundle=nowhere) == cli.OK


def test_show_lists_suggestions_per_family(imported: Run) -> None:
    assert imported("show", "1") == cli.OK
    assert "photo 1:" in imported.out
    assert "category" in imported.out and "colour" in imported.out
    assert "runner-ups:" in imported.out
    assert "confident" in imported.out or "uncertain" in imported.out


def test_accept_reject_set_and_free_tags(imported: Run) -> None:
    assert imported("accept", "1", "colour") == cli.OK
    label = imported.out.split("= ")[1].split(" ")[0]
    assert imported("accept", "2", "colour", "purple") == cli.FATAL
    assert "vitrina set 2 colour purple" in imported.err
    assert imported("reject", "2", "colour", "red") == cli.OK
    assert imported("set", "3", "category", "dress") == cli.OK
    assert imported("set", "3", "category", "robe") == cli.FATAL
    assert "labels are t-shirt, pants, shoes, dress" in imported.err
    assert imported("set", "3", "material", "silk") == cli.FATAL
    assert imported("tag", "3", "summer sale") == cli.OK
    assert imported("accept", "4", "--all-confident") == cli.OK
    assert imported("show", "3") == cli.OK
    assert "[accepted: dress, by human]" in imported.out
    assert "free tags: summer sale" in imported.out
    assert imported("untag", "3", "summer sale") == cli.OK
    assert imported("untag", "3", "summer sale") == cli.FATAL
    assert imported("show", "1") == cli.OK
    assert f"[accepted: {label}" in imported.out


def test_unknown_photo_is_a_clear_error(imported: Run) -> None:
    assert imported("show", "999") == cli.FATAL
    assert "999" in imported.err and "not in the catalog" in imported.err


def test_remove_keeps_accepted_tags_unless_told(imported: Run, photos_dir: Path) -> None:
    assert imported("accept", "1", "colour") == cli.OK
    assert imported("remove", "1", "2") == cli.FATAL
    assert "1 accepted tag(s)" in imported.err and "--yes" in imported.err
    assert imported("stats") == cli.OK and "photos: 8" in imported.out
    assert imported("remove", "2", str(photos_dir / "longsleeve.jpg")) == cli.OK
    assert "Removed 2 photo(s)" in imported.out and "files stay on disk" in imported.out
    assert (photos_dir / "longsleeve.jpg").is_file()
    assert imported("remove", "1", "--yes") == cli.OK
    assert imported("show", "1") == cli.FATAL
    assert imported("similar", "4", "-k", "10") == cli.OK
    listed = [line for line in imported.out.splitlines() if line.strip()[:1].isdigit()]
    assert len(listed) == 4
    assert not any(name in line for line in listed for name in ("hat", "longsleeve", "dress"))
    assert imported("stats") == cli.OK and "photos: 5" in imported.out


def test_similar_by_id_and_by_outside_file(imported: Run, tmp_path: Path) -> None:
    assert imported("similar", "1", "-k", "3") == cli.OK
    lines = [line for line in imported.out.splitlines() if line.strip()[:1].isdigit()]
    assert len(lines) == 3 and all("photo 1:" not in line for line in lines)
    outside = tmp_path / "outside.png"
    from PIL import Image

    Image.new("RGB", (40, 30), (20, 40, 220)).save(outside)
    assert imported("similar", str(outside), "-k", "2") == cli.OK
    assert imported.out.count("photo ") == 2
    assert imported("stats") == cli.OK and "photos: 8" in imported.out


def test_export_csv_json_and_xmp(imported: Run, tmp_path: Path, photos_dir: Path) -> None:
    assert imported("set", "1", "category", "dress") == cli.OK
    assert imported("tag", "1", "=HYPERLINK(1)") == cli.OK
    assert imported("export") == cli.OK
    rows = list(csv.DictReader(io.StringIO(imported.out)))
    assert len(rows) == 8 and rows[0]["category"] == "dress"
    assert rows[0]["free_tags"] == "'=HYPERLINK(1)"
    target = tmp_path / "out.json"
    assert imported("export", "--format", "json", "--accepted-only", "-o", str(target)) == 0
    data = json.loads(target.read_text(encoding="utf-8"))
    assert [p["tags"] for p in data] == [{"category": "dress"}]
    assert imported("xmp") == cli.OK
    assert "Wrote 1 sidecar(s)" in imported.out
    assert len(list(photos_dir.glob("*.xmp"))) == 1
    assert imported("xmp", "--out-dir", str(tmp_path / "side")) == cli.OK
    assert len(list((tmp_path / "side").glob("*.xmp"))) == 1


def test_reindex_rebuilds_and_retags_for_a_new_bundle(imported: Run, tmp_path: Path) -> None:
    from tinybundle import make_tiny_bundle

    other = make_tiny_bundle(tmp_path / "other", name="other", seed=5)
    assert imported("reindex", bundle=other) == cli.OK
    assert "re-tagged 8 photo(s)" in imported.out
    assert imported("similar", "2", "-k", "1", bundle=other) == cli.OK


def test_usage_errors_exit_2_and_help_exits_0(run: Run) -> None:
    assert run("frobnicate") == cli.FATAL
    assert run("--help") == cli.OK
    assert run("similar", "1", "-k", "0") == cli.FATAL


def test_bad_catalog_is_a_message_not_a_traceback(run: Run, tmp_path: Path) -> None:
    run.db = tmp_path / "not-a-db.sqlite"
    run.db.write_text("hello")
    assert run("stats") == cli.FATAL
    assert "not-a-db.sqlite" in run.err


def test_ctrl_c_exits_130(run: Run, photos_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("app.cli_commands.import_paths", interrupted)
    assert run("import", str(photos_dir)) == cli.INTERRUPTED
    assert "interrupted" in run.err


def test_no_command_opens_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    fake = types.ModuleType("app.ui.main")
    fake.run = lambda **kwargs: calls.append(kwargs) or 0
    monkeypatch.setitem(sys.modules, "app.ui.main", fake)
    assert cli.main(["--db", "x.sqlite"]) == cli.OK
    assert calls == [{"db": "x.sqlite", "bundle": None}]


def test_entry_point_runs_as_a_process(tmp_path: Path) -> None:
    env = {"VITRINA_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "app", "--db", str(tmp_path / "c.sqlite")]
    ok = subprocess.run([*command, "stats"], cwd=REPO, env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "photos: 0" in ok.stdout
    bad = subprocess.run([*command, "show", "7"], cwd=REPO, env=env, capture_output=True, text=True)
    assert bad.returncode == 2
    assert "not in the catalog" in bad.stderr and "Traceback" not in bad.stderr


def test_import_tags_applies_an_edited_export(imported: Run, tmp_path: Path) -> None:
    assert imported("set", "1", "colour", "red") == cli.OK
    exported = tmp_path / "tags.csv"
    assert imported("export", "--format", "csv", "--accepted-only", "-o", str(exported)) == cli.OK
    rows = list(csv.DictReader(io.StringIO(exported.read_text(encoding="utf-8"))))
    column = next(name for name in rows[0] if "colour" in name)
    rows[0][column] = "blue"
    with exported.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert imported("import-tags", str(exported)) == cli.OK
    assert "Wrote 1 tag(s) on 1 photo(s)" in imported.out
    assert imported("show", rows[0]["path"]) == cli.OK
    assert "blue" in imported.out
