"""Get a backbone checkpoint (a ``--weights`` file) back out of a bundle's ONNX graph.

Why: retraining heads on a fine-tuned backbone needs that backbone as a torch checkpoint,
and the bundle may be all that is left of a GPU run (its results folder is gone). The
export folds each batch norm into the convolution before it, so every convolution comes
back as weight + bias, and its batch norm as the identity plus that bias: the same
network in eval mode. Training batch-norm statistics from such a checkpoint is not the
same as from the original; heads on frozen features are.

    python -m training.recover models_onnx/default --out .cache/ft/lite2_finetuned_backbone.pt
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from app.core import paths
from app.core.bundle import Bundle, load_bundle
from app.core.errors import VitrinaError
from training.backbones import build_backbone


class RecoverError(VitrinaError):
    """The graph does not hold the backbone the manifest names."""


def conv_bn_pairs(net: nn.Module) -> list[tuple[nn.Conv2d, nn.BatchNorm2d]]:
    """Every convolution with the batch norm right after it, in definition order."""
    layers = [m for m in net.modules() if isinstance(m, nn.Conv2d | nn.BatchNorm2d)]
    pairs = list(zip(layers[::2], layers[1::2] + [None] * (len(layers) % 2), strict=True))
    if not all(isinstance(c, nn.Conv2d) and isinstance(b, nn.BatchNorm2d) for c, b in pairs):
        raise RecoverError("the backbone has a convolution without a batch norm after it")
    return pairs


@torch.no_grad()
def recover(bundle: Path) -> tuple[str, dict[str, torch.Tensor]]:
    """(backbone name, checkpoint under the source network's key names) of a bundle."""
    loaded = load_bundle(bundle)
    if not isinstance(loaded, Bundle):
        raise RecoverError(
            f"{bundle}: a bundle set; recover from one of its member folders instead."
        )
    name = loaded.manifest.get("backbone")
    if not isinstance(name, str):
        raise RecoverError(
            f'{loaded.model_path.parent / "manifest.json"}: names no "backbone"; '
            "only bundles written by vitrina-train can be recovered."
        )
    model = loaded.model_path
    size = loaded.preprocessing.size[0]
    graph = onnx.load(str(model)).graph
    tensors = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    convs = [n for n in graph.node if n.op_type == "Conv" and n.name.startswith("/backbone/")]
    net = build_backbone(name, size, from_scratch=True).eval()
    pairs = conv_bn_pairs(net.source)
    if len(pairs) != len(convs):
        raise RecoverError(
            f"{model}: {len(convs)} backbone convolutions, "
            f"but {name} has {len(pairs)}; is this bundle a {name}?"
        )
    for (conv, norm), node in zip(pairs, convs, strict=True):
        weight = np.array(tensors[node.input[1]])
        if weight.shape != tuple(conv.weight.shape) or len(node.input) < 3:
            raise RecoverError(
                f"{model}: {node.name} holds {weight.shape}, "
                f"{name} expects {tuple(conv.weight.shape)} with a folded bias."
            )
        conv.weight.copy_(torch.from_numpy(weight))
        norm.weight.fill_(1.0)
        norm.bias.copy_(torch.from_numpy(np.array(tensors[node.input[2]])))
        norm.running_mean.zero_()
        norm.running_var.fill_(1.0 - norm.eps)
    return name, net.checkpoint()


def shipped_backbone(cache_dir: Path) -> Path:
    """The default bundle's backbone as a checkpoint for ``fit --weights``, recovered once
    into ``cache_dir`` (keyed by the model file's hash): retraining starts from the shipped
    network, not from plain ImageNet weights, unless asked to."""
    bundle = paths.default_bundle_path()
    digest = hashlib.sha1((bundle / "model.onnx").read_bytes()).hexdigest()[:12]
    target = cache_dir.parent / "ft" / f"shipped-{digest}.pt"
    if not target.is_file():
        _name, state = recover(bundle)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        torch.save(state, partial)
        partial.replace(target)
    return target


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training.recover", description=__doc__)
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="checkpoint file to write")
    args = parser.parse_args(argv)
    try:
        name, state = recover(args.bundle)
    except VitrinaError as exc:
        raise SystemExit(f"error: {exc}") from None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, args.out)
    print(f"{name} backbone of {args.bundle} written to {args.out}")


if __name__ == "__main__":
    main()
