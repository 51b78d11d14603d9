"""How many seconds a ``@spaces.GPU`` call asks for, from the call's settings.

ZeroGPU stops a call that runs past its duration and queues shorter requests first, so each call asks for what its
settings need: sampler steps times the measured seconds per step, per clip, with a margin. No Gradio here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..pipeline import GuidanceSettings


@dataclass(frozen=True)
class StageRates:
    """Warm GPU seconds of one clip's parts."""

    video_step: float  # one video DDIM step (CFG, SparseCtrl, α), 16 frames
    keyframe_step: float  # one unCLIP or diffusion-prior step (both are in the keyframe stage's timing)
    per_clip: float  # blurry video, caption, per-clip metrics
    retrieval: float  # the first request of a 300-clip fold embeds its fMRI and keyframes (cached afterwards)


# measured on an H200, warm (docs/benchmarks.md, 2026-11-29): the full zoo takes 7.1 s per clip at 25 video, 38
# unCLIP and 20 prior steps (video 2.90 s, keyframe 3.64 s, caption 0.52 s, blurry 0.04 s); the mini zoo 1.9 s in
# fp32 at 25/25/20 (video 1.06, keyframe 0.73, caption 0.09, blurry 0.03). The retrieval folds were not measured:
# 300 bigG (full) or mini-CLIP images and SR passes, estimated from the per-image cost of those towers.
MEASURED = {
    "full": StageRates(video_step=2.90 / 25, keyframe_step=3.64 / (38 + 20), per_clip=0.56, retrieval=10.0),
    "mini": StageRates(video_step=1.06 / 25, keyframe_step=0.73 / (25 + 20), per_clip=0.12, retrieval=1.0),
}
# a zoo without measurements (e.g. the tests' tiny one) is budgeted as the slowest measured
SLOWEST = MEASURED["full"]
# ZeroGPU lends half an RTX Pro 6000 (48 GB), not the H200 these were measured on, and the first call after a start
# runs cold (the full zoo: 20 s instead of 7.1 s); twice the warm time plus a fixed allowance covers both
MARGIN = 2.0
SLACK_S = 20.0
# ZeroGPU refuses a duration over its per-account maximum before any work starts; one clip never needs this much
MAX_S = 300


def rates_for(zoo: str) -> StageRates:
    return MEASURED.get(zoo, SLOWEST)


def clip_seconds(settings: GuidanceSettings, rates: StageRates) -> float:
    """Warm GPU seconds of one clip at these settings: the app computes the keyframe and caption whatever the
    switches (its stage cache keeps them for the toggles), so the keyframe stage always counts."""
    s = settings.resolved()
    return (rates.per_clip + s.num_inference_steps * rates.video_step
            + (s.keyframe_steps + s.prior_steps) * rates.keyframe_step)


def gpu_seconds(settings: GuidanceSettings, zoo: str, n_clips: int = 1, retrieval: bool = True) -> int:
    """The duration to ask ZeroGPU for: ``n_clips`` clips at ``settings`` (``retrieval``: the call may embed a
    retrieval fold), with :data:`MARGIN` and :data:`SLACK_S`, at most :data:`MAX_S`."""
    rates = rates_for(zoo)
    work = max(1, int(n_clips)) * clip_seconds(settings, rates) + (rates.retrieval if retrieval else 0.0)
    return int(min(MAX_S, math.ceil(MARGIN * work + SLACK_S)))
