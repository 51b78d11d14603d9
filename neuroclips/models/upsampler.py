"""The Perception Reconstructor's temporal upsampler (reference ``DecoderVideo``, spec §2.3).

A diffusers VAE-decoder layout (``ResnetBlock2D``, ``Attention``, ``Upsample2D``) in which every spatial
attention is followed by a temporal attention over the frames of a group, mixed back by a learnable scalar
η per attention layer, initialised to 1.0 and unconstrained: η·x + (1-η)·temporal(x). No temporal positional
encoding (spec §2.3). Module names follow the reference so its state dicts load.
"""

from __future__ import annotations

import torch
from diffusers.models.attention_processor import Attention
from diffusers.models.resnet import ResnetBlock2D
from diffusers.models.upsampling import Upsample2D
from torch import nn


def _attention(channels: int, groups: int) -> Attention:
    # One head of width C, GroupNorm pre-norm, biases, internal residual, fp32 softmax (spec §2.3).
    return Attention(channels, heads=1, dim_head=channels, eps=1e-6, norm_num_groups=groups, residual_connection=True,
                     bias=True, upcast_softmax=True, _from_deprecated_attn_block=True)


def _resnet(c_in: int, c_out: int, groups: int) -> ResnetBlock2D:
    return ResnetBlock2D(in_channels=c_in, out_channels=c_out, temb_channels=None, eps=1e-6, groups=groups, dropout=0.0)


def temporal_mix(attn: Attention, temp_attn: Attention, weight: nn.Parameter, x: torch.Tensor, time: int) -> torch.Tensor:
    """Spatial attention, then attention across the ``time`` frames of each group at every pixel."""
    x = attn(x)
    n, c, h, w = x.shape
    if n % time:
        raise ValueError(f"{n} frames do not split into temporal groups of {time}")
    g = n // time
    t = x.reshape(g, time, c, h, w).permute(0, 3, 4, 1, 2).reshape(g * h * w, time, c)
    t = temp_attn(t).reshape(g, h, w, time, c).permute(0, 3, 4, 1, 2).reshape(n, c, h, w)
    return weight * x + (1 - weight) * t


class MidBlock(nn.Module):
    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.resnets = nn.ModuleList([_resnet(channels, channels, groups) for _ in range(2)])
        self.attentions = nn.ModuleList([_attention(channels, groups)])
        self.temp_attentions = nn.ModuleList([_attention(channels, groups)])
        self.weights = nn.ParameterList([nn.Parameter(torch.ones(1))])

    def forward(self, x: torch.Tensor, time: int) -> torch.Tensor:
        x = self.resnets[0](x, None)
        x = temporal_mix(self.attentions[0], self.temp_attentions[0], self.weights[0], x, time)
        return self.resnets[1](x, None)


class AttnUpBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, n_layers: int, groups: int, upsample: bool):
        super().__init__()
        self.resnets = nn.ModuleList([_resnet(c_in if i == 0 else c_out, c_out, groups) for i in range(n_layers)])
        self.attentions = nn.ModuleList([_attention(c_out, groups) for _ in range(n_layers)])
        self.temp_attentions = nn.ModuleList([_attention(c_out, groups) for _ in range(n_layers)])
        self.weights = nn.ParameterList([nn.Parameter(torch.ones(1)) for _ in range(n_layers)])
        self.upsamplers = nn.ModuleList([Upsample2D(c_out, use_conv=True, out_channels=c_out)]) if upsample else None

    def forward(self, x: torch.Tensor, time: int) -> torch.Tensor:
        for resnet, attn, temp_attn, weight in zip(self.resnets, self.attentions, self.temp_attentions, self.weights):
            x = temporal_mix(attn, temp_attn, weight, resnet(x, None), time)
        if self.upsamplers is not None:
            x = self.upsamplers[0](x)
        return x


class TemporalUpsampler(nn.Module):
    """(N, in_channels, s, s) -> (N, out_channels, s·2^(len(blocks)-1), ...), attention across groups of
    ``time`` consecutive frames. Full: 64x7x7 -> 4x28x28 with channels (32, 64, 128), 32 groups (spec §2.3)."""

    def __init__(self, in_channels: int = 64, out_channels: int = 4, block_out_channels=(32, 64, 128),
                 layers_per_block: int = 1, norm_num_groups: int = 32):
        super().__init__()
        rev = list(reversed(block_out_channels))
        self.conv_in = nn.Conv2d(in_channels, rev[0], 3, padding=1)
        self.mid_block = MidBlock(rev[0], norm_num_groups)
        self.up_blocks = nn.ModuleList([
            AttnUpBlock(rev[max(i - 1, 0)], c, layers_per_block + 1, norm_num_groups, upsample=i < len(rev) - 1)
            for i, c in enumerate(rev)])
        self.conv_norm_out = nn.GroupNorm(norm_num_groups, block_out_channels[0], eps=1e-6)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(block_out_channels[0], out_channels, 3, padding=1)

    @property
    def eta(self) -> list[float]:
        """The learnable mixing weights η of the temporal attentions (1.0 = temporal path off)."""
        return [float(w.detach()) for blk in [self.mid_block, *self.up_blocks] for w in blk.weights]

    def forward(self, x: torch.Tensor, time: int) -> torch.Tensor:
        x = self.mid_block(self.conv_in(x), time)
        for block in self.up_blocks:
            x = block(x, time)
        return self.conv_out(self.conv_act(self.conv_norm_out(x)))
