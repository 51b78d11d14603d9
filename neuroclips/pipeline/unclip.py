"""Keyframe generation from CLIP image tokens: the unCLIP stage of the Semantics Reconstructor (spec §3.4).

MindEye2's unclip6 is a latent diffusion UNet that cross-attends to OpenCLIP-bigG's 256x1664 image tokens,
trained with all-zero tokens for dropped conditions (sgm's ucg). At inference the reference's
``unclip_recon`` gives it i.i.d. N(0, 1) tokens as the unconditional input instead (spec §4.2):
``unconditional="noise"``. The mini zoo's UNet was trained with zero tokens, so it is sampled with
``"zeros"``, the default here. This pipeline runs any such UNet with a diffusers scheduler; the mini zoo's UNet attends to
the mini CLIP's 8x8 grid of tokens.

The full zoo's unclip6 adds what sgm does around the UNet (spec §4.2): a 1024-d vector condition (sinusoidal
embeddings of the original size and crop, 256-d each) through the UNet's projection class embedding; sgm's own
38 timesteps (``discretization="sgm"``) with Euler; offset noise; and MindEye2's ``clamp(0.8x + 0.2)`` colour
mapping of the decoded image (``colour_mapping="mindeye2"``) instead of ``(x + 1) / 2``.
"""

from __future__ import annotations

import contextlib
import inspect
from dataclasses import dataclass

import numpy as np
import torch
from diffusers import DiffusionPipeline
from diffusers.models.embeddings import get_timestep_embedding
from diffusers.utils import BaseOutput

from ..noise import randn
from .settings import KEYFRAME_UNCONDITIONALS

COLOUR_MAPPINGS = ("symmetric", "mindeye2")
DISCRETIZATIONS = ("scheduler", "sgm")


def sgm_timesteps(num_inference_steps: int, num_train_timesteps: int = 1000) -> list[int]:
    """sgm's LegacyDDPMDiscretization steps, largest first: ``linspace(T - 1, 0, n, endpoint=False)`` truncated."""
    return np.linspace(num_train_timesteps - 1, 0, num_inference_steps, endpoint=False).astype(int).tolist()


def size_conditioning(original_size: tuple[int, int], crop: tuple[int, int], dim: int) -> torch.Tensor:
    """sgm's ``ConcatTimestepEmbedderND`` vector: cos|sin embeddings (max period 10^4) of (H, W, top, left),
    ``dim // 4`` each, concatenated -> (1, dim)."""
    values = torch.tensor([*original_size, *crop], dtype=torch.float32)
    return get_timestep_embedding(values, dim // 4, flip_sin_to_cos=True, downscale_freq_shift=0).reshape(1, dim)


@dataclass
class KeyframeOutput(BaseOutput):
    """``images``: uint8 (B, H, W, 3); ``latents``: the final (unscaled) VAE latents."""

    images: np.ndarray
    latents: torch.Tensor


class UnCLIPKeyframePipeline(DiffusionPipeline):
    """Image tokens -> keyframe. Components: ``unet`` (``UNet2DConditionModel``), ``scheduler``, ``vae``."""

    model_cpu_offload_seq = "unet->vae"

    def __init__(self, unet, scheduler, vae, colour_mapping: str = "symmetric", offset_noise: float = 0.0,
                 discretization: str = "scheduler"):
        super().__init__()
        if colour_mapping not in COLOUR_MAPPINGS:
            raise ValueError(f"colour_mapping must be one of {COLOUR_MAPPINGS}, got {colour_mapping!r}")
        if discretization not in DISCRETIZATIONS:
            raise ValueError(f"discretization must be one of {DISCRETIZATIONS}, got {discretization!r}")
        self.register_modules(unet=unet, scheduler=scheduler, vae=vae)
        self.register_to_config(colour_mapping=colour_mapping, offset_noise=offset_noise, discretization=discretization)

    @property
    def image_size(self) -> int:
        return self.unet.config.sample_size * 2 ** (len(self.vae.config.block_out_channels) - 1)

    def vector_conditioning(self, batch: int, device, dtype) -> torch.Tensor | None:
        """The UNet's class labels: sgm's size/crop vector where the UNet has a projection class embedding."""
        if self.unet.config.class_embed_type != "projection":
            return None
        size = self.image_size
        vec = size_conditioning((size, size), (0, 0), self.unet.config.projection_class_embeddings_input_dim)
        return vec.expand(batch, -1).to(device=device, dtype=dtype)

    def set_timesteps(self, num_inference_steps: int, device) -> None:
        if self.config.discretization == "sgm":
            steps = sgm_timesteps(num_inference_steps, self.scheduler.config.num_train_timesteps)
            self.scheduler.set_timesteps(timesteps=steps, device=device)
        else:
            self.scheduler.set_timesteps(num_inference_steps, device=device)

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
            size = self.image_size
            if image.dtype != np.uint8 or image.shape != (image_tokens.shape[0], size, size, 3):
                raise ValueError(f"image must be uint8 ({image_tokens.shape[0]}, {size}, {size}, 3), got {image.dtype} {image.shape}")

    def encode_image(self, image: np.ndarray, generator) -> torch.Tensor:
        """uint8 (B, H, W, 3) -> scaled VAE latents."""
        from diffusers.pipelines.animatediff.pipeline_animatediff_sparsectrl import retrieve_latents

        from ..frames import to_unit

        with self.vae_precision() as vae:
            x = to_unit(image, vae.device, vae.dtype)
            return retrieve_latents(vae.encode(x), generator=generator) * vae.config.scaling_factor

    def prepare_latents(self, batch: int, generator, dtype, device) -> torch.Tensor:
        size = self.unet.config.sample_size
        shape = (batch, self.unet.config.in_channels, size, size)
        latents = randn(shape, generator, device) * self.scheduler.init_noise_sigma
        if self.config.offset_noise:  # sgm's unclip_recon: eps + offset * N(0, 1), one draw per sample, times sigma_max
            offset = randn((batch, 1, 1, 1), generator, device)
            latents = latents + self.config.offset_noise * float(self.scheduler.sigmas.max()) * offset
        return latents.to(device=device, dtype=dtype)

    @contextlib.contextmanager
    def vae_precision(self):
        """The VAE in fp32 while it runs when it is fp16 and its config says ``force_upcast`` (the SDXL VAE overflows
        in fp16), then back in its dtype: the mini zoo shares this VAE with the video model, which must find it in
        the dtype of its stage (as diffusers' SDXL pipelines cast it back after decoding)."""
        vae, dtype = self.vae, self.vae.dtype
        if dtype == torch.float16 and getattr(vae.config, "force_upcast", False):
            vae.to(torch.float32)
        try:
            yield vae
        finally:
            if vae.dtype != dtype:
                vae.to(dtype)

    def decode_latents(self, latents: torch.Tensor) -> np.ndarray:
        with self.vae_precision() as vae:
            image = vae.decode(latents.to(vae.dtype) / vae.config.scaling_factor).sample.float()
        if self.config.colour_mapping == "mindeye2":
            x = (0.8 * image + 0.2).clamp(0, 1) * 255  # MindEye2's unclip_recon mapping (spec §4.2)
        else:
            x = (image.clamp(-1, 1) + 1) * 127.5
        return x.round().byte().permute(0, 2, 3, 1).cpu().numpy()

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
        if unconditional not in KEYFRAME_UNCONDITIONALS:
            raise ValueError(f"unconditional must be one of {list(KEYFRAME_UNCONDITIONALS)}, got {unconditional!r}")
        if unconditional == "noise":
            uncond = randn(cond.shape, generator, device, dtype)
        else:
            uncond = torch.zeros_like(cond)
        context = torch.cat([uncond, cond]) if do_cfg else cond
        vector = self.vector_conditioning(context.shape[0], device, dtype)
        # 3. Timesteps
        self.set_timesteps(num_inference_steps, device)
        timesteps = self.scheduler.timesteps
        if image is not None:
            keep = max(1, min(num_inference_steps, int(round(num_inference_steps * strength))))
            start = (num_inference_steps - keep) * self.scheduler.order
            timesteps = timesteps[start:]
            if hasattr(self.scheduler, "set_begin_index"):  # σ-indexed schedulers (Euler) must start there too
                self.scheduler.set_begin_index(start)
        # 4. Initial noise, or the noised init image
        if latents is None:
            latents = self.prepare_latents(cond.shape[0], generator, dtype, device)
        if image is not None:
            z = self.encode_image(image, generator).to(dtype)
            latents = self.scheduler.add_noise(z, latents / self.scheduler.init_noise_sigma, timesteps[:1])
        # 5. Denoising loop (a scheduler that draws noise, such as Euler, draws it from the generator, not the global
        # RNG, even where the draw is scaled to zero)
        step_kwargs = {"generator": generator} if "generator" in inspect.signature(self.scheduler.step).parameters else {}
        for t in self.progress_bar(timesteps):
            model_in = torch.cat([latents] * 2) if do_cfg else latents
            model_in = self.scheduler.scale_model_input(model_in, t)
            noise = self.unet(model_in, t, encoder_hidden_states=context, class_labels=vector).sample
            if do_cfg:
                uncond, text = noise.chunk(2)
                noise = uncond + guidance_scale * (text - uncond)
            latents = self.scheduler.step(noise, t, latents, **step_kwargs).prev_sample
        # 6. Decode
        images = self.decode_latents(latents) if output_type == "np" else None
        return KeyframeOutput(images=images, latents=latents)
