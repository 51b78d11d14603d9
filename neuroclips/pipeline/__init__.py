"""The NeuroClips reconstruction pipeline: PR's blurry video (α), SR's keyframe (β) and its caption (γ) steer a
text-to-video model (spec §4-§6). Stage pipelines (unCLIP keyframe, video) are diffusers pipelines too."""

from .neuroclips import FPS_VIDEO, LongVideoOutput, NeuroClipsOutput, NeuroClipsPipeline
from .prompts import GENERIC_PROMPT, NEGATIVE_PROMPT, QUALITY_SUFFIX, video_prompt

__all__ = ["FPS_VIDEO", "GENERIC_PROMPT", "LongVideoOutput", "NEGATIVE_PROMPT", "NeuroClipsOutput", "NeuroClipsPipeline",
           "QUALITY_SUFFIX", "video_prompt"]
