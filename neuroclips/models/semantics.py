"""Semantics Reconstructor: fMRI -> clip_voxels (CLIP image tokens) -> diffusion prior (spec §3).

``ridge`` -> MindEye2 ``BrainNetwork`` (mixer, ``backbone_linear`` to n_tokens x token_dim, per-token
``clip_proj``) -> clip_voxels, the prior's condition (NeuroClips conditions on the post-projector output, spec
§3.2). ``clipproj`` is the Reftm projector (token mean, then a matrix to the text space), frozen during
training as the reference loads it pretrained. Names follow MindEye2 (``ridge.linears.0``, ``backbone.*``,
``diffusion_prior.net.*``), so its state dicts initialise this model (:func:`load_mindeye2_state_dict`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from diffusers.utils import BaseOutput
from torch import nn

from .mixer import MixerBlocks, RidgeRegression
from .prior import DiffusionPrior


@dataclass
class SemanticsOutput(BaseOutput):
    backbone: torch.Tensor  # (B, n_tokens, token_dim): before the projector
    clip_voxels: torch.Tensor  # (B, n_tokens, token_dim): after it; the contrastive target space and the prior's condition


class BrainNetwork(MixerBlocks):
    def __init__(self, hidden_dim: int, n_blocks: int, dropout: float, n_tokens: int, token_dim: int):
        super().__init__(hidden_dim, 1, n_blocks, dropout)
        self.n_tokens, self.token_dim = n_tokens, token_dim
        self.backbone_linear = nn.Linear(hidden_dim, n_tokens * token_dim)
        d = token_dim
        self.clip_proj = nn.Sequential(nn.LayerNorm(d), nn.GELU(), nn.Linear(d, d), nn.LayerNorm(d), nn.GELU(),
                                       nn.Linear(d, d), nn.LayerNorm(d), nn.GELU(), nn.Linear(d, d))

    def forward(self, x):
        backbone = self.backbone_linear(self.mix(x)).reshape(len(x), self.n_tokens, self.token_dim)
        return backbone, self.clip_proj(backbone)


class CLIPProj(nn.Module):
    """Reftm projector: mean over tokens, then (token_dim x text_dim) (spec §3.2)."""

    def __init__(self, token_dim: int, text_dim: int):
        super().__init__()
        self.proj = nn.Parameter(torch.randn(token_dim, text_dim))

    def forward(self, tokens):
        return tokens.mean(1) @ self.proj


class SemanticsReconstructor(ModelMixin, ConfigMixin):
    """fMRI (B, V) -> :class:`SemanticsOutput`; :meth:`sample_tokens` runs the prior (DDIM, 20 steps)."""

    @register_to_config
    def __init__(self, n_voxels: int, hidden_dim: int = 4096, n_blocks: int = 4, dropout: float = 0.15,
                 n_tokens: int = 256, token_dim: int = 1664, text_dim: int | None = 1280, prior_depth: int = 6,
                 prior_dim_head: int = 52, prior_heads: int | None = None, prior_ff_mult: float = 4.0,
                 prior_timesteps: int = 100, prior_cond_drop_prob: float = 0.2):
        super().__init__()
        self.ridge = RidgeRegression([n_voxels], hidden_dim)
        self.backbone = BrainNetwork(hidden_dim, n_blocks, dropout, n_tokens, token_dim)
        self.clipproj = CLIPProj(token_dim, text_dim) if text_dim else None
        self.diffusion_prior = DiffusionPrior(token_dim, n_tokens, prior_depth, prior_dim_head, prior_heads,
                                              prior_timesteps, prior_cond_drop_prob, prior_ff_mult)

    def forward(self, fmri: torch.Tensor) -> SemanticsOutput:
        if fmri.ndim == 2:
            fmri = fmri[:, None]
        if fmri.shape[-1] != self.config.n_voxels:
            raise ValueError(f"fMRI has {fmri.shape[-1]} voxels; this model was built for {self.config.n_voxels}")
        backbone, clip_voxels = self.backbone(self.ridge(fmri))
        return SemanticsOutput(backbone=backbone, clip_voxels=clip_voxels)

    @torch.no_grad()
    def sample_tokens(self, clip_voxels: torch.Tensor, num_inference_steps: int = 20,
                      generator: torch.Generator | None = None) -> torch.Tensor:
        """Prior sampling from clip_voxels, as the reference: dalle2 DDIM, η = 1, cond_scale 1 (spec §4.1)."""
        return self.diffusion_prior.sample(clip_voxels, num_inference_steps, generator=generator)


def load_mindeye2_state_dict(model: SemanticsReconstructor, state_dict: dict, load_prior: bool = True) -> dict:
    """Initialise from a MindEye2 checkpoint (``model_state_dict`` of ``last.pth``) as the reference does (spec §3.2):
    backbone (mixer, backbone_linear, clip_proj) and optionally the diffusion prior; MindEye2's own ridge (NSD
    voxels), its blurry branch and the prior's noise-schedule buffers are skipped. Returns what was loaded/skipped."""
    state_dict = state_dict.get("model_state_dict", state_dict)
    own = model.state_dict()
    prefixes = ("backbone.", "diffusion_prior.net.") if load_prior else ("backbone.",)
    take, skipped = {}, []
    for k, v in state_dict.items():
        if k.startswith(prefixes) and k in own:
            if own[k].shape != v.shape:
                raise ValueError(f"MindEye2 tensor {k} has shape {tuple(v.shape)}, the model expects {tuple(own[k].shape)}; "
                                 "build the model with the checkpoint's sizes (hidden_dim, n_tokens, token_dim)")
            take[k] = v
        else:
            skipped.append(k)
    missing = [k for k in own if k.startswith(prefixes) and k not in take]
    if missing:
        raise KeyError(f"the MindEye2 state dict lacks {len(missing)} tensors the model needs, e.g. {missing[:3]}")
    model.load_state_dict(take, strict=False)
    return {"loaded": sorted(take), "skipped": sorted(skipped)}
