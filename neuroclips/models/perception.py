"""Perception Reconstructor: fMRI -> 6 VAE latents of the clip's frames (the blurry video), spec §2.

Inception Extension (one fMRI -> ``n_frames`` pseudo-fMRIs) -> ridge -> MindEye2 mixer -> low-level head:
``blin1`` to a ``map_channels x map_size²`` map, an auxiliary token branch (``b_maps_projector``, for the soft
contrastive loss against a frozen teacher's feature map) and the temporal upsampler to VAE latents. Names
follow the reference (``fmri``, ``ridge1``, ``backbone.*``) so its checkpoints load (spec §10.3).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from diffusers.utils import BaseOutput
from torch import nn

from .mixer import MixerBlocks, RidgeRegression, mlp
from .upsampler import TemporalUpsampler

TEMPORAL_GROUPS = ("code_parity", "per_clip")


@dataclass
class PerceptionOutput(BaseOutput):
    latents: torch.Tensor  # (B, n_frames, C, s, s): predicted VAE latents (already times the VAE's scaling factor)
    aux_tokens: torch.Tensor  # (B * n_frames, map_size², aux_dim): the auxiliary branch, for the contrastive loss


class InceptionExtension(MixerBlocks):
    """One fMRI (B, 1, V) -> ``expand`` pseudo-fMRIs (B·expand, V), clip-major, GELU applied (spec §2.1-2)."""

    def __init__(self, n_voxels: int, hidden_dim: int, expand: int, n_blocks: int = 1, dropout: float = 0.15):
        super().__init__(hidden_dim, 1, n_blocks, dropout, two_layers=False)
        self.expand = expand
        self.lin0 = mlp(n_voxels, hidden_dim, dropout, two_layers=False)
        self.lin1 = mlp(hidden_dim, n_voxels * expand, dropout, two_layers=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.mix(self.lin0(x))
        return self.lin1(x).reshape(len(x) * self.expand, -1)


class PerceptionBackbone(MixerBlocks):
    def __init__(self, hidden_dim, n_blocks, dropout, map_channels, map_size, latent_channels, upsampler_channels,
                 upsampler_groups, aux_dim):
        super().__init__(hidden_dim, 1, n_blocks, dropout)
        self.map_channels, self.map_size = map_channels, map_size
        self.blin1 = nn.Linear(hidden_dim, map_channels * map_size * map_size)
        self.bdropout = nn.Dropout(0.3)
        self.bnorm = nn.GroupNorm(1, map_channels)
        self.bupsampler = TemporalUpsampler(map_channels, latent_channels, tuple(upsampler_channels), 1, upsampler_groups)
        self.b_maps_projector = nn.Sequential(
            nn.Conv2d(map_channels, aux_dim, 1, bias=False), nn.GroupNorm(1, aux_dim), nn.ReLU(True),
            nn.Conv2d(aux_dim, aux_dim, 1, bias=False), nn.GroupNorm(1, aux_dim), nn.ReLU(True),
            nn.Conv2d(aux_dim, aux_dim, 1, bias=True))

    def forward(self, x: torch.Tensor, time: int):
        b = self.bdropout(self.blin1(self.mix(x)))
        b = self.bnorm(b.reshape(len(b), self.map_channels, self.map_size, self.map_size))
        aux = self.b_maps_projector(b).flatten(2).transpose(1, 2)
        return self.bupsampler(b, time=time), aux


class PerceptionReconstructor(ModelMixin, ConfigMixin):
    """fMRI (B, V) or (B, 1, V) -> :class:`PerceptionOutput`. ``temporal_group``: ``"code_parity"`` lets the
    upsampler attend across all frames of the batch (the reference trains on batches of 40 consecutive clips);
    ``"per_clip"`` across the ``n_frames`` of one fMRI, as the paper describes (spec §2.3)."""

    @register_to_config
    def __init__(self, n_voxels: int, n_frames: int = 6, inception_dim: int = 256, inception_blocks: int = 1,
                 hidden_dim: int = 4096, n_blocks: int = 4, dropout: float = 0.15, map_channels: int = 64,
                 map_size: int = 7, latent_channels: int = 4, upsampler_channels: tuple = (32, 64, 128),
                 upsampler_groups: int = 32, aux_dim: int = 512, temporal_group: str = "code_parity"):
        super().__init__()
        if temporal_group not in TEMPORAL_GROUPS:
            raise ValueError(f"temporal_group must be one of {TEMPORAL_GROUPS}, got {temporal_group!r}")
        self.fmri = InceptionExtension(n_voxels, inception_dim, n_frames, inception_blocks, dropout)
        self.ridge1 = RidgeRegression([n_voxels], hidden_dim)
        self.backbone = PerceptionBackbone(hidden_dim, n_blocks, dropout, map_channels, map_size, latent_channels,
                                           upsampler_channels, upsampler_groups, aux_dim)

    @property
    def latent_size(self) -> int:
        return self.config.map_size * 2 ** (len(self.config.upsampler_channels) - 1)

    def temporal_group_size(self, batch_size: int, temporal_group: str | None = None) -> int:
        group = temporal_group or self.config.temporal_group
        if group not in TEMPORAL_GROUPS:
            raise ValueError(f"temporal_group must be one of {TEMPORAL_GROUPS}, got {group!r}")
        return self.config.n_frames * (batch_size if group == "code_parity" else 1)

    def forward(self, fmri: torch.Tensor, temporal_group: str | None = None) -> PerceptionOutput:
        if fmri.ndim == 2:
            fmri = fmri[:, None]
        if fmri.shape[-1] != self.config.n_voxels:
            raise ValueError(f"fMRI has {fmri.shape[-1]} voxels; this model was built for {self.config.n_voxels}")
        b, f = len(fmri), self.config.n_frames
        x = self.fmri(fmri)[:, None]  # (B·F, 1, V)
        latents, aux = self.backbone(self.ridge1(x), time=self.temporal_group_size(b, temporal_group))
        return PerceptionOutput(latents=latents.reshape(b, f, *latents.shape[1:]), aux_tokens=aux)
