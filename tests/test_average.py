"""Averaging backbone checkpoints (``vitrina-train average``): the mean, and clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.train

import torch  # noqa: E402

from training.average import AverageError, average_checkpoints  # noqa: E402
from training.backbones import BackboneError  # noqa: E402
from training.cli import main  # noqa: E402


def _save(path: Path, **tensors: torch.Tensor) -> Path:
    torch.save(tensors, path)
    return path


def test_average_is_the_mean_and_keeps_counters(tmp_path: Path) -> None:
    a = _save(tmp_path / "a.pt", w=torch.tensor([1.0, 2.0]), n=torch.tensor(7))
    b = _save(tmp_path / "b.pt", w=torch.tensor([3.0, 6.0]), n=torch.tensor(7))
    out = tmp_path / "soup" / "mean.pt"
    assert main(["average", str(a), str(b), "--out", str(out)]) == 0
    averaged = torch.load(out)
    assert torch.equal(averaged["w"], torch.tensor([2.0, 4.0]))
    assert averaged["w"].dtype == torch.float32
    assert int(averaged["n"]) == 7


@pytest.mark.parametrize(
    ("second", "message"),
    [
        ({"v": torch.zeros(2), "n": torch.tensor(7)}, "other layers"),
        ({"w": torch.zeros(3), "n": torch.tensor(7)}, r"w is \(3,\)"),
        ({"w": torch.zeros(2), "n": torch.tensor(8)}, "n differs"),
    ],
)
def test_checkpoints_of_other_backbones_are_refused(
    tmp_path: Path, second: dict, message: str
) -> None:
    a = _save(tmp_path / "a.pt", w=torch.zeros(2), n=torch.tensor(7))
    b = _save(tmp_path / "b.pt", **second)
    with pytest.raises(AverageError, match=message):
        average_checkpoints([a, b])


def test_missing_bad_or_single_files_get_a_message(tmp_path: Path, capsys) -> None:
    good = _save(tmp_path / "a.pt", w=torch.zeros(2))
    bad = tmp_path / "notes.pt"
    bad.write_text("not a checkpoint", encoding="utf-8")
    with pytest.raises(AverageError, match="at least two"):
        average_checkpoints([good])
    torch.save({"epoch": 3}, tmp_path / "meta.pt")
    with pytest.raises(AverageError, match="not a backbone state dict"):
        average_checkpoints([good, tmp_path / "meta.pt"])
    with pytest.raises(BackboneError, match=r"notes\.pt: cannot be read as a torch state dict"):
        average_checkpoints([good, bad])
    assert main(["average", str(good), str(tmp_path / "gone.pt"), "--out", "x.pt"]) == 1
    assert "gone.pt: weights file not found" in capsys.readouterr().err
