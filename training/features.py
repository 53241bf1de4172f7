"""Frozen-backbone features, computed once and cached on disk.

The cache folder is keyed by backbone, input size, preprocessing, weights file and cache
format; inside it, shards hold features per photo (keyed by path, size and mtime), so
adding photos or changing a label map only extracts what is new, and an interrupted run
keeps what it finished. The backbone is exported to ONNX once per folder and run by
onnxruntime: 2-3x faster than torch on the CPU here (docs/training.md).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn
from tqdm import tqdm

from app.core.bundle import Preprocessing
from app.core.decode import open_photo, preprocess
from training.backbones import SPECS, build_backbone
from training.colour import ColourDescriptor
from training.export import export_module

SHARD_SIZE = 1024
DEFAULT_CACHE = Path(__file__).resolve().parents[1] / ".cache" / "features"


def preprocessing_for(backbone: str, size: int | None = None) -> Preprocessing:
    """Letterbox on white: catalog shots already sit on white, so padding adds no new edges."""
    spec = SPECS[backbone]
    side = size or spec.size
    return Preprocessing((side, side), "letterbox", (255, 255, 255), spec.mean, spec.std, "NCHW")


@dataclass
class FeatureSet:
    """Per-photo arrays in the order of the photos asked for."""

    final: np.ndarray  # (N, D) pooled backbone features
    mid: np.ndarray  # (N, M) pooled mid-level features
    thumb: np.ndarray  # (N, 3, g, g) pooled RGB for the colour descriptor
    garment: np.ndarray  # (N, G) the garment tap (training.backbones.garment_pool)


ARRAYS = ("final", "mid", "thumb", "garment")
FORMAT = 2  # bumped when ARRAYS change, so an older cache is never mixed in


def photo_key(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{int(stat.st_mtime)}"


def _weights_key(weights: Path | None) -> str:
    """The SHA-1 of a weights file's bytes; a name that is not a file (``imgsim``) as is."""
    if weights is not None and Path(weights).is_file():
        with open(weights, "rb") as file:
            return "sha1:" + hashlib.file_digest(file, "sha1").hexdigest()
    return str(weights or "")


def cache_folder(
    cache_dir: Path,
    backbone: str,
    pre: Preprocessing,
    weights: Path | None = None,
    kind: str = "features",
) -> Path:
    """The cache folder of one backbone, preprocessing and weights file; ``kind`` "stem"
    holds the stem's feature maps (training.tailtune) next to the pooled features.

    A weights file counts by its contents, not its name: a tail retrained into the same
    ``--out`` file must not be served the old backbone's features."""
    desc = [
        backbone,
        pre.size,
        pre.resize,
        pre.fill,
        pre.mean,
        pre.std,
        _weights_key(weights),
        FORMAT,
    ]
    if kind != "features":
        desc.append(kind)
    digest = hashlib.sha1(json.dumps(desc).encode()).hexdigest()[:10]
    return cache_dir / f"{backbone}-{pre.size[0]}-{digest}"


def _load_shards(folder: Path, flip: bool, names: Sequence[str]) -> dict[str, tuple]:
    found: dict[str, tuple[np.ndarray, ...]] = {}
    for shard in sorted(folder.glob(f"{'flip' if flip else 'plain'}-*.npz")):
        with np.load(shard) as data:
            keys = data["keys"]
            arrays = [data[name] for name in names]
        for i, key in enumerate(keys):
            found[str(key)] = tuple(a[i] for a in arrays)
    return found


def _save_shard(
    folder: Path, flip: bool, names: Sequence[str], keys: list[str], rows: list[tuple]
) -> None:
    name = hashlib.sha1("\n".join(keys).encode()).hexdigest()[:16]
    tmp = folder / f"tmp-{name}.npz"
    arrays = {array: np.stack([r[i] for r in rows]) for i, array in enumerate(names)}
    np.savez(tmp, keys=np.array(keys), **arrays)
    tmp.replace(folder / f"{'flip' if flip else 'plain'}-{name}.npz")


class _Extractor(nn.Module):
    """What the cache holds, as one module to export: the backbone's outputs and the
    colour descriptor's thumbnail, in ``ARRAYS`` order."""

    def __init__(self, net: nn.Module, colour: ColourDescriptor) -> None:
        super().__init__()
        self.net, self.colour = net, colour

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        final, mid, garment = self.net(x)
        return final, mid, self.colour.thumbnail(x), garment


def _session(
    folder: Path, make: Callable[[], nn.Module], size: tuple[int, int], names: Sequence[str]
) -> ort.InferenceSession:
    """The folder's extractor module as an onnxruntime session, exported on first use."""
    path = folder / "extractor.onnx"
    if not path.is_file():
        partial = folder / "extractor.onnx.partial"
        export_module(make(), partial, size, names)
        partial.replace(path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def cached_arrays(
    paths: Sequence[Path],
    folder: Path,
    make: Callable[[], nn.Module],
    pre: Preprocessing,
    names: Sequence[str],
    flip: bool = False,
    batch_size: int = 32,
    label: str = "features",
) -> list[np.ndarray]:
    """``make()``'s outputs ``names`` for every photo, in order, running only what
    ``folder`` does not hold yet (float16 shards keyed by path, size and mtime)."""
    folder.mkdir(parents=True, exist_ok=True)
    keys = [photo_key(Path(p)) for p in paths]
    cached = _load_shards(folder, flip, names)
    todo = [(k, Path(p)) for k, p in zip(keys, paths, strict=True) if k not in cached]
    if todo:
        session = _session(folder, make, pre.size, names)
        pending_keys: list[str] = []
        pending_rows: list[tuple] = []
        for start in tqdm(range(0, len(todo), batch_size), desc=label, unit="batch"):
            chunk = todo[start : start + batch_size]
            batch = np.stack(
                [preprocess(open_photo(p, max(pre.size)).image, pre) for _, p in chunk]
            )
            if flip:
                batch = np.ascontiguousarray(batch[:, :, :, ::-1])
            outputs = session.run(list(names), {"image": batch})
            for i, (key, _) in enumerate(chunk):
                row = tuple(array[i].astype(np.float16) for array in outputs)
                cached[key] = row
                pending_keys.append(key)
                pending_rows.append(row)
            if len(pending_keys) >= SHARD_SIZE:
                _save_shard(folder, flip, names, pending_keys, pending_rows)
                pending_keys, pending_rows = [], []
        if pending_keys:
            _save_shard(folder, flip, names, pending_keys, pending_rows)
    rows = [cached[k] for k in keys]
    return [np.stack([r[i] for r in rows]) for i in range(len(names))]


def extract(
    paths: Sequence[Path],
    backbone: str,
    size: int | None = None,
    cache_dir: Path = DEFAULT_CACHE,
    flip: bool = False,
    weights: Path | None = None,
    from_scratch: bool = False,
    batch_size: int = 32,
) -> FeatureSet:
    """Features of every photo (mirrored when ``flip``), extracting only what is not cached."""
    pre = preprocessing_for(backbone, size)

    def make() -> nn.Module:
        net = build_backbone(backbone, pre.size[0], weights, from_scratch)
        return _Extractor(net, ColourDescriptor(pre.size[0], pre.mean, pre.std))

    arrays = cached_arrays(
        paths,
        cache_folder(cache_dir, backbone, pre, weights),
        make,
        pre,
        ARRAYS,
        flip,
        batch_size,
        f"features {backbone}{' (mirrored)' if flip else ''}",
    )
    return FeatureSet(*(a.astype(np.float32) for a in arrays))
