"""CLIP-based video metrics."""

from __future__ import annotations

import numpy as np


def clip_pcc(embeds) -> float:
    """CLIP-pcc (spec §7.3): mean cosine similarity between the CLIP image embeddings of adjacent frames of
    one video. ``embeds``: (n_frames, dim), L2-normalised (torch or numpy)."""
    e = np.asarray(embeds, dtype=np.float64)
    if len(e) < 2:
        raise ValueError("CLIP-pcc needs at least 2 frames")
    return float(np.mean(np.sum(e[1:] * e[:-1], axis=1)))


def frame_similarity(embeds_a, embeds_b) -> np.ndarray:
    """Cosine similarity of frame i of one video to frame i of another; (n_frames,)."""
    a, b = np.asarray(embeds_a, np.float64), np.asarray(embeds_b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"videos differ in shape: {a.shape} vs {b.shape}")
    return np.sum(a * b, axis=1)


def frames_at_fps(n_frames: int, fps: float, target_fps: float, seconds: float) -> np.ndarray:
    """Indices of the frames of an ``fps`` video nearest to the frame times of a ``target_fps`` one (e.g. the
    6 frames at 3 FPS inside a 16-frame 8-FPS clip: 0, 3, 5, 8, 11, 13)."""
    times = np.arange(int(round(target_fps * seconds))) / target_fps
    return np.clip(np.round(times * fps).astype(int), 0, n_frames - 1)
