"""The final video: AnimateDiff + SparseCtrl RGB steered by the blurry video (α), the keyframe (β) and the
caption (γ), as NeuroClips' ``pipeline_neuroclips.py`` does it (spec §5).

α, three readings (spec §5.3):

* ``code_parity`` (default): the blurry video's latents are noised to the *first* (largest) timestep of the
  schedule and denoised over all steps. NeuroClips computes ``low_strength=0.3`` but then takes
  ``timesteps[:1]``; with DDIM's 25 'leading' steps that is t=961, where sqrt(alpha_bar) is about 0.05.
* ``paper_eq5``: Eq. 5 of the paper, z_T = sqrt(ᾱ_T/ᾱ_ϑT)·z + sqrt(1 - ᾱ_T/ᾱ_ϑT)·ε with ϑ = ``alpha_strength``,
  T the schedule's first timestep; all steps run.
* ``sdedit``: start at the noise level of ``timesteps[t_start]`` and run only the remaining
  ``round(strength·steps)`` steps, which keeps far more of the blurry video. A different method, labelled so.

β: SparseCtrl at every step gets zeros with frame 0 set to the keyframe's VAE latent and a mask that is 1
at frame 0 (spec §5.4). Without a keyframe the control branch is not run at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from diffusers import AnimateDiffSparseControlNetPipeline
from diffusers.utils import BaseOutput

from ..frames import VIDEO_FRAMES, to_uint8, to_unit
from ..noise import randn
from .alpha import ALPHA_MODES
from .prompts import NEGATIVE_PROMPT


@dataclass
class VideoOutput(BaseOutput):
    """``frames``: uint8 (num_frames, H, W, 3); ``timesteps``: the timesteps the loop ran;
    ``controlnet_calls``: how often the SparseCtrl branch ran (0 without a keyframe)."""

    frames: np.ndarray
    timesteps: list[int]
    controlnet_calls: int


def interpolate_frames(frames: np.ndarray) -> np.ndarray:
    """6 frames at 3 FPS -> 16 frames, the reference's pixel-space blend (spec §5.2): keep f0, then for each
    pair append 0.67·f_k + 0.33·f_k+1, 0.33·f_k + 0.67·f_k+1 and f_k+1, so originals sit at 0, 3, ..., 15."""
    f = np.asarray(frames, np.float32)
    out = [f[0]]
    for a, b in zip(f[:-1], f[1:]):
        out += [0.67 * a + 0.33 * b, 0.33 * a + 0.67 * b, b]
    return np.clip(np.round(np.stack(out)), 0, 255).astype(np.uint8)


class NeuroClipsVideoPipeline(AnimateDiffSparseControlNetPipeline):
    """diffusers' AnimateDiff + SparseCtrl pipeline with NeuroClips' α, β and γ inputs (spec §5).

    The components and helpers (prompt encoding, SparseCtrl conditioning, decoding) are diffusers'; the
    denoising loop is rewritten because α needs a start latent that depends on the schedule and β must be
    able to skip the control branch entirely.
    """

    def encode_frames(self, frames: np.ndarray, generator: torch.Generator | None) -> torch.Tensor:
        """uint8 (F, H, W, 3) -> scaled latents (1, C, F, h, w), sampled from the posterior as the reference
        does (``latent_dist.sample()·scaling_factor``), with an explicit generator."""
        from diffusers.pipelines.animatediff.pipeline_animatediff_sparsectrl import retrieve_latents

        x = to_unit(frames, self.vae.device, self.vae.dtype)
        z = retrieve_latents(self.vae.encode(x), generator=generator) * self.vae.config.scaling_factor
        return z.permute(1, 0, 2, 3)[None]

    def alpha_latents(self, blurry_latents: torch.Tensor, noise: torch.Tensor, mode: str, strength: float) -> torch.Tensor:
        """The start latent of α guidance for the current ``self.scheduler.timesteps`` (:data:`ALPHA_MODES`)."""
        return ALPHA_MODES[mode].start(self, blurry_latents, noise, strength)

    def check_video_inputs(self, num_frames, blurry_video, keyframe, alpha_mode, alpha_strength, height, width) -> None:
        if alpha_mode not in ALPHA_MODES:
            raise ValueError(f"alpha_mode must be one of {list(ALPHA_MODES)}, got {alpha_mode!r}")
        if not 0.0 < alpha_strength <= 1.0:
            raise ValueError(f"alpha_strength must be in (0, 1], got {alpha_strength}")
        for name, x, ndim in (("blurry_video", blurry_video, 4), ("keyframe", keyframe, 3)):
            if x is None:
                continue
            x = np.asarray(x)
            if x.dtype != np.uint8 or x.ndim != ndim or x.shape[-1] != 3:
                raise ValueError(f"{name} must be uint8 with shape {'(F, H, W, 3)' if ndim == 4 else '(H, W, 3)'}, "
                                 f"got {x.dtype} {x.shape}")
            if x.shape[-3:-1] != (height, width):
                raise ValueError(f"{name} is {x.shape[-3]}x{x.shape[-2]}; the video is {height}x{width}")
        if blurry_video is not None and len(blurry_video) != num_frames:
            raise ValueError(f"blurry_video has {len(blurry_video)} frames; the video has {num_frames}")

    @torch.no_grad()
    def __call__(self, prompt: str, negative_prompt: str | None = NEGATIVE_PROMPT, blurry_video: np.ndarray | None = None,
                 keyframe: np.ndarray | None = None, num_frames: int = VIDEO_FRAMES, height: int | None = None,
                 width: int | None = None, num_inference_steps: int = 25, guidance_scale: float = 8.5,
                 alpha_mode: str = "code_parity", alpha_strength: float = 0.3,
                 controlnet_conditioning_scale: float = 1.0, eta: float = 0.0,
                 generator: torch.Generator | None = None) -> VideoOutput:
        """One video. ``blurry_video`` (α): uint8 (num_frames, H, W, 3) or None for pure noise; ``keyframe`` (β):
        uint8 (H, W, 3) for SparseCtrl frame 0, or None; ``prompt`` (γ): the full prompt text."""
        device = self._execution_device
        size = self.unet.config.sample_size * self.vae_scale_factor
        height, width = height or size, width or size
        # 1. Check inputs
        self.check_video_inputs(num_frames, blurry_video, keyframe, alpha_mode, alpha_strength, height, width)
        self._guidance_scale, self._clip_skip = guidance_scale, None
        do_cfg = guidance_scale > 1.0
        # 2. Encode the prompt (γ); CFG runs over [negative, positive] as the reference
        prompt_embeds, negative_embeds = self.encode_prompt(prompt, device, 1, do_cfg, negative_prompt or "")
        if do_cfg:
            prompt_embeds = torch.cat([negative_embeds, prompt_embeds])
        prompt_embeds = prompt_embeds.repeat_interleave(repeats=num_frames, dim=0)
        # 3. SparseCtrl conditioning (β): the keyframe's latent at frame 0
        cond = mask = None
        if keyframe is not None:
            if self.controlnet.config.use_simplified_condition_embedding:
                frames = self.encode_frames(keyframe[None], generator).to(self.controlnet.dtype)
            else:
                frames = to_unit(keyframe[None], device, self.controlnet.dtype).add(1).div(2).permute(1, 0, 2, 3)[None]
            cond, mask = self.prepare_sparse_control_conditioning(frames, num_frames, [0], device, self.controlnet.dtype)
        # 4. Timesteps (an α mode such as sdedit may keep only the last part of the schedule)
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        keep_steps = ALPHA_MODES[alpha_mode].steps
        if blurry_video is not None and keep_steps is not None:
            keep = keep_steps(num_inference_steps, alpha_strength)
            self.scheduler.timesteps = self.scheduler.timesteps[num_inference_steps - keep:]
        timesteps = self.scheduler.timesteps
        # 5. Start latents: noise, or the blurry video's latents noised by α
        h, w = height // self.vae_scale_factor, width // self.vae_scale_factor
        shape = (1, self.unet.config.in_channels, num_frames, h, w)
        if blurry_video is not None:
            z = self.encode_frames(blurry_video, generator)
            noise = randn(shape, generator, device, prompt_embeds.dtype)
            latents = self.alpha_latents(z.to(noise.dtype), noise, alpha_mode, alpha_strength)
        else:
            latents = randn(shape, generator, device, prompt_embeds.dtype)
            latents = latents * self.scheduler.init_noise_sigma
        extra = self.prepare_extra_step_kwargs(generator, eta)
        # 6. Denoising loop
        calls = 0
        for t in self.progress_bar(timesteps):
            model_in = self.scheduler.scale_model_input(torch.cat([latents] * 2) if do_cfg else latents, t)
            down = mid = None
            if cond is not None:
                down, mid = self.controlnet(model_in, t, encoder_hidden_states=prompt_embeds, controlnet_cond=cond,
                                            conditioning_mask=mask, conditioning_scale=controlnet_conditioning_scale,
                                            guess_mode=False, return_dict=False)
                calls += 1
            noise_pred = self.unet(model_in, t, encoder_hidden_states=prompt_embeds,
                                   down_block_additional_residuals=down, mid_block_additional_residual=mid).sample
            if do_cfg:
                uncond, text = noise_pred.chunk(2)
                noise_pred = uncond + guidance_scale * (text - uncond)
            latents = self.scheduler.step(noise_pred, t, latents, **extra).prev_sample
        # 7. Decode frame by frame, (x/2 + 0.5) clamped (spec §5.5)
        frames = to_uint8(self.decode_latents(latents.to(self.vae.dtype))[0].transpose(0, 1))
        self.maybe_free_model_hooks()
        return VideoOutput(frames=frames, timesteps=[int(t) for t in timesteps], controlnet_calls=calls)
