"""The whole tagger as one torch module: what is exported to ONNX and what stage 2 trains."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from training.backbones import Backbone
from training.colour import ColourDescriptor
from training.heads import FamilyHead


class VitrinaNet(nn.Module):
    """Image batch -> per-family softmax + the combined, L2-normalised embedding.

    The embedding is the study's combined descriptor: each head's 64-d activation,
    L2-normalised, scaled by its family weight, concatenated and normalised again.
    """

    def __init__(
        self,
        backbone: Backbone,
        descriptor: ColourDescriptor,
        heads: dict[str, FamilyHead],
        parts: dict[str, tuple[str, ...]],
        embedding_weights: dict[str, float] | None = None,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.descriptor = descriptor
        self.heads = nn.ModuleDict(heads)
        self.parts = dict(parts)
        weights = embedding_weights or {}
        self.embedding_weights = {name: float(weights.get(name, 1.0)) for name in heads}

    @property
    def families(self) -> list[str]:
        return list(self.heads)

    def logits_and_hidden(
        self, x: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        final, mid = self.backbone(x)
        inputs = {"final": final, "mid": mid}
        if any("descriptor" in p for p in self.parts.values()):
            inputs["descriptor"] = self.descriptor(x)
        logits, hidden = {}, {}
        for name, head in self.heads.items():
            features = torch.cat([inputs[p] for p in self.parts[name]], dim=1)
            logits[name], hidden[name] = head(features)
        return logits, hidden

    def embed(self, hidden: dict[str, torch.Tensor]) -> torch.Tensor:
        pieces = [
            F.normalize(hidden[name], dim=1) * self.embedding_weights[name] for name in self.heads
        ]
        return F.normalize(torch.cat(pieces, dim=1), dim=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        logits, hidden = self.logits_and_hidden(x)
        probs = [torch.softmax(logits[name], dim=1) for name in self.heads]
        return (*probs, self.embed(hidden))
