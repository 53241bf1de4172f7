"""The whole tagger as one torch module: what is exported to ONNX and what stage 2 trains."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from training.backbones import Backbone
from training.colour import ColourDescriptor
from training.heads import Head

# The probability part against the activation part. With the probabilities themselves at
# unit length (not their square root), equal weight gave the best validation P@5
# (`python -m training.experiments.embedding_weights`, docs/quality.md).
PROBABILITY_WEIGHT = 1.0


def combine(
    hidden: dict[str, torch.Tensor],
    probs: dict[str, torch.Tensor],
    weights: dict[str, float],
    probability_weight: float = PROBABILITY_WEIGHT,
    power: float = 1.0,
) -> torch.Tensor:
    """The similar-items embedding from each family's 64-d head activation and probabilities.

    Per family: the study's L2-normalised penultimate activation next to its probabilities
    scaled to unit length, at ``probability_weight`` times its weight, so neighbours also
    agree on the predicted labels (docs/quality.md); scaled to the family weight,
    concatenated, normalised. The probabilities themselves are peakier than their square
    root (``power`` 0.5, before @2026.12.03.4), so a confident label counts for more;
    ``training.experiments.embedding_weights`` scores other settings without retraining.
    """
    scale = math.sqrt(1 + probability_weight**2)
    pieces = []
    for name in hidden:
        p = probs[name].clamp_min(0)
        if power != 1.0:
            p = p**power
        part = [F.normalize(hidden[name], dim=1), F.normalize(p, dim=1) * probability_weight]
        pieces.append(torch.cat(part, dim=1) * (weights.get(name, 1.0) / scale))
    return F.normalize(torch.cat(pieces, dim=1), dim=1)


@torch.no_grad()
def embed_features(
    heads: dict[str, Head], features: dict[str, np.ndarray], weights: dict[str, float]
) -> np.ndarray:
    """:func:`combine` from cached head inputs (what the exported graph computes)."""
    hidden, probs = {}, {}
    for name, head in heads.items():
        logits, hidden[name] = head(torch.from_numpy(features[name].astype(np.float32)))
        probs[name] = torch.softmax(logits, dim=1)
    return combine(hidden, probs, weights).numpy()


LEARNING_PARTS = ("mid", "descriptor", "garment")  # kept whole in the features output


class LearningFeatures(nn.Module):
    """The bundle's ``features`` output, what a catalog learns from its reviews with
    (app.core.learning): the final pooled features on their first principal axes, and the
    colour inputs (mid-level tap, colour descriptor, garment tap) whole, all standardised
    with the training photos' statistics so one L2 penalty suits every dimension. The
    probabilities and the 64-d activations have already thrown away what a shop's own
    labels need (docs/learning.md)."""

    def __init__(self, final: np.ndarray, rest: np.ndarray, components: int) -> None:
        super().__init__()
        shift, scale = final.mean(0), final.std(0) + 1e-3
        z = (final - shift) / scale
        axes = np.linalg.svd(z[:: max(1, len(z) // 8000)], full_matrices=False)[2][:components]
        spread = (z @ axes.T).std(0)
        axes, spread = axes[spread > 1e-3 * spread[0]], spread[spread > 1e-3 * spread[0]]
        self.register_buffer("final_shift", torch.from_numpy(shift.astype(np.float32)))
        self.register_buffer("final_scale", torch.from_numpy(scale.astype(np.float32)))
        self.register_buffer("axes", torch.from_numpy((axes.T / spread).astype(np.float32)))
        self.register_buffer("rest_shift", torch.from_numpy(rest.mean(0).astype(np.float32)))
        rest_scale = (rest.std(0) + 1e-3).astype(np.float32)
        self.register_buffer("rest_scale", torch.from_numpy(rest_scale))

    @property
    def dim(self) -> int:
        return self.axes.shape[1] + self.rest_shift.shape[0]

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        final = ((inputs["final"] - self.final_shift) / self.final_scale) @ self.axes
        rest = torch.cat([inputs[p] for p in LEARNING_PARTS], dim=1)
        return torch.cat([final, (rest - self.rest_shift) / self.rest_scale], dim=1)


class VitrinaNet(nn.Module):
    """Image batch -> per-family softmax + the combined embedding (:func:`combine`), and the
    :class:`LearningFeatures` when given."""

    def __init__(
        self,
        backbone: Backbone,
        descriptor: ColourDescriptor,
        heads: dict[str, Head],
        parts: dict[str, tuple[str, ...]],
        embedding_weights: dict[str, float] | None = None,
        learning: LearningFeatures | None = None,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.descriptor = descriptor
        self.heads = nn.ModuleDict(heads)
        self.parts = dict(parts)
        weights = embedding_weights or {}
        self.embedding_weights = {name: float(weights.get(name, 1.0)) for name in heads}
        self.learning = learning

    @property
    def families(self) -> list[str]:
        return list(self.heads)

    def inputs(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """What the heads (and the learning features) read, by name."""
        final, mid, garment = self.backbone(x)
        inputs = {"final": final, "mid": mid, "garment": garment}
        if self.learning is not None or any("descriptor" in p for p in self.parts.values()):
            inputs["descriptor"] = self.descriptor(x)
        return inputs

    def logits_and_hidden(
        self, x: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        return self.heads_on(self.inputs(x))

    def heads_on(
        self, inputs: dict[str, torch.Tensor]
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Each family's logits and 64-d activation from its named inputs (``parts``)."""
        logits, hidden = {}, {}
        for name, head in self.heads.items():
            features = torch.cat([inputs[p] for p in self.parts[name]], dim=1)
            logits[name], hidden[name] = head(features)
        return logits, hidden

    @property
    def outputs(self) -> list[str]:
        """The graph's output names, in the order :meth:`forward` returns them."""
        names = [f"probs_{name}" for name in self.heads] + ["embedding"]
        return names + (["features"] if self.learning is not None else [])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        inputs = self.inputs(x)
        logits, hidden = self.heads_on(inputs)
        probs = {name: torch.softmax(logits[name], dim=1) for name in self.heads}
        embedding = combine(hidden, probs, self.embedding_weights)
        if self.learning is None:
            return (*probs.values(), embedding)
        return (*probs.values(), embedding, self.learning(inputs))
