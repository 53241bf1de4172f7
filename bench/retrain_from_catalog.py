"""docs/training.md's "Retrain from your catalog", lived on a shop of worn dresses: the
dresses of the test split (never trained on), in file-name order, are the shop's photos;
the first 40 % are imported and reviewed with their labels, exported (step 1), a bundle is
fit from the shipped default with them (step 2), and both bundles are evaluated on the
other 60 % (step 3). Reports land in .cache/reports/{myshop-test,myshop-later,default-later}.

    python -m bench.retrain_from_catalog
"""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

from bench.models import REPO
from training.datasets import load_data, split

DATA = [REPO.parent / "shared" / "datasets" / name for name in ("clothing", "catalog", "dresses")]
FAMILIES = ("category", "colour", "pattern", "sleeve")
WORK = REPO / ".cache" / "demo"


def _shop() -> tuple[Path, Path]:
    """The shop's reviewed folder and the labels of its later photos."""
    photos = split(load_data(DATA), 0)["test"]
    dresses = sorted((p for p in photos if p.source == "dresses"), key=lambda p: p.path.name)
    cut = int(len(dresses) * 0.4)
    for name, part in (("reviewed", dresses[:cut]), ("later", dresses[cut:])):
        folder = WORK / "shop" / name
        folder.mkdir(parents=True, exist_ok=True)
        with (WORK / f"{name}-labels.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", *FAMILIES])
            for photo in part:
                link = folder / photo.path.name
                if not link.exists():
                    link.symlink_to(photo.path.resolve())
                writer.writerow([link.absolute(), *(photo.labels.get(f, "") for f in FAMILIES)])
    return WORK / "shop" / "reviewed", WORK / "later-labels.csv"


def main() -> None:
    reviewed, later = _shop()
    db, corrections = WORK / "shop.sqlite", WORK / "corrections.csv"
    for stale in WORK.glob("shop.sqlite*"):
        stale.unlink()
    data = [str(d) for d in DATA]
    steps = [
        ["vitrina", "--db", db, "import", reviewed],
        ["vitrina", "--db", db, "import-tags", WORK / "reviewed-labels.csv"],
        ["vitrina", "--db", db, "export", "--format", "csv", "--accepted-only", "-o", corrections],
        ["vitrina-train", "fit", "--data", *data, "--extra-train", corrections,
         "--out", ".cache/bundles/myshop", "--report", ".cache/reports/myshop-test"],
        ["vitrina-train", "evaluate", ".cache/bundles/myshop", later,
         "--out", ".cache/reports/myshop-later"],
        ["vitrina-train", "evaluate", "models_onnx/default", later,
         "--out", ".cache/reports/default-later"],
    ]  # fmt: skip
    for step in steps:
        subprocess.run([str(part) for part in step], check=True, cwd=REPO)


if __name__ == "__main__":
    main()
