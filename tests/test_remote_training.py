"""Remote training end to end on the CPU: pack -> parts -> run.sh -> job -> unpack -> app loader.

A bug found on the GPU machine costs a trip there and back, so the code path is proven
here on 24 photos with a tiny registered backbone at 32 px (the real backbones' dry run is
in training/remote/README.md: it takes minutes on a CPU).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from PIL import Image, ImageOps  # noqa: E402
from torch import nn  # noqa: E402

from app.core.bundle import load_bundle  # noqa: E402
from training import backbones  # noqa: E402
from training.backbones import (  # noqa: E402
    Backbone,
    BackboneError,
    BackboneSpec,
    TappedSequential,
    build_backbone,
)
from training.remote import blob, job, pack, unpack  # noqa: E402

pytestmark = pytest.mark.train
DATA_DIR = Path(__file__).resolve().parent / "data"


def _tiny(spec: BackboneSpec, size: int, weights: Path | None) -> Backbone:
    stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.BatchNorm2d(8), nn.ReLU())
    tail = TappedSequential(
        {"0": nn.Conv2d(8, 12, 3, 1, 1), "1": nn.Conv2d(12, 16, 3, 2, 1), "2": nn.BatchNorm2d(16)},
        tap=0,
    )
    return Backbone(spec, stem, tail, nn.Sequential(stem, tail))


@pytest.fixture
def tiny_backbone(monkeypatch: pytest.MonkeyPatch) -> str:
    """A 2-conv backbone registered as "tiny", so the test runs in seconds."""
    spec = BackboneSpec("tiny", 32, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), 16, 8, 12)
    monkeypatch.setitem(backbones.SPECS, "tiny", spec)
    monkeypatch.setitem(backbones.BUILDERS, "tiny", _tiny)
    monkeypatch.setitem(job.WEIGHT_FILES, "tiny", "tiny.pt")
    return "tiny"


def _dataset(folder: Path) -> Path:
    """24 distinct photos (the 8 test photos, plain, mirrored, upside down), 2 labels each."""
    (folder / "images").mkdir(parents=True)
    sources = sorted(DATA_DIR.glob("*.jpg"))
    rows = []
    for i in range(24):
        image = Image.open(sources[i % 8]).convert("RGB")
        image = [image, ImageOps.mirror(image), ImageOps.flip(image)][i // 8]
        name = f"images/{i:02d}.jpg"
        image.save(folder / name, quality=85)
        rows.append([name, "t-shirt" if i % 2 else "dress", "black" if i % 4 < 2 else "white"])
    labels = folder / "labels.csv"
    with labels.open("w", newline="") as handle:
        csv.writer(handle).writerows([["image", "category", "colour"], *rows])
    return labels


def test_blob_round_trip_is_fp16_exact(tmp_path: Path) -> None:
    state = {
        "w": torch.randn(3, 5),
        "bn.num_batches_tracked": torch.tensor(7),
        "index": torch.arange(4),
    }
    data = blob.dumps(state)
    index = blob.write_chunks(data, tmp_path, "net")
    back = blob.loads(blob.read_chunks(tmp_path, index["chunks"], index["sha256"]))
    assert set(back) == {"w", "index"}
    assert torch.equal(back["w"], state["w"].half().float())
    assert torch.equal(back["index"], state["index"])


def test_pack_run_unpack_load(tmp_path: Path, tiny_backbone: str) -> None:
    labels_csv = _dataset(tmp_path / "photos")
    packed = tmp_path / "job"
    info = pack.pack_photos([labels_csv], packed / "data", side=48, quality=80)
    assert info["counts"]["val"] > 0 and info["families"]["category"] == ["t-shirt", "dress"]
    rows = list(csv.DictReader((packed / "data/labels.csv").open()))
    assert {r["split"] for r in rows} == {"train", "val"}
    assert all(Image.open(packed / "data" / r["image"]).size == (48, 48) for r in rows)
    pack.pack_code(packed)

    # Parts within their size; copied into one folder they are the job folder again.
    budget = 2 * max(pack.mib(f) for f in packed.rglob("*") if f.is_file())
    parts = pack.split_into_parts(packed, tmp_path / "parts", budget)
    assert len(parts) > 2
    assert all(pack.mib(part) <= budget for part in parts)
    merged = tmp_path / "merged"
    for part in parts:
        shutil.copytree(part, merged, dirs_exist_ok=True)
    originals = sorted(p.relative_to(packed) for p in packed.rglob("*"))
    assert sorted(p.relative_to(merged) for p in merged.rglob("*")) == originals
    with pytest.raises(ValueError, match="more than a part may hold"):
        pack.split_into_parts(packed, tmp_path / "parts", budget / 4)

    # The one command there runs the job from the code the pack carries.
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    ran = subprocess.run(
        ["bash", str(merged / "run.sh"), "--help"],
        env={**environment, "PYTHON": sys.executable, "PYTHONPATH": ""},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert "python -m training.remote.job" in ran.stdout
    assert (merged / "results/job.log").read_text() == ran.stdout
    assert (merged / "code/training/remote/__pycache__").is_dir()

    out = tmp_path / "out"
    argv = [
        "--data",
        str(merged / "data"),
        "--out",
        str(out),
        "--backbones",
        tiny_backbone,
        "--checkpoints",
        str(tmp_path / "ckpt"),
        "--random-init",
        "--dry-run",
        "--size",
        "32",
        "--workers",
        "1",
        "--chunk-mib",
        "0.05",
    ]
    assert job.main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    entry = metrics["results"][tiny_backbone]
    assert entry["chosen"] == "frozen" and entry["variants"]["frozen"]["epochs_done"] == 1
    chunks = [out / name for name in entry["blob"]["chunks"]]
    assert len(chunks) > 1 and all(c.stat().st_size <= 0.05 * 2**20 for c in chunks)

    bundle_dir = tmp_path / "bundle"
    result = unpack.unpack(out, tiny_backbone, bundle_dir, [labels_csv], int8=False)
    bundle = load_bundle(bundle_dir)
    assert [f.name for f in bundle.families] == ["category", "colour"]
    assert bundle.preprocessing.size == (32, 32)
    assert result["quantization"]["fp32_bytes"] > 0
    saved = tmp_path / "backbone.pt"
    assert unpack.main([str(out), "--backbone", tiny_backbone, "--save-backbone", str(saved)]) == 0
    net, _, _ = unpack.load_net(out, tiny_backbone, {})
    state = torch.load(saved, weights_only=True)
    assert state.keys() == nn.Sequential(net.backbone.stem, net.backbone.tail).state_dict().keys()
    assert torch.equal(state["0.0.weight"], net.backbone.stem[0].weight)
    # The epoch checkpoint makes a rerun resume instead of training again.
    shutil.rmtree(out)
    assert job.main(argv) == 0
    assert json.loads((out / "metrics.json").read_text())["results"][tiny_backbone]["chosen"]


def test_backbone_checkpoint_loads_back_as_weights(tmp_path: Path) -> None:
    """A fine-tuned backbone saved with ``checkpoint()`` is what ``--weights FILE`` rebuilds."""
    first = build_backbone("efficientnet_lite2", 64)
    with torch.no_grad():
        first.tail.conv.weight.mul_(1.5)
        first.stem.blocks[0]._depthwise_conv.weight.add_(0.1)
    path = tmp_path / "lite2.pt"
    torch.save(first.checkpoint(), path)
    second = build_backbone("efficientnet_lite2", 64, path)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(first(x), second(x), strict=True):
            assert torch.equal(a, b)


def test_imgsim_alias_loads_the_packaged_weights() -> None:
    """`--weights imgsim` finds the file shipped in the imgsim package (a `train` extra)."""
    assert build_backbone("resnet50", 32, Path("imgsim")).spec.dim == 2048


def test_prefixed_checkpoint_and_strict_key_check(tmp_path: Path) -> None:
    """imgsim's layout ("module.pre." keys, a 2048->768 "fc") loads; anything else is refused."""
    from torchvision.models import resnet50

    state = {
        f"module.pre.{k}": v for k, v in resnet50().state_dict().items() if not k.startswith("fc.")
    }
    state["module.pre.fc.weight"] = torch.zeros(768, 2048)
    prefixed = tmp_path / "prefixed.pt"
    torch.save(state, prefixed)
    assert build_backbone("resnet50", 32, prefixed).spec.dim == 2048
    broken = tmp_path / "broken.pt"
    torch.save({"module.pre.conv1.weight": torch.zeros(64, 3, 7, 7)}, broken)
    with pytest.raises(BackboneError, match=r"missing \d+ keys"):
        build_backbone("resnet50", 32, broken)
