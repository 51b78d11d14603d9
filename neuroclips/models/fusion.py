"""Multi-fMRI fusion's decision (spec §6): do two neighbouring keyframes show the same kind of thing?

The paper embeds both reconstructed keyframes with CLIP and trains "a shallow MLP to distinguish whether two
frames share the same class". Its size and labels are not given; here it is one hidden layer over the
symmetric pair features [a·b, |a − b|] of L2-normalised CLIP image embeddings, trained on training-clip
category labels (:mod:`neuroclips.training.fusion`). ``cosine_threshold`` is the simple option.
"""

from __future__ import annotations

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn


def pair_features(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Order-free features of two batches of embeddings (B, D) -> (B, 2D)."""
    a, b = nn.functional.normalize(a.float(), dim=-1), nn.functional.normalize(b.float(), dim=-1)
    return torch.cat([a * b, (a - b).abs()], dim=-1)


class KeyframeSimilarityClassifier(ModelMixin, ConfigMixin):
    """P(same class) of two keyframes from their CLIP image embeddings; ``threshold`` is the decision point."""

    DEFAULT_COSINE_THRESHOLD = 0.8

    @register_to_config
    def __init__(self, embed_dim: int, hidden_dim: int = 64, threshold: float = 0.5,
                 cosine_threshold: float = DEFAULT_COSINE_THRESHOLD):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2 * embed_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, 1))

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Logits (B,) of 'same class'."""
        if a.shape != b.shape or a.shape[-1] != self.config.embed_dim:
            raise ValueError(f"embeddings must both be (B, {self.config.embed_dim}), got {tuple(a.shape)} and {tuple(b.shape)}")
        return self.net(pair_features(a, b).to(self.dtype))[:, 0]

    @torch.no_grad()
    def same_class(self, a: torch.Tensor, b: torch.Tensor, method: str = "classifier") -> tuple[torch.Tensor, torch.Tensor]:
        """(decision (B,) bool, score (B,)): the classifier's probability, or the cosine similarity."""
        if method == "classifier":
            p = torch.sigmoid(self(a, b))
            return p >= self.config.threshold, p
        if method == "cosine":
            cos = (nn.functional.normalize(a.float(), dim=-1) * nn.functional.normalize(b.float(), dim=-1)).sum(-1)
            return cos >= self.config.cosine_threshold, cos
        raise ValueError(f"fusion method must be 'classifier' or 'cosine', got {method!r}")
