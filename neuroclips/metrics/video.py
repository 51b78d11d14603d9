"""Per-clip metrics of a reconstruction (spec §7.1-§7.3): the 16-frame video is evaluated at 3 FPS, on the
frames that sit on the GT frames' times (0, 3, ..., 15: the originals of the reference's 6 -> 16
interpolation), against the 6 GT frames, at the GT's resolution."""

from __future__ import annotations

import numpy as np

from ..frames import FPS_GT, FPS_VIDEO, GT_FRAMES, VIDEO_FRAMES, resize_frames

# the final video's frames at the GT frames' times: 0, 3, ..., 15
EVAL_FRAMES = np.linspace(0, VIDEO_FRAMES - 1, GT_FRAMES).round().astype(int)


def frames_for_evaluation(video: np.ndarray, size: int | None = None) -> np.ndarray:
    """The 6 frames at 3 FPS of a 16-frame video, resized to ``size`` (bilinear, antialiased) if given."""
    if len(video) != VIDEO_FRAMES:
        raise ValueError(f"expected a {VIDEO_FRAMES}-frame video ({FPS_VIDEO} FPS), got {len(video)} frames")
    frames = np.asarray(video)[EVAL_FRAMES]
    return resize_frames(frames, size) if size else frames


def video_metrics(video: np.ndarray, reference: np.ndarray, embed=None) -> dict[str, float]:
    """SSIM (MindEye and MinD-Video variants), PSNR and, given ``embed`` (uint8 frames -> L2-normalised CLIP
    embeddings), CLIP-pcc and the mean CLIP similarity to the GT frames. ``reference``: the 6 GT frames at 3 FPS."""
    from .frames import psnr, ssim
    from .semantic import clip_pcc, frame_similarity

    reference = np.asarray(reference)
    if len(reference) != len(EVAL_FRAMES):
        raise ValueError(f"reference must be the {len(EVAL_FRAMES)} GT frames at {FPS_GT} FPS, got {len(reference)}")
    pred = frames_for_evaluation(video, reference.shape[1])
    out = {"ssim": ssim(pred, reference), "ssim_mindvideo": ssim(pred, reference, "mindvideo"),
           "psnr": psnr(pred, reference)}
    if embed is not None:
        e_pred, e_ref = np.asarray(embed(pred)), np.asarray(embed(reference))
        out["clip_pcc"] = clip_pcc(e_pred)
        out["clip_similarity_to_gt"] = float(frame_similarity(e_pred, e_ref).mean())
    return out
