"""Configs of the mini zoo's components, sized for the simulated world's 64-px frames on 2 CPU cores."""

from __future__ import annotations


def vae_config(resolution: int = 64) -> dict:
    """``AutoencoderKL`` with SD's layout: 4 blocks (downsampling factor 8) and 4 latent channels, so a
    64-px frame becomes a 4x8x8 latent as a 224-px frame becomes 4x28x28 in the full zoo (spec §2)."""
    return dict(in_channels=3, out_channels=3, latent_channels=4, sample_size=resolution,
                down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                block_out_channels=(24, 48, 96, 96), layers_per_block=1, norm_num_groups=8, act_fn="silu")
