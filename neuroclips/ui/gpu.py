"""How many seconds a ``@spaces.GPU`` call asks for, from the call's settings.

ZeroGPU stops a call that runs past its duration and queues shorter requests first, so each call asks for what its
settings need: sampler steps times the measured seconds per step, per clip, with a margin. No Gradio here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..pipeline import GuidanceSettings
from ..zoo import get_zoo, is_zoo, zoo_names


@dataclass(frozen=True)
class StageRates:
    """Warm GPU seconds of one clip's parts (a zoo's ``gpu_rates``, measured; see :class:`~neuroclips.zoo.Zoo`)."""

    video_step: float  # one video DDIM step (CFG, SparseCtrl, α), 16 frames
    keyframe_step: float  # one unCLIP or diffusion-prior step (both are in the keyframe stage's timing)
    per_clip: float  # blurry video, caption, per-clip metrics
    retrieval: float  # the first request of a 300-clip fold embeds its fMRI and keyframes (cached afterwards)


# ZeroGPU lends half an RTX Pro 6000 (48 GB), not the H200 these were measured on, and the first call after a start
# runs cold (the full zoo: 20 s instead of 7.1 s); twice the warm time plus a fixed allowance covers both
MARGIN = 2.0
SLACK_S = 20.0
# ZeroGPU refuses a duration over its per-account maximum before any work starts; one clip never needs this much
MAX_S = 300


def rates_for(zoo: str) -> StageRates:
    """The zoo's measured rates; a zoo without measurements (e.g. the tests' tiny one) is budgeted as the slowest
    measured zoo, rate by rate."""
    measured = get_zoo(zoo).gpu_rates if is_zoo(zoo) else None
    if measured:
        return StageRates(**measured)
    known = [StageRates(**get_zoo(z).gpu_rates) for z in zoo_names() if get_zoo(z).gpu_rates]
    return StageRates(**{f: max(getattr(r, f) for r in known) for f in StageRates.__dataclass_fields__})


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
