"""Tagger: photo files -> decoded, preprocessed batches -> bundle -> probabilities + embedding.

It hides the difference between a single bundle and a bundle set, and decodes each photo
only as large as the bundle needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

from app.core.bundle import Bundle, BundleSet, Family
from app.core.decode import DecodedPhoto, open_photo
from app.core.near_duplicates import HASH_MIN_SIDE

Probabilities = dict[str, np.ndarray]


class Tagged(NamedTuple):
    """What the bundle says of one image."""

    probabilities: Probabilities  # family -> (K,) float32
    embedding: np.ndarray | None  # (D,) float32, L2-normalised
    features: np.ndarray | None  # (F,) float32: what the catalog learns from reviews with


@dataclass
class TaggedPhoto:
    path: Path
    width: int
    height: int
    probabilities: Probabilities  # family -> (K,) float32
    embedding: np.ndarray | None  # (D,) float32, L2-normalised
    features: np.ndarray | None = None  # (F,) float32


class Tagger:
    """Runs one loaded bundle (or set) over photos in batches of ``batch_size``."""

    def __init__(self, bundle: Bundle | BundleSet, batch_size: int = 16) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.bundle = bundle
        self.batch_size = batch_size

    @property
    def families(self) -> tuple[Family, ...]:
        return self.bundle.families

    @property
    def embedding_key(self) -> str:
        """Ties stored embeddings and the similarity index to this bundle."""
        return self.bundle.key

    @property
    def embedding_dim(self) -> int:
        return self.bundle.embedding.dim if self.bundle.embedding else 0

    @property
    def min_size(self) -> int:
        """Smallest side a photo is decoded at: the largest input side of the bundle."""
        return self.bundle.min_side

    @property
    def decode_side(self) -> int:
        """Smallest side every path decodes a photo at (import, batch, an outside file): as
        large as the bundle needs, never below what the near-duplicate hash needs to tell
        products apart, so one photo gets the same tags whichever path decoded it."""
        return max(self.min_size, HASH_MIN_SIDE)

    def open(self, path: Path | str) -> DecodedPhoto:
        """Decode a photo as every path does (``decode_side``; raises DecodeError)."""
        return open_photo(path, self.decode_side)

    def tag_images(self, images: Sequence[Image.Image]) -> list[Tagged]:
        """Per image: family -> (K,) probabilities, the (D,) embedding and the features."""
        results: list[Tagged] = []
        for start in range(0, len(images), self.batch_size):
            output = self.bundle.run_images(images[start : start + self.batch_size])
            for row in range(len(output.probabilities[self.families[0].name])):
                probs = {name: values[row].copy() for name, values in output.probabilities.items()}
                vector = None if output.embedding is None else output.embedding[row].copy()
                features = None if output.features is None else output.features[row].copy()
                results.append(Tagged(probs, vector, features))
        return results

    def tag_photos(self, photos: Sequence[tuple[Path, DecodedPhoto]]) -> list[TaggedPhoto]:
        """Tag already decoded photos (the importer decodes first to collect per-file errors)."""
        tagged = self.tag_images([photo.image for _, photo in photos])
        return [
            TaggedPhoto(Path(path), photo.width, photo.height, *result)
            for (path, photo), result in zip(photos, tagged, strict=True)
        ]

    def tag_file(self, path: Path | str) -> TaggedPhoto:
        """Decode and tag one photo, e.g. an outside photo for a similar-items query."""
        path = Path(path)
        return self.tag_photos([(path, self.open(path))])[0]
