"""`vitrina learn` end to end on the tiny bundle: reviews arrive by import-tags in the
shop's own colour names, learning turns them into suggestions of the rest, export shows
where each suggestion came from, and --forget gives the bundle's back."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tinybundle import make_tiny_bundle

from app import cli

# The shop sells two colours the tiny bundle has no name for.
SHOP = {"tangerine": (245, 140, 30), "violet": (140, 40, 200)}


def run(db: Path, bundle: Path, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["--db", str(db), "--bundle", str(bundle), *args], out=out, err=err)
    assert "Traceback" not in out.getvalue() + err.getvalue()
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def shoot(tmp_path: Path) -> dict[Path, str]:
    """80 photos, each one of the shop's colours with some light and noise."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "shoot"
    folder.mkdir()
    truth = {}
    for i in range(80):
        name = ("tangerine", "violet")[i % 2]
        base = np.array(SHOP[name], dtype=np.float64) * rng.uniform(0.8, 1.1)
        pixels = np.clip(base + rng.normal(0, 12, size=(24, 24, 3)), 0, 255).astype(np.uint8)
        path = folder / f"p{i:02d}.png"
        Image.fromarray(pixels).save(path)
        truth[path] = name
    return truth


def test_a_catalog_learns_the_shops_own_colour_names(
    tmp_path: Path, tiny_bundle: Path, shoot: dict[Path, str], monkeypatch
) -> None:
    monkeypatch.setenv("VITRINA_HOME", str(tmp_path / "home"))
    db = tmp_path / "catalog.sqlite"
    assert run(db, tiny_bundle, "import", str(next(iter(shoot)).parent))[0] == cli.OK
    reviewed = dict(list(shoot.items())[:50])
    tags = tmp_path / "reviews.csv"
    tags.write_text(
        "path,colour\n" + "".join(f"{p},{name.title()}\n" for p, name in reviewed.items())
    )
    code, out, _ = run(db, tiny_bundle, "import-tags", str(tags))
    assert code == cli.OK and "kept as this shop's own" in out and "'tangerine' (25)" in out

    code, out, _ = run(db, tiny_bundle, "learn")
    assert code == cli.OK
    colour = next(line for line in out.splitlines() if line.startswith("colour:"))
    assert "50 reviews, applied" in colour and "threshold" in colour
    assert "new labels suggested now: tangerine, violet" in out
    assert "category: 0 reviews, not applied" in out  # nothing reviewed there: it says so

    code, out, _ = run(db, tiny_bundle, "export", "--format", "csv")
    rows = {row["path"]: row for row in csv.DictReader(io.StringIO(out))}
    rest = [p for p in shoot if p not in reviewed]
    assert all(rows[str(p)]["colour_suggestion"] == shoot[p] for p in rest)
    code, out, _ = run(db, tiny_bundle, "export", "--format", "json")
    suggestions = {photo["path"]: photo["suggestions"]["colour"] for photo in json.loads(out)}
    assert {suggestions[str(p)]["source"] for p in rest} == {"learned"}
    assert sum(suggestions[str(p)]["confident"] for p in rest) >= len(rest) * 0.4

    code, out, _ = run(db, tiny_bundle, "thresholds")
    assert "this catalog's reviews" in out

    code, out, _ = run(db, tiny_bundle, "learn", "--forget")
    assert code == cli.OK and "Forgot 1 learned correction(s)" in out
    code, out, _ = run(db, tiny_bundle, "export", "--format", "json")
    assert {photo["suggestions"]["colour"]["source"] for photo in json.loads(out)} == {"bundle"}
    assert {photo["suggestions"]["colour"]["label"] for photo in json.loads(out)} <= {
        "red",
        "green",
        "blue",
        "white",
        "black",
    }


def test_nothing_to_learn_is_said_plainly(tmp_path: Path, tiny_bundle: Path, monkeypatch) -> None:
    monkeypatch.setenv("VITRINA_HOME", str(tmp_path / "home"))
    code, out, _ = run(tmp_path / "c.sqlite", tiny_bundle, "learn")
    assert code == cli.OK and "Nothing learned" in out and "0 usable reviews" in out
    plain = make_tiny_bundle(tmp_path / "plain", features=False)
    code, out, _ = run(tmp_path / "c.sqlite", plain, "learn")
    assert code == cli.OK and "has no features output" in out


def test_learning_with_one_colour_only_keeps_the_bundle(
    tmp_path: Path, tiny_bundle: Path, shoot: dict[Path, str], monkeypatch
) -> None:
    """A hostile review set: every accepted colour is the same, so nothing can be told apart."""
    monkeypatch.setenv("VITRINA_HOME", str(tmp_path / "home"))
    db = tmp_path / "catalog.sqlite"
    run(db, tiny_bundle, "import", str(next(iter(shoot)).parent))
    tags = tmp_path / "reviews.csv"
    tags.write_text("path,colour\n" + "".join(f"{p},red\n" for p in list(shoot)[:40]))
    run(db, tiny_bundle, "import-tags", str(tags))
    code, out, _ = run(db, tiny_bundle, "learn")
    assert code == cli.OK and "every accepted colour is 'red'" in out and "Nothing learned" in out
