"""Contact sheets for hand-labelling and collecting the labels into a checked-labels CSV."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from PIL import Image

from training.datasets import DatasetError
from training.labelling import collect, make_sheets

DATA_DIR = Path(__file__).resolve().parent / "data"


@pytest.fixture
def consumer_dataset(tmp_path: Path) -> Path:
    """A folder the shipped clothing label map reads: 10 photos, one excluded."""
    root = tmp_path / "clothing"
    (root / "images").mkdir(parents=True)
    rows = ["image,category,kids"]
    for i in range(10):
        source = sorted(DATA_DIR.glob("*.jpg"))[i % 8]
        shutil.copy(source, root / "images" / f"{i}.jpg")
        rows.append(f"images/{i}.jpg,{'Skip' if i == 9 else 'T-Shirt'},False")
    (root / "labels.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


def _label(sheet: Path, rows: list[str]) -> None:
    sheet.with_suffix(".csv").write_text("index,colour,pattern\n" + "\n".join(rows) + "\n")


def test_sheets_then_collect(consumer_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "sheets"
    assert make_sheets(consumer_dataset, out, count=20, seed=1, per_sheet=4) == 9
    txts = sorted(out.glob("sheet_*.txt"))
    assert [len(t.read_text().split()) for t in txts] == [4, 4, 1]
    assert Image.open(txts[0].with_suffix(".jpg")).size == (6 * 200, 218)
    drawn = [line for t in txts for line in t.read_text().split()]
    assert sorted(drawn) == [f"images/{i}.jpg" for i in range(9)]  # "Skip" is not drawn

    _label(txts[0], ["0,white,solid", "1,navy,striped", "2,multi,checked", "3,unsure,unsure"])
    _label(txts[1], ["0,red,floral", "1,black,printed", "2,grey,polka dot", "3,beige,solid"])
    _label(txts[2], ["0,pink,"])
    into = tmp_path / "checked.csv"
    assert collect(out, into) == 9
    with into.open(newline="") as handle:
        merged = {row["image"]: row for row in csv.DictReader(handle)}
    first = txts[0].read_text().split()
    assert merged[first[1]]["colour"] == "navy" and merged[first[1]]["pattern"] == "striped"
    assert merged[txts[2].read_text().split()[0]]["pattern"] == ""

    again = make_sheets(consumer_dataset, out, count=20, seed=1, skip=into)
    assert again == 0


def test_collect_names_the_sheet_and_tile_of_a_bad_value(
    consumer_dataset: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sheets"
    make_sheets(consumer_dataset, out, count=2, seed=0, per_sheet=2)
    sheet = out / "sheet_000.txt"
    _label(sheet, ["0,white,solid", "1,teal,solid"])
    with pytest.raises(DatasetError, match=r"sheet_000.csv, tile 1: colour 'teal'"):
        collect(out, tmp_path / "x.csv")
    _label(sheet, ["0,white,solid"])
    with pytest.raises(DatasetError, match="one row per tile"):
        collect(out, tmp_path / "x.csv")


def test_a_mapped_dataset_gets_its_checked_labels(tmp_path: Path) -> None:
    """clothing.json names clothing_checked.csv: a photo listed there gets those labels,
    marked as checked, and keeps the mapped ones for the split."""
    from training.datasets import load_mapped
    from training.labelmaps import LabelMap

    image, checked = next(
        (image, labels)
        for image, labels in LabelMap.load("clothing").checked_labels().items()
        if None not in labels.values()
    )
    root = tmp_path / "clothing"
    (root / "images").mkdir(parents=True)
    shutil.copy(sorted(DATA_DIR.glob("*.jpg"))[0], root / image)
    shutil.copy(sorted(DATA_DIR.glob("*.jpg"))[1], root / "images" / "other.jpg")
    (root / "labels.csv").write_text(
        f"image,category,kids\n{image},T-Shirt,False\nimages/other.jpg,Dress,False\n"
    )
    first, second = load_mapped(root)
    assert first.labels == {"category": "t-shirt", "sleeve": "short"} | checked
    assert first.checked == frozenset(checked)
    assert first.split_labels() == {"category": "t-shirt", "sleeve": "short"}
    assert second.labels == {"category": "dress"} and not second.checked


def test_checked_pattern_only_where_the_map_gives_patterns() -> None:
    from training.labelmaps import LabelMap

    catalog, clothing = LabelMap.load("catalog"), LabelMap.load("clothing")
    assert catalog.pattern_applies({"category": "t-shirt"})
    assert not catalog.pattern_applies({"category": "watch"})
    assert clothing.pattern_applies({"category": "shoes"})


def test_unsure_drops_the_mapped_label(tmp_path: Path) -> None:
    """A shop colour the labeller could not confirm ("unsure"/"multi") is not trusted."""
    from training.datasets import load_mapped
    from training.labelmaps import LabelMap

    image = next(
        image
        for image, labels in LabelMap.load("catalog").checked_labels().items()
        if labels.get("colour") is None
    )
    root = tmp_path / "catalog"
    (root / "images").mkdir(parents=True)
    shutil.copy(sorted(DATA_DIR.glob("*.jpg"))[0], root / image)
    header = "id,gender,masterCategory,subCategory,articleType,baseColour,season,year,usage,"
    (root / "labels.csv").write_text(
        f"image,{header}productDisplayName\n"
        f"{image},{Path(image).stem},Men,Apparel,Topwear,Tshirts,Red,Summer,2012,Casual,"
        "Roadster Men Solid Red T-shirt\n"
    )
    (photo,) = load_mapped(root)
    assert "colour" not in photo.labels and "colour" in photo.checked
    assert photo.split_labels()["colour"] == "red"
