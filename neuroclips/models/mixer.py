"""MindEye2's MLP-mixer backbone and ridge layer, shared by both reconstructors (spec §2.1-4, §2.2, §3.2).

Module names follow MindEye2 / the reference (``ridge.linears.0``, ``mixer_blocks1``, ``mixer_blocks2``) so
their state dicts load as they are (spec §10.3).
"""

from __future__ import annotations

import torch
from torch import nn


class RidgeRegression(nn.Module):
    """A per-subject ``nn.Linear`` (V -> h, with bias) applied to every sequence element. "Ridge" only by
    MindEye's naming: it is trained by AdamW with weight decay, not solved in closed form (spec §2.1-3, §10.2)."""

    def __init__(self, input_sizes: list[int], out_features: int):
        super().__init__()
        self.out_features = out_features
        self.linears = nn.ModuleList([nn.Linear(n, out_features) for n in input_sizes])

    def forward(self, x: torch.Tensor, subject_index: int = 0) -> torch.Tensor:  # (B, S, V) -> (B, S, h)
        return self.linears[subject_index](x)


def mlp(in_dim: int, out_dim: int, dropout: float, two_layers: bool = True) -> nn.Sequential:
    if two_layers:  # the backbone's MLPs: Linear -> GELU -> Dropout -> Linear
        return nn.Sequential(nn.Linear(in_dim, out_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(out_dim, out_dim))
    return nn.Sequential(nn.Linear(in_dim, out_dim), nn.GELU(), nn.Dropout(dropout))  # Inception Extension's


class MixerBlocks(nn.Module):
    """``n_blocks`` mixer blocks over (B, S, h) with MindEye2's residual scheme: each stream's residual is the
    previous output of that same stream (spec §2.1-4). With S = 1 the "channel" block adds a learned constant
    (LayerNorm over one element outputs its bias); it is kept for state-dict compatibility (spec §2.2)."""

    def __init__(self, hidden_dim: int, seq_len: int, n_blocks: int, dropout: float, two_layers: bool = True):
        super().__init__()
        self.mixer_blocks1 = nn.ModuleList(
            [nn.Sequential(nn.LayerNorm(hidden_dim), mlp(hidden_dim, hidden_dim, dropout, two_layers)) for _ in range(n_blocks)])
        self.mixer_blocks2 = nn.ModuleList(
            [nn.Sequential(nn.LayerNorm(seq_len), mlp(seq_len, seq_len, dropout, two_layers)) for _ in range(n_blocks)])

    def mix(self, x: torch.Tensor) -> torch.Tensor:
        residual1, residual2 = x, x.transpose(1, 2)
        for block1, block2 in zip(self.mixer_blocks1, self.mixer_blocks2):
            x = block1(x) + residual1
            residual1 = x
            x = x.transpose(1, 2)
            x = block2(x) + residual2
            residual2 = x
            x = x.transpose(1, 2)
        return x.reshape(len(x), -1)
