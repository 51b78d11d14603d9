"""Clip constants and frame conversions, written once for every room (a leaf: imports nothing of the package).

A clip is one TR of cc2017, 2 s (spec §1.1). Its GT and PR's blurry video have 6 frames at 3 FPS (spec §1.3,
§2.6), of which frame 2 is the keyframe the reference captions (spec §1.3); the final video has 16 frames, the
paper's "8 FPS" (spec §5.5). Frames are uint8 (N, H, W, 3) everywhere outside a model; models see float
(N, 3, H, W) in [-1, 1].
"""

from __future__ import annotations

import numpy as np
import torch

CLIP_SECONDS = 2.0
FPS_GT = 3  # GT frames and PR's blurry frames per second (spec §1.3, §2.6)
GT_FRAMES = 6
FPS_VIDEO = 8  # the final video (spec §5.5)
VIDEO_FRAMES = 16
KEYFRAME_INDEX = 2  # the GT frame the keyframe and the caption stand for (spec §1.3)


def to_unit(frames: np.ndarray, device=None, dtype=None) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float (N, 3, H, W) in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
    return x.to(device=device, dtype=dtype) if device is not None or dtype is not None else x


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float (N, 3, H, W) in [-1, 1] -> uint8 (N, H, W, 3) (clamped, rounded), as diffusers' ``x / 2 + 0.5``."""
    return ((x.detach().float() / 2 + 0.5).clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def resize_frames(frames: np.ndarray, size: int) -> np.ndarray:
    """uint8 (N, H, W, 3) -> (N, size, size, 3), bilinear with antialiasing (torchvision Resize's default)."""
    if frames.shape[1] == size and frames.shape[2] == size:
        return frames
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
