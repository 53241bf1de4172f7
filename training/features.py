"""Frozen-backbone features, computed once and cached on disk.

The cache folder is keyed by backbone, input size and preprocessing; inside it, shards
hold features per photo (keyed by path, size and mtime), so adding photos or changing a
label map only extracts what is new, and an interrupted run keeps what it finished.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from app.core.bundle import Preprocessing
from app.core.decode import open_photo, preprocess
from training.backbones import SPECS, build_backbone
from training.colour import ColourDescriptor

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


def photo_key(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{int(stat.st_mtime)}"


def cache_folder(
    cache_dir: Path, backbone: str, pre: Preprocessing, weights: Path | None = None
) -> Path:
    desc = json.dumps(
        [backbone, pre.size, pre.resize, pre.fill, pre.mean, pre.std, str(weights or "")]
    )
    return cache_dir / f"{backbone}-{pre.size[0]}-{hashlib.sha1(desc.encode()).hexdigest()[:10]}"


def _load_shards(folder: Path, flip: bool) -> dict[str, tuple[np.ndarray, ...]]:
    found: dict[str, tuple[np.ndarray, ...]] = {}
    for shard in sorted(folder.glob(f"{'flip' if flip else 'plain'}-*.npz")):
        with np.load(shard) as data:
            keys = data["keys"]
            final, mid, thumb = data["final"], data["mid"], data["thumb"]
        for i, key in enumerate(keys):
            found[str(key)] = (final[i], mid[i], thumb[i])
    return found


def _save_shard(folder: Path, flip: bool, keys: list[str], rows: list[tuple]) -> None:
    name = hashlib.sha1("\n".join(keys).encode()).hexdigest()[:16]
    tmp = folder / f"tmp-{name}.npz"
    np.savez(
        tmp,
        keys=np.array(keys),
        final=np.stack([r[0] for r in rows]).astype(np.float16),
        mid=np.stack([r[1] for r in rows]).astype(np.float16),
        thumb=np.stack([r[2] for r in rows]).astype(np.float16),
    )
    tmp.replace(folder / f"{'flip' if flip else 'plain'}-{name}.npz")


@torch.inference_mode()
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
    folder = cache_folder(cache_dir, backbone, pre, weights)
    folder.mkdir(parents=True, exist_ok=True)
    keys = [photo_key(Path(p)) for p in paths]
    cached = _load_shards(folder, flip)
    todo = [(k, Path(p)) for k, p in zip(keys, paths, strict=True) if k not in cached]
    if todo:
        net = build_backbone(backbone, pre.size[0], weights, from_scratch)
        colour = ColourDescriptor(pre.size[0], pre.mean, pre.std)
        pending_keys: list[str] = []
        pending_rows: list[tuple] = []
        label = f"features {backbone}{' (mirrored)' if flip else ''}"
        for start in tqdm(range(0, len(todo), batch_size), desc=label, unit="batch"):
            chunk = todo[start : start + batch_size]
            batch = np.stack(
                [preprocess(open_photo(p, max(pre.size)).image, pre) for _, p in chunk]
            )
            x = torch.from_numpy(batch)
            if flip:
                x = x.flip(3)
            final, mid = net(x)
            thumb = colour.thumbnail(x)
            for i, (key, _) in enumerate(chunk):
                row = (final[i].numpy(), mid[i].numpy(), thumb[i].numpy())
                cached[key] = row
                pending_keys.append(key)
                pending_rows.append(row)
            if len(pending_keys) >= SHARD_SIZE:
                _save_shard(folder, flip, pending_keys, pending_rows)
                pending_keys, pending_rows = [], []
        if pending_keys:
            _save_shard(folder, flip, pending_keys, pending_rows)
    rows = [cached[k] for k in keys]
    return FeatureSet(
        final=np.stack([r[0] for r in rows]).astype(np.float32),
        mid=np.stack([r[1] for r in rows]).astype(np.float32),
        thumb=np.stack([r[2] for r in rows]).astype(np.float32),
    )
