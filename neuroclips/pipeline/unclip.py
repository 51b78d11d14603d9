"""Keyframe generation from CLIP image tokens: the unCLIP stage of the Semantics Reconstructor (spec §3.4).

MindEye2's unclip6 is a latent diffusion UNet that cross-attends to OpenCLIP-bigG's 256x1664 image tokens,
trained with all-zero tokens for dropped conditions (sgm's ucg). At inference the reference's
``unclip_recon`` gives it i.i.d. N(0, 1) tokens as the unconditional input instead (spec §4.2):
``unconditional="noise"``. The mini zoo's UNet was trained with zero tokens, so it is sampled with
``"zeros"``, the default here. This pipeline runs any such UNet with a diffusers scheduler; the mini zoo's UNet attends to
the mini CLIP's 8x8 grid of tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from diffusers import DiffusionPipeline
from diffusers.utils import BaseOutput


@dataclass
class KeyframeOutput(BaseOutput):
    """``images``: uint8 (B, H, W, 3); ``latents``: the final (unscaled) VAE latents."""

    images: np.ndarray
    latents: torch.Tensor


class UnCLIPKeyframePipeline(DiffusionPipeline):
    """Image tokens -> keyframe. Components: ``unet`` (``UNet2DConditionModel``), ``scheduler``, ``vae``."""

    model_cpu_offload_seq = "unet->vae"

    def __init__(self, unet, scheduler, vae):
        super().__init__()
        self.register_modules(unet=unet, scheduler=scheduler, vae=vae)

    def check_inputs(self, image_tokens: torch.Tensor, guidance_scale: float, num_inference_steps: int,
                     image=None, strength: float = 1.0) -> None:
        dim = self.unet.config.cross_attention_dim
        if image_tokens.ndim != 3 or image_tokens.shape[-1] != dim:
            raise ValueError(f"image_tokens must be (batch, n_tokens, {dim}), got {tuple(image_tokens.shape)}")
        if guidance_scale < 1.0:
            raise ValueError(f"guidance_scale must be >= 1 (1 disables guidance), got {guidance_scale}")
        if num_inference_steps < 1:
            raise ValueError(f"num_inference_steps must be >= 1, got {num_inference_steps}")
        if not 0.0 < strength <= 1.0:
            raise ValueError(f"strength must be in (0, 1], got {strength}")
        if image is not None:
            size = self.unet.config.sample_size * 2 ** (len(self.vae.config.block_out_channels) - 1)
            if image.dtype != np.uint8 or image.shape != (image_tokens.shape[0], size, size, 3):
                raise ValueError(f"image must be uint8 ({image_tokens.shape[0]}, {size}, {size}, 3), got {image.dtype} {image.shape}")

    def encode_image(self, image: np.ndarray, generator) -> torch.Tensor:
        """uint8 (B, H, W, 3) -> scaled VAE latents."""
        from diffusers.pipelines.animatediff.pipeline_animatediff_sparsectrl import retrieve_latents

        from .video import to_pixels

        x = to_pixels(image, self.vae.device, self.vae.dtype)
        return retrieve_latents(self.vae.encode(x), generator=generator) * self.vae.config.scaling_factor

    def prepare_latents(self, batch: int, generator, dtype, device) -> torch.Tensor:
        size = self.unet.config.sample_size
        shape = (batch, self.unet.config.in_channels, size, size)
        latents = torch.randn(shape, generator=generator, dtype=torch.float32).to(device=device, dtype=dtype)
        return latents * self.scheduler.init_noise_sigma

    def decode_latents(self, latents: torch.Tensor) -> np.ndarray:
        image = self.vae.decode(latents / self.vae.config.scaling_factor).sample
        return ((image.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()

    @torch.no_grad()
    def __call__(self, image_tokens: torch.Tensor, num_inference_steps: int = 25, guidance_scale: float = 5.0,
                 generator: torch.Generator | None = None, latents: torch.Tensor | None = None,
                 image: np.ndarray | None = None, strength: float = 1.0, unconditional: str = "zeros",
                 output_type: str = "np") -> KeyframeOutput:
        """Generate one keyframe per row of ``image_tokens`` (B, n_tokens, width).

        ``image`` (uint8 (B, H, W, 3)) with ``strength`` < 1 starts part-way from that image noised (SDEdit):
        the paper's variant that feeds the blurry video's first frame to unCLIP (spec §4.2). The reference
        starts from pure noise, the default. ``unconditional``: CFG's unconditional tokens, ``"zeros"`` or
        ``"noise"`` (the reference's N(0, 1) tokens, drawn from ``generator``)."""
        device, dtype = self._execution_device, self.unet.dtype
        # 1. Check inputs
        self.check_inputs(image_tokens, guidance_scale, num_inference_steps, image, strength)
        cond = image_tokens.to(device=device, dtype=dtype)
        do_cfg = guidance_scale > 1.0
        # 2. Conditioning: CFG's unconditional tokens are zeros (training's dropped condition) or N(0, 1) noise
        if unconditional not in ("zeros", "noise"):
            raise ValueError(f"unconditional must be 'zeros' or 'noise', got {unconditional!r}")
        if unconditional == "noise":
            uncond = torch.randn(cond.shape, generator=generator, dtype=torch.float32).to(device=device, dtype=dtype)
        else:
            uncond = torch.zeros_like(cond)
        context = torch.cat([uncond, cond]) if do_cfg else cond
        # 3. Timesteps
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        if image is not None:
            keep = max(1, min(num_inference_steps, int(round(num_inference_steps * strength))))
            self.scheduler.timesteps = self.scheduler.timesteps[num_inference_steps - keep:]
        # 4. Initial noise, or the noised init image
        if latents is None:
            latents = self.prepare_latents(cond.shape[0], generator, dtype, device)
        if image is not None:
            z = self.encode_image(image, generator).to(dtype)
            latents = self.scheduler.add_noise(z, latents / self.scheduler.init_noise_sigma, self.scheduler.timesteps[:1])
        # 5. Denoising loop
        for t in self.progress_bar(self.scheduler.timesteps):
            model_in = torch.cat([latents] * 2) if do_cfg else latents
            model_in = self.scheduler.scale_model_input(model_in, t)
            noise = self.unet(model_in, t, encoder_hidden_states=context).sample
            if do_cfg:
                uncond, text = noise.chunk(2)
                noise = uncond + guidance_scale * (text - uncond)
            latents = self.scheduler.step(noise, t, latents).prev_sample
        # 6. Decode
        images = self.decode_latents(latents) if output_type == "np" else None
        return KeyframeOutput(images=images, latents=latents)
