"""OpenCLIP ViT-bigG-14 through open_clip: the Semantics Reconstructor's target tokens and the full zoo's image
embeddings (fusion, retrieval).

sgm's ``FrozenOpenCLIPImageEmbedder(output_tokens=True, only_tokens=True)`` returns the vision transformer's patch
tokens after ``ln_post``, CLS dropped, not projected: 256x1664 for 224-px images (spec §3.1). open_clip gives exactly
these with ``visual.output_tokens = True``; the pooled, projected CLS is the joint-space embedding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from diffusers.utils import BaseOutput

from ..clip import CLIP_MEAN, CLIP_STD


@dataclass
class ImageEncoderOutput(BaseOutput):
    """``image_embeds``: pooled, projected (B, embed_dim); ``image_tokens``: (B, n_patches, width) after ln_post."""

    image_embeds: torch.Tensor
    image_tokens: torch.Tensor


class OpenCLIPImageEncoder(ModelMixin, ConfigMixin):
    """The vision tower of an open_clip model as a diffusers model (so a pipeline can register and save it).

    ``model_cfg`` is open_clip's model config (``{"embed_dim", "vision_cfg", "text_cfg"}``); built-in names such as
    ``ViT-bigG-14`` need none. Call it with CLIP-normalised ``pixel_values``, or use :meth:`sgm_tokens` on images in
    [-1, 1] for sgm's preprocessing."""

    @register_to_config
    def __init__(self, model_name: str = "ViT-bigG-14", model_cfg: dict | None = None, image_size: int = 224):
        super().__init__()
        import open_clip
        from accelerate import init_empty_weights

        cfg = model_cfg or open_clip.get_model_config(model_name)
        if cfg is None:
            raise ValueError(f"open_clip has no model config {model_name!r}; pass model_cfg")
        with init_empty_weights(include_buffers=False):  # the text tower is dropped: never allocate it
            model = open_clip.CLIP(**cfg)
        self.visual = model.visual.to_empty(device="cpu") if _on_meta(model.visual) else model.visual
        self.visual.output_tokens = True

    @classmethod
    def from_open_clip(cls, model, model_name: str, model_cfg: dict | None = None) -> OpenCLIPImageEncoder:
        """Wrap an open_clip model's vision tower (weights shared, not copied)."""
        enc = cls.__new__(cls)
        ModelMixin.__init__(enc)
        enc.register_to_config(model_name=model_name, model_cfg=model_cfg, image_size=model.visual.image_size[0]
                               if isinstance(model.visual.image_size, tuple) else model.visual.image_size)
        enc.visual = model.visual
        enc.visual.output_tokens = True
        return enc

    def forward(self, pixel_values: torch.Tensor) -> ImageEncoderOutput:
        pooled, tokens = self.visual(pixel_values.to(self.dtype))
        return ImageEncoderOutput(image_embeds=pooled, image_tokens=tokens)

    def sgm_tokens(self, images: torch.Tensor) -> torch.Tensor:
        """Tokens as sgm's embedder computes them from images in [-1, 1]: bicubic resize to the model's size
        (align_corners, antialiased), to [0, 1], OpenAI CLIP normalisation, vision tower, tokens."""
        size = self.config.image_size
        x = images.float()
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=True, antialias=True)
        x = (x + 1.0) / 2.0
        mean = torch.tensor(CLIP_MEAN, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(CLIP_STD, device=x.device).view(1, 3, 1, 1)
        return self((x - mean) / std).image_tokens


def _on_meta(module: torch.nn.Module) -> bool:
    return any(p.device.type == "meta" for p in module.parameters())
