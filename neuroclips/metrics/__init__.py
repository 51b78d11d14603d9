"""The paper's metrics (spec §7): frame metrics (SSIM, PSNR, PixCorr), CLIP-pcc and CLIP similarity, per-clip
video metrics at 3 FPS, and retrieval."""

from .frames import pixcorr, psnr, ssim
from .retrieval import retrieval_rank, retrieval_top1
from .semantic import clip_pcc, frame_similarity, frames_at_fps
from .video import EVAL_FRAMES, frames_for_evaluation, video_metrics

__all__ = ["EVAL_FRAMES", "clip_pcc", "frame_similarity", "frames_at_fps", "frames_for_evaluation", "pixcorr", "psnr",
           "retrieval_rank", "retrieval_top1", "ssim", "video_metrics"]
