"""A broken bundle or a stale index at start: a clear message, never a crash or a traceback."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from tinybundle import make_tiny_bundle

from app.cli import main
from app.core.catalog import Catalog
from app.core.context import AppContext
from app.core.errors import BundleError


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VITRINA_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def _garbage_model(bundle: Path) -> None:
    (bundle / "model.onnx").write_bytes(b"\x08\x07garbage" * 50)


def _truncated_model(bundle: Path) -> None:
    data = (bundle / "model.onnx").read_bytes()
    (bundle / "model.onnx").write_bytes(data[: len(data) // 2])


def _empty_model(bundle: Path) -> None:
    (bundle / "model.onnx").write_bytes(b"")


def _edit_manifest(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def edit(bundle: Path) -> None:
        manifest = json.loads((bundle / "manifest.json").read_text())
        change(manifest)
        (bundle / "manifest.json").write_text(json.dumps(manifest))

    return edit


BROKEN = {
    "garbage onnx": (_garbage_model, "model.onnx"),
    "truncated onnx": (_truncated_model, "model.onnx"),
    "empty onnx": (_empty_model, "model.onnx"),
    "extra label": (
        _edit_manifest(lambda m: m["families"][0]["labels"].append("hat")),
        "manifest.json",
    ),
    "wrong output": (
        _edit_manifest(lambda m: m["families"][1].update(output="probs_nothing")),
        "manifest.json",
    ),
    "wrong dim": (_edit_manifest(lambda m: m["embedding"].update(dim=16)), "manifest.json"),
    "wrong size": (_edit_manifest(lambda m: m["input"].update(size=[64, 64])), "manifest.json"),
    "wrong input name": (
        _edit_manifest(lambda m: m["input"].update(name="pixels")),
        "manifest.json",
    ),
    "manifest not json": (
        lambda b: (b / "manifest.json").write_text("{not json"),
        "manifest.json",
    ),
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_broken_bundle_is_a_clear_error(
    kind: str, tiny_bundle: Path, photos_dir: Path, tmp_path: Path
) -> None:
    breaks, names = BROKEN[kind]
    breaks(tiny_bundle)
    with AppContext(Catalog.open(tmp_path / "c.db"), tiny_bundle) as ctx:
        with pytest.raises(BundleError) as info:
            _ = ctx.tagger
        assert names in str(info.value)
    code, _, err = cli(
        "--db", str(tmp_path / "c.db"), "--bundle", str(tiny_bundle), "import", str(photos_dir)
    )
    assert code == 2
    assert err.startswith("vitrina: ") and names in err
    assert "Traceback" not in err and "unexpected error" not in err
    code, out, err = cli("--db", str(tmp_path / "c.db"), "--bundle", str(tiny_bundle), "stats")
    assert code == 0 and "photos: 0" in out, err


@pytest.mark.parametrize("change", ["another model", "another dim"])
def test_index_of_another_bundle_is_rebuilt_with_a_message(
    change: str, tiny_bundle: Path, photos_dir: Path, tmp_path: Path
) -> None:
    db = str(tmp_path / "c.db")
    code, out, err = cli("--db", db, "--bundle", str(tiny_bundle), "import", str(photos_dir))
    assert code == 0, err
    other = tmp_path / "other"
    if change == "another model":
        make_tiny_bundle(other, seed=7)
    else:
        make_tiny_bundle(other, dim=12)
    code, out, err = cli("--db", db, "--bundle", str(other), "similar", "1", "-k", "3")
    assert "Traceback" not in err and "unexpected error" not in err
    assert "similarity index was built by bundle" in err and "vitrina reindex" in err
    assert code == 2 and "has no embedding from bundle" in err
    code, out, err = cli("--db", db, "--bundle", str(other), "reindex")
    assert code == 0, err
    code, out, err = cli("--db", db, "--bundle", str(other), "similar", "1", "-k", "3")
    assert code == 0 and out.count("photo ") == 4 and err == "", err


@pytest.mark.parametrize("damaged", ["index.bin", "index.json"])
def test_damaged_index_is_rebuilt_with_a_message(
    damaged: str, tiny_bundle: Path, photos_dir: Path, tmp_path: Path
) -> None:
    db = str(tmp_path / "c.db")
    assert cli("--db", db, "--bundle", str(tiny_bundle), "import", str(photos_dir))[0] == 0
    index_files = list(tmp_path.rglob(damaged))
    assert len(index_files) == 1
    index_files[0].write_bytes(b"\x00" * 100)
    code, out, err = cli("--db", db, "--bundle", str(tiny_bundle), "similar", "1", "-k", "3")
    assert code == 0 and out.count("photo ") == 4
    assert "Rebuilding it now" in err and "Traceback" not in err


def test_window_opens_with_a_broken_bundle(tiny_bundle: Path, home: Path, qtbot) -> None:
    from ui_helpers import open_window

    _garbage_model(tiny_bundle)
    window = open_window(qtbot, home / "c.db", tiny_bundle)
    reporter = window.reporter
    assert window.ctx is not None
    assert not window.import_paths([home])
    assert reporter.messages == []
    shutil.rmtree(tiny_bundle)
