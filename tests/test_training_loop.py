"""The shared stage-2 loop: the loss it replaced, checkpoints, resume, deadlines, batch norm."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.train

from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from training import loop  # noqa: E402
from training.loop import (  # noqa: E402
    UNKNOWN,
    Checkpoints,
    Deadline,
    Loop,
    adamw,
    masked_loss,
)

FAMILIES = {"category": 31, "colour": 16, "pattern": 6, "sleeve": 3}


def _indexed_loss(logits, y, w=None):
    """The fine-tuning and tail-tuning loss before ``training.loop``: labelled rows indexed."""
    total = next(iter(logits.values())).new_zeros(())
    for j, family in enumerate(logits):
        known = y[:, j] != UNKNOWN
        if known.any():
            ce = F.cross_entropy(
                logits[family][known], y[known, j], label_smoothing=0.1, reduction="none"
            )
            weight = torch.ones_like(ce) if w is None else w[known, j]
            total = total + (ce * weight).sum() / weight.sum()
    return total


def _summed_loss(logits, y):
    """The remote job's loss before ``training.loop``: summed with ignore_index, divided."""
    total = torch.zeros(())
    for j, family in enumerate(logits):
        known = (y[:, j] != UNKNOWN).sum().clamp(min=1)
        total = total + (
            F.cross_entropy(
                logits[family].float(),
                y[:, j],
                ignore_index=UNKNOWN,
                label_smoothing=0.1,
                reduction="sum",
            )
            / known
        )
    return total


def _batch(seed: int, n: int = 32) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    logits = {
        f: torch.randn(n, k, generator=generator, requires_grad=True) for f, k in FAMILIES.items()
    }
    y = torch.stack([torch.randint(0, k, (n,), generator=generator) for k in FAMILIES.values()], 1)
    y[torch.rand(n, len(FAMILIES), generator=generator) < 0.4] = UNKNOWN
    if seed % 4 == 0:
        y[:, 2] = UNKNOWN  # a family no photo of the batch has
    w = torch.where(torch.rand(n, len(FAMILIES), generator=generator) < 0.3, 4.0, 1.0)
    return logits, y, w


@pytest.mark.parametrize("seed", range(12))
def test_one_masked_loss_trains_exactly_as_the_two_it_replaced(seed: int) -> None:
    """Fine-tuning's and tail tuning's loss to the bit; the job's to rounding, with the same
    gradients to the bit. Where no photo of a batch has a family (every fourth seed here),
    that head now sits the step out, as it always did in fine-tuning; the job's summed loss
    gave it zero gradients, a case its batches of 128 photos do not meet."""
    logits, y, w = _batch(seed)
    params = list(logits.values())

    def gradients(loss: torch.Tensor) -> list[torch.Tensor | None]:
        return list(torch.autograd.grad(loss, params, allow_unused=True))

    for weights in (None, w):
        got, expected = masked_loss(logits, y, weights), _indexed_loss(logits, y, weights)
        assert torch.equal(got, expected)
        for mine, theirs in zip(gradients(got), gradients(expected), strict=True):
            assert (mine is None and theirs is None) or torch.equal(mine, theirs)
    got, summed = masked_loss(logits, y), _summed_loss(logits, y)
    assert torch.allclose(got, summed, rtol=1e-6, atol=1e-6)
    for family, mine, theirs in zip(FAMILIES, gradients(got), gradients(summed), strict=True):
        if (y[:, list(FAMILIES).index(family)] == UNKNOWN).all():
            assert mine is None and not theirs.any()
        else:
            assert torch.equal(mine, theirs)


def test_a_killed_save_leaves_the_last_checkpoint_whole(tmp_path: Path, monkeypatch) -> None:
    checkpoints = Checkpoints(tmp_path)
    checkpoints.save(1, {"epoch": 1, "weights": torch.ones(3)})

    def killed(state, handle) -> None:
        handle.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(loop.torch, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        checkpoints.save(2, {"epoch": 2, "weights": torch.zeros(3)})
    monkeypatch.undo()
    assert checkpoints.latest() == tmp_path / "epoch-1.pt"
    assert torch.equal(
        torch.load(checkpoints.latest(), weights_only=True)["weights"], torch.ones(3)
    )
    checkpoints.save(2, {"epoch": 2})
    assert [p.name for p in tmp_path.glob("epoch-*.pt")] == ["epoch-2.pt"]
    kept = Checkpoints(tmp_path / "all", keep_all=True)
    for epoch in (1, 2, 10):
        kept.save(epoch, {"epoch": epoch})
    assert kept.latest() == tmp_path / "all" / "epoch-10.pt"
    assert len(list((tmp_path / "all").glob("epoch-*.pt"))) == 3


class _Net(nn.Module):
    """A batch-normed trunk and a head, as the real networks are built."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU())
        self.heads = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.heads(self.backbone(x))


def _loop(folder: Path | None, frozen: bool = True) -> tuple[Loop, _Net]:
    torch.manual_seed(0)
    net = _Net()
    x, y = torch.randn(24, 4), torch.randint(0, 3, (24, 1))
    optimiser = adamw(net.backbone, net.heads, 1e-2)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: 1.0 / (1 + s))

    def batch_loss(rows: torch.Tensor) -> torch.Tensor:
        return masked_loss({"category": net(x[rows])}, y[rows])

    checkpoints = Checkpoints(folder) if folder is not None else None
    trained = Loop(
        net,
        optimiser,
        batch_loss,
        frozen=net.backbone if frozen else None,
        schedule=schedule,
        checkpoints=checkpoints,
    )
    return trained, net


def _batches(number: int) -> list[torch.Tensor]:
    order = torch.randperm(24, generator=torch.Generator().manual_seed(number))
    return list(order.split(6))


def test_a_resumed_run_ends_where_an_unbroken_one_does(tmp_path: Path) -> None:
    unbroken, expected = _loop(None)
    assert [e.number for e in unbroken.epochs(3, _batches)] == [1, 2, 3]

    first, _ = _loop(tmp_path)
    for _ in first.epochs(2, _batches):
        first.save(history=["kept"])
    second, net = _loop(tmp_path)
    path, state = second.resume()
    assert path == tmp_path / "epoch-2.pt" and state["history"] == ["kept"]
    assert [e.number for e in second.epochs(3, _batches)] == [3]
    for mine, theirs in zip(net.state_dict().values(), expected.state_dict().values(), strict=True):
        assert torch.equal(mine, theirs)
    assert second.optimiser.param_groups[1]["lr"] == pytest.approx(10 * 1e-2 / (1 + 12))


def test_frozen_batch_norm_keeps_its_statistics_and_the_net_ends_in_eval(tmp_path: Path) -> None:
    trained, net = _loop(None)
    norm = net.backbone[1]
    before = norm.running_mean.clone()
    done = list(trained.epochs(1, _batches))
    assert done[0].whole and done[0].steps == 4 and done[0].loss > 0
    assert torch.equal(norm.running_mean, before) and not net.training
    free, net = _loop(None, frozen=False)
    list(free.epochs(1, _batches))
    assert not torch.equal(net.backbone[1].running_mean, before)


def test_deadlines_and_step_caps() -> None:
    capped, _ = _loop(None)
    assert [e.steps for e in capped.epochs(2, _batches, max_steps=3)] == [3, 3]
    # Mid-epoch: the step that passes the deadline is the last one.
    mid, _ = _loop(None)
    done = list(mid.epochs(5, _batches, Deadline(time.monotonic() - 1, mid_epoch=True)))
    assert [(e.number, e.steps, e.whole) for e in done] == [(1, 1, False)]
    # Whole epochs: an epoch starts only when one as long as the last still fits.
    whole, _ = _loop(None)
    list(whole.epochs(1, _batches))
    whole.last_wall_s = 60.0
    assert list(whole.epochs(3, _batches, Deadline(time.monotonic() + 30))) == []
    assert [e.number for e in whole.epochs(3, _batches, Deadline(time.monotonic() + 90))] == [2, 3]
