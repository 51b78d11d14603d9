"""The paper's metrics (spec §7). This room grows with the evaluation milestone; for now CLIP-pcc and the
per-frame CLIP similarity the mini zoo's gates use."""

from .semantic import clip_pcc, frame_similarity, frames_at_fps

__all__ = ["clip_pcc", "frame_similarity", "frames_at_fps"]
