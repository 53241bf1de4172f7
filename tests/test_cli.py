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
from cli_fixtures import Run

from app import cli

REPO = Path(__file__).resolve().parents[1]


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
    assert imported("set", "3", "category", "Robe") == cli.OK
    assert "category = robe (set) (not a category of the bundle" in imported.out
    assert imported("set", "3", "material", "silk") == cli.FATAL
    assert imported("tag", "3", "summer sale") == cli.OK
    assert imported("accept", "4", "--all-confident") == cli.OK
    assert imported("show", "3") == cli.OK
    assert "[accepted: robe, by human]" in imported.out
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
    assert "1 of the 2 photos carry accepted tags (1 in all): photo 1 (1)" in imported.err
    assert "--yes" in imported.err
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
    assert len(list((tmp_path / "side").rglob("*.xmp"))) == 1


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


# --- issue 21: messages a new user and a hostile tester met ---------------------------------


def needs_bundle(name: str) -> bool:
    return next(c for c in cli.COMMANDS if c.name == name).needs_bundle


@pytest.mark.parametrize(
    "args",
    [
        ("import", "x.jpg"),
        ("set", "1", "colour", "red"),
        ("similar", "1"),
        ("reindex",),
        ("thresholds",),
        ("import-tags", "tags.csv"),
    ],
)
def test_a_bad_bundle_leaves_no_new_catalog(run: Run, tmp_path: Path, args: tuple) -> None:
    assert needs_bundle(args[0])
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{not json", encoding="utf-8")
    for bundle in (tmp_path / "nowhere", broken):
        assert run(*args, bundle=bundle) == cli.FATAL
        assert str(bundle) in run.err
        assert not run.db.exists() and not run.db.with_name(run.db.name + "-wal").exists()


def test_index_upkeep_is_logged_not_printed_by_an_import(
    run: Run, photos_dir: Path, tmp_path: Path
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, names in ((first, "dress hat"), (second, "pants shirt skirt")):
        folder.mkdir()
        for name in names.split():
            (photos_dir / f"{name}.jpg").rename(folder / f"{name}.jpg")
    assert run("import", str(first)) == cli.OK
    assert run("import", str(second)) == cli.OK
    assert run.err == ""
    log = (tmp_path / "home" / "vitrina.log").read_text(encoding="utf-8")
    assert "import: Similarity index brought in line" in log
    (run.db.with_name("catalog.index") / "index.json").write_text("{}")
    assert run("similar", "1") == cli.OK
    assert "Rebuilding it now" in run.err  # similar is about the index: it says so


def test_an_outside_file_that_is_not_there_says_no_such_file(imported: Run) -> None:
    assert imported("similar", "/no/such.jpg") == cli.FATAL
    assert "/no/such.jpg: no such file" in imported.err
    assert imported("similar", "a" * 5000) == cli.FATAL
    assert "cannot be read (File name too long)" in imported.err
    assert len(imported.err) < 400 and "unexpected" not in imported.err


def test_an_unknown_id_names_the_catalog_file(imported: Run) -> None:
    assert imported("show", "99") == cli.FATAL
    assert f"Photo 99 is not in the catalog {imported.db};" in imported.err
    assert "Catalog(" not in imported.err


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("show", "²"), "'²' is not a photo id"),
        (("show", "/x/\x00.jpg"), "holds a NUL"),
        (("tag", "1", "\udcff"), "bytes that are not UTF-8"),
        (("tag", "1", "bell\x07"), "control character"),
        (("tag", "1", "x" * 300), "a tag holds at most 200"),
        (("untag", "1", "\udcff"), "bytes that are not UTF-8"),
        (("reject", "1", "colour", "\udcff"), "bytes that are not UTF-8"),
    ],
)
def test_odd_arguments_get_a_clear_message(imported: Run, args: tuple, said: str) -> None:
    assert imported(*args) == cli.FATAL
    assert said in imported.err and "unexpected" not in imported.err


def test_remove_counts_accepted_tags_photo_by_photo(imported: Run) -> None:
    assert imported("set", "1", "colour", "red") == cli.OK
    assert imported("tag", "1", "sale") == cli.OK
    assert imported("accept", "3", "colour") == cli.OK
    assert imported("remove", "1", "2", "3") == cli.FATAL
    assert "2 of the 3 photos carry accepted tags (3 in all): photo 1 (2), photo 3 (1)" in (
        imported.err
    )
    assert imported("remove", "2") == cli.OK
    assert imported("remove", "3") == cli.FATAL
    assert "Photo 3 carries 1 accepted tag(s)" in imported.err


def test_thresholds_is_a_table(run: Run, tmp_path: Path) -> None:
    from tinybundle import make_tiny_bundle

    bundle = make_tiny_bundle(tmp_path / "calibrated")
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    manifest["families"][0]["calibration"] = {
        "target_precision": 0.95,
        "precision": 0.956,
        "coverage": 0.8408,
        "split": "validation, n=2243",
        "unreached": ["clothing"],
        "by_source": {"catalog": {"n": 1551, "coverage": 0.8878, "precision": 0.9579}},
        "held_out": {
            "split": "each source scored by heads trained without it",
            "threshold": 0.73,
            "unreached": ["dresses"],
            "by_source": {"dresses": {"n": 7313, "coverage": 0.278, "precision": 0.979}},
        },
    }
    manifest["families"][1]["calibration"] = {"target_precision": 0.9, "unreached": ["clothing"]}
    (bundle / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert run("thresholds", bundle=bundle) == cli.OK
    assert "{" not in run.out and "[" not in run.out
    lines = run.out.splitlines()
    header = "family threshold set on target precision coverage confident in catalog"
    assert lines[1].split() == header.split()
    assert lines[2].split()[1:6] == ["0.50", "validation", "0.950", "0.956", "84%"]
    assert "target not reached on clothing" in run.out
    assert "catalog: n 1551, coverage 89%, precision 0.958" in run.out
    assert lines[-1] == "  every family: target not reached on clothing"
    assert lines[-2].startswith("  category: split: validation, n=2243; catalog: n 1551")
    assert lines[-2].endswith(
        "held out (each source scored by heads trained without it): threshold: 0.730; "
        "target not reached on dresses; dresses: n 7313, coverage 28%, precision 0.979"
    )


def test_importing_an_empty_folder_says_what_it_looked_for(run: Run, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run("import", str(empty)) == cli.OK
    assert "photos/s" not in run.out
    assert f"no photos found in {empty}" in run.err and ".jpg" in run.err


def test_a_newline_in_a_file_name_stays_on_its_report_line(imported: Run, photos_dir: Path) -> None:
    import shutil

    odd, undecodable = photos_dir / "new\nline.jpg", photos_dir / "new\nline\udcff.jpg"
    shutil.copy(photos_dir / "hat.jpg", odd)
    shutil.copy(photos_dir / "hat.jpg", undecodable)
    assert imported("import", str(odd), str(undecodable)) == cli.SOME_FAILED
    [line] = [line for line in imported.out.splitlines() if line.startswith("duplicate:")]
    assert line.startswith(f"duplicate: {photos_dir}/new\\nline.jpg (same content as")
    [line] = [line for line in imported.err.splitlines() if line.startswith("failed:")]
    assert line.startswith(f"failed: {photos_dir}/new\\nline\\xff.jpg: ")


def test_set_and_import_tags_take_labels_as_a_spreadsheet_leaves_them(
    imported: Run, tmp_path: Path
) -> None:
    assert imported("set", "1", " Colour", "RED ") == cli.OK
    assert "photo 1: colour = red (set)" in imported.out
    assert imported("export", "--accepted-only", "-o", str(tmp_path / "t.csv")) == cli.OK
    text = (tmp_path / "t.csv").read_text(encoding="utf-8").replace(",red,", ", Blue ,")
    (tmp_path / "t.csv").write_text(text.replace("colour", "Colour"), encoding="utf-8")
    assert imported("import-tags", str(tmp_path / "t.csv")) == cli.OK
    assert imported("show", "1") == cli.OK and "[accepted: blue, by human]" in imported.out


def test_import_tags_needs_the_bundle_and_stops_on_ctrl_c(
    imported: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tags = tmp_path / "tags.csv"
    tags.write_text("path,colour,free_tags\n" + "".join(f"{n},red,x\n" for n in range(3)))
    assert imported("import-tags", str(tags), bundle=tmp_path / "nowhere") == cli.FATAL
    assert "No model bundle" in imported.err

    def stopped(self: cli.Interrupt) -> cli.Interrupt:
        self.requested = True
        return self

    monkeypatch.setattr(cli.Interrupt, "__enter__", stopped)
    assert imported("import-tags", str(tags)) == cli.INTERRUPTED
    assert "Stopped after row 0 of 3." in imported.out
