"""The final video: AnimateDiff + SparseCtrl RGB steered by the blurry video (α), the keyframe (β) and the
caption (γ), as NeuroClips' ``pipeline_neuroclips.py`` does it (spec §5.2).

α, reference behaviour: the blurry video's latents are noised to the *first* (largest) timestep of the
schedule and denoised over all steps (NeuroClips computes ``low_strength=0.3`` but then takes
``timesteps[:1]``); with DDIM's 25 'leading' steps that is t=961, where sqrt(alpha_bar) is about 0.05. The
paper's description (start the reverse process part-way, at strength 0.3) is the ``alpha_strength`` option.
"""

from __future__ import annotations

import contextlib

import numpy as np

from .prompts import NEGATIVE_PROMPT


@contextlib.contextmanager
def truncated_schedule(scheduler, keep: int | None):
    """While active, ``scheduler.set_timesteps(n)`` keeps only the last ``keep`` of the n timesteps: the
    pipeline has no ``strength`` argument, so this is how a partial (SDEdit) reverse process runs in it."""
    if keep is None:
        yield scheduler
        return
    original = scheduler.set_timesteps

    def set_timesteps(num_inference_steps, *args, **kwargs):
        original(num_inference_steps, *args, **kwargs)
        scheduler.timesteps = scheduler.timesteps[num_inference_steps - keep :]

    scheduler.set_timesteps = set_timesteps
    try:
        yield scheduler
    finally:
        del scheduler.set_timesteps  # back to the class method


def encode_video(vae, frames: np.ndarray):
    """uint8 (F, H, W, 3) -> scaled latents (1, 4, F, h, w), the pipeline's ``b c f h w`` layout."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
    x = x.to(device=vae.device, dtype=vae.dtype)
    with torch.no_grad():
        z = vae.encode(x).latent_dist.mode() * vae.config.scaling_factor
    return z.permute(1, 0, 2, 3)[None]


def generate_video(pipe, prompt: str, keyframe: np.ndarray | None = None, blurry_video: np.ndarray | None = None,
                   num_inference_steps: int = 25, guidance_scale: float = 8.5, negative_prompt: str | None = NEGATIVE_PROMPT,
                   alpha_strength: float | None = None, num_frames: int = 16, generator=None) -> np.ndarray:
    """One video, uint8 (num_frames, H, W, 3).

    ``keyframe`` (β): uint8 (H, W, 3) given to SparseCtrl at frame 0, or None to switch the control off.
    ``blurry_video`` (α): uint8 (num_frames, H, W, 3); None starts from pure noise.
    ``alpha_strength``: None for the reference's start at the first timestep; a value in (0, 1] runs only
    that fraction of the schedule from the noised blurry latents (the paper's SDEdit reading).
    """
    import torch
    from PIL import Image

    if blurry_video is not None and len(blurry_video) != num_frames:
        raise ValueError(f"blurry_video has {len(blurry_video)} frames; the video has {num_frames}")
    if alpha_strength is not None and not 0.0 < alpha_strength <= 1.0:
        raise ValueError(f"alpha_strength must be in (0, 1], got {alpha_strength}")
    size = (keyframe if keyframe is not None else blurry_video[0] if blurry_video is not None else None)
    height = width = size.shape[0] if size is not None else pipe.unet.config.sample_size * pipe.vae_scale_factor
    latents, keep = None, None
    if blurry_video is not None and alpha_strength is not None:
        keep = max(1, min(num_inference_steps, int(round(num_inference_steps * alpha_strength))))
    with truncated_schedule(pipe.scheduler, keep):
        if blurry_video is not None:
            z = encode_video(pipe.vae, blurry_video)
            pipe.scheduler.set_timesteps(num_inference_steps)
            noise = torch.randn(z.shape, generator=generator, dtype=z.dtype).to(z.device)
            latents = pipe.scheduler.add_noise(z, noise, pipe.scheduler.timesteps[:1])
        control = Image.fromarray(keyframe if keyframe is not None else np.zeros((height, width, 3), np.uint8))
        out = pipe(prompt=prompt, negative_prompt=negative_prompt, num_frames=num_frames, height=height, width=width,
                   num_inference_steps=num_inference_steps, guidance_scale=guidance_scale, latents=latents,
                   conditioning_frames=[control], controlnet_frame_indices=[0],
                   controlnet_conditioning_scale=1.0 if keyframe is not None else 0.0, generator=generator,
                   output_type="np")
    return (np.clip(out.frames[0], 0, 1) * 255).round().astype(np.uint8)
