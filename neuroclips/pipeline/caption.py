"""Keyframe captions for γ guidance, as NeuroClips' ``src/caption.py`` makes them with BLIP-2 (spec §4):
no text prompt, greedy decoding, special tokens skipped, whitespace stripped."""

from __future__ import annotations

import numpy as np


class Captioner:
    """A BLIP-2 model and its processor; ``captioner(images)`` returns one caption per image."""

    def __init__(self, model, processor, max_new_tokens: int = 30):
        self.model, self.processor, self.max_new_tokens = model, processor, max_new_tokens

    def __call__(self, images: np.ndarray | list, batch_size: int = 64) -> list[str]:
        """``images``: uint8 (N, H, W, 3) or a list of PIL images / HxWx3 arrays."""
        import torch

        images = list(images)
        captions: list[str] = []
        param = next(self.model.parameters())
        with torch.no_grad():
            for i in range(0, len(images), batch_size):
                pixels = self.processor(images=images[i : i + batch_size], return_tensors="pt").pixel_values
                ids = self.model.generate(pixel_values=pixels.to(param.device, param.dtype), max_new_tokens=self.max_new_tokens,
                                          do_sample=False)
                captions += [c.strip() for c in self.processor.batch_decode(ids, skip_special_tokens=True)]
        return captions
