"""A state dict as compact bytes, in files of a size a slow or limited link can carry.

Floats travel as fp16 with their two bytes split into separate planes before zlib: the
high bytes (sign, exponent) repeat a lot, so the compression is lossless and ~10 % smaller
than raw fp16. Batch-norm ``num_batches_tracked`` counters are dropped (unused at
inference). ``write_chunks`` can split the bytes into files of at most a given size.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

SKIPPED_SUFFIX = "num_batches_tracked"


def dumps(state: dict[str, torch.Tensor]) -> bytes:
    """Compressed bytes of every tensor except batch counters; floats as fp16."""
    header, halves, raw = [], [], []
    for key, value in state.items():
        if key.endswith(SKIPPED_SUFFIX):
            continue
        tensor = value.detach().cpu()
        half = tensor.is_floating_point()
        array = tensor.to(torch.float16).numpy() if half else tensor.numpy()
        header.append(
            {"key": key, "dtype": str(array.dtype), "shape": list(array.shape), "half": half}
        )
        (halves if half else raw).append(np.ascontiguousarray(array).tobytes())
    planes = np.frombuffer(b"".join(halves), dtype=np.uint8).reshape(-1, 2).T.tobytes()
    meta = json.dumps(header).encode()
    payload = struct.pack("<QQ", len(meta), len(planes)) + meta + planes + b"".join(raw)
    return zlib.compress(payload, 6)


def loads(blob: bytes) -> dict[str, torch.Tensor]:
    """The state dict ``dumps`` wrote, floats as fp32 (counters absent)."""
    payload = zlib.decompress(blob)
    meta_len, planes_len = struct.unpack("<QQ", payload[:16])
    header = json.loads(payload[16 : 16 + meta_len])
    planes = np.frombuffer(payload, np.uint8, planes_len, 16 + meta_len)
    halves = planes.reshape(2, -1).T.copy().view(np.float16).ravel()
    raw = memoryview(payload)[16 + meta_len + planes_len :]
    state, h_at, r_at = {}, 0, 0
    for item in header:
        count = int(np.prod(item["shape"], dtype=np.int64))
        if item["half"]:
            array = halves[h_at : h_at + count].astype(np.float32)
            h_at += count
        else:
            dtype = np.dtype(item["dtype"])
            array = np.frombuffer(raw, dtype, count, r_at).copy()
            r_at += count * dtype.itemsize
        state[item["key"]] = torch.from_numpy(array.reshape(item["shape"]))
    return state


def write_chunks(blob: bytes, folder: Path, stem: str, chunk_bytes: int | None = None) -> dict:
    """Write ``blob`` as ``stem.part<i>`` files of at most ``chunk_bytes`` (None: one file);
    return their index."""
    size = chunk_bytes or max(1, len(blob))
    names = []
    for i, start in enumerate(range(0, len(blob), size)):
        name = f"{stem}.part{i}"
        (folder / name).write_bytes(blob[start : start + size])
        names.append(name)
    return {"chunks": names, "bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}


def read_chunks(folder: Path, names: Sequence[str], sha256: str) -> bytes:
    """Join the chunks and check the hash (a missing or truncated chunk fails loudly)."""
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{folder}: chunk(s) {missing} missing; copy back every file of the job's results."
        )
    blob = b"".join((folder / n).read_bytes() for n in names)
    if hashlib.sha256(blob).hexdigest() != sha256:
        raise ValueError(f"{folder}: joined chunks {list(names)} do not match their sha256.")
    return blob
