"""Average backbone checkpoints taken along one fine-tuning run (a "weight soup").

Why: successive ``tailtune`` runs from the same start end in nearby weights; their mean
generalises and calibrates better than either end (docs/quality.md), at
no cost in the app: the bundle is still one backbone.

    vitrina-train average .cache/ft/lite2_tail_v1.pt .cache/ft/lite2_tail_v2.pt \
        --out .cache/ft/lite2_tail_soup.pt
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from app.core.errors import VitrinaError
from training.backbones import read_state_dict


class AverageError(VitrinaError):
    """The checkpoints cannot be averaged."""


def average_checkpoints(paths: Sequence[Path]) -> dict[str, torch.Tensor]:
    """The element-wise mean of same-shaped backbone checkpoints; integer buffers (batch
    counters) must agree and are kept as they are."""
    if len(paths) < 2:
        raise AverageError("give at least two checkpoints to average.")
    states = [read_state_dict(p) for p in paths]
    for path, state in zip(paths, states, strict=True):
        if not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise AverageError(f"{path}: not a backbone state dict (layer name -> tensor).")
    first = states[0]
    for path, state in zip(paths[1:], states[1:], strict=True):
        if state.keys() != first.keys():
            odd = sorted(state.keys() ^ first.keys())[:3]
            raise AverageError(
                f"{path}: holds other layers than {paths[0]} (e.g. {', '.join(odd)}); "
                "average only checkpoints of the same backbone."
            )
        for name, tensor in state.items():
            if tensor.shape != first[name].shape:
                raise AverageError(
                    f"{path}: {name} is {tuple(tensor.shape)}, {tuple(first[name].shape)} in "
                    f"{paths[0]}; average only checkpoints of the same backbone."
                )
    averaged = {}
    for name, tensor in first.items():
        if tensor.is_floating_point():
            mean = torch.stack([s[name].float() for s in states]).mean(0)
            averaged[name] = mean.to(tensor.dtype)
        elif all(torch.equal(s[name], tensor) for s in states):
            averaged[name] = tensor
        else:
            raise AverageError(
                f"{name} differs between the checkpoints and cannot be averaged; "
                "average only checkpoints of one run."
            )
    return averaged


def write_average(paths: Sequence[Path], out: Path) -> None:
    """Average ``paths`` into ``out`` (a ``--weights`` file for fit or tailtune)."""
    averaged = average_checkpoints(paths)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(averaged, out)
