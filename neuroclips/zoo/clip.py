"""CLIP in transformers format: pixel preprocessing, patch tokens, joint embeddings.

The Semantics Reconstructor's target is the image tower's patch tokens after the final LayerNorm, without
CLS and without the projection (spec §3.1, sgm's ``FrozenOpenCLIPImageEmbedder(output_tokens=True)``). For a
transformers ``CLIPVisionModel`` these are ``post_layernorm(last_hidden_state)[:, 1:]``.
"""

from __future__ import annotations

import numpy as np

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # OpenAI CLIP's normalisation, which bigG keeps
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def pixel_values(frames, size: int | None = None):
    """uint8 frames (N, H, W, 3) (numpy or torch) -> normalised float (N, 3, size, size)."""
    import torch
    import torch.nn.functional as F

    x = torch.as_tensor(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div(255.0)
    if size is not None and x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)
    mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def image_tokens(vision_model, pixels):
    """Patch tokens (N, n_patches, width) after the final LayerNorm, CLS dropped, not projected."""
    return vision_model.post_layernorm(vision_model(pixel_values=pixels).last_hidden_state)[:, 1:]


def _features(out):
    return getattr(out, "pooler_output", out)  # transformers 5 returns a model output, 4 a tensor


def image_embeds(clip_model, frames, batch: int = 256):
    """L2-normalised joint-space embeddings of uint8 frames (N, projection_dim)."""
    import torch

    size = clip_model.config.vision_config.image_size
    out = []
    with torch.no_grad():
        for i in range(0, len(frames), batch):
            f = _features(clip_model.get_image_features(pixel_values=pixel_values(frames[i : i + batch], size)))
            out.append(torch.nn.functional.normalize(f, dim=-1))
    return torch.cat(out)


def text_embeds(clip_model, tokenizer, texts: list[str], batch: int = 256):
    """L2-normalised joint-space embeddings of texts (N, projection_dim)."""
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(texts), batch):
            ids = tokenizer(texts[i : i + batch], padding=True, truncation=True, return_tensors="pt")
            f = _features(clip_model.get_text_features(input_ids=ids.input_ids, attention_mask=ids.attention_mask))
            out.append(torch.nn.functional.normalize(f, dim=-1))
    return torch.cat(out)
