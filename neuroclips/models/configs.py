"""Sizes of the reconstructors: ``full`` as the reference (spec §2.1, §3.2) and ``mini`` for the mini zoo.

``mini`` matches the mini zoo's targets (4x8x8 VAE latents of 64-px frames; 64x128 CLIP tokens) and keeps each
subject's two checkpoints a few MB in fp16, so three subjects ship in ``demo_data/``.
"""

from __future__ import annotations

CONFIGS = ("mini", "full")


def reconstructor_configs(config: str, n_voxels: int) -> dict[str, dict]:
    """``{"perception": kwargs, "semantics": kwargs}`` for :class:`PerceptionReconstructor` and
    :class:`SemanticsReconstructor`."""
    if config == "full":
        # The classes' defaults are the reference's: h = 4096, 64x7x7 -> 4x28x28 latents, 256x1664 bigG tokens.
        return {"perception": dict(n_voxels=n_voxels), "semantics": dict(n_voxels=n_voxels)}
    if config == "mini":
        return {
            "perception": dict(n_voxels=n_voxels, inception_dim=16, hidden_dim=64, map_channels=32, map_size=4,
                               upsampler_channels=(16, 32), upsampler_groups=8, aux_dim=128),
            "semantics": dict(n_voxels=n_voxels, hidden_dim=64, n_tokens=64, token_dim=128, text_dim=128,
                              prior_depth=2, prior_dim_head=32, prior_ff_mult=2.0),
        }
    raise ValueError(f"config must be one of {CONFIGS}, got {config!r}")
