"""The NeuroClips reconstruction pipeline: PR's blurry video (α), SR's keyframe (β) and its caption (γ) steer a
text-to-video model (spec §4-§6), with one settings vocabulary (:class:`GuidanceSettings`). Stage pipelines
(unCLIP keyframe, video) are diffusers pipelines too.

Names are imported on first use, so that the settings vocabulary (the CLI's flags) loads without diffusers."""

from __future__ import annotations

import importlib

_NAMES = {
    "NeuroClipsPipeline": "neuroclips", "NeuroClipsOutput": "neuroclips", "LongVideoOutput": "neuroclips",
    "StageConditions": "neuroclips",
    "GuidanceSettings": "settings", "REFERENCE_SEED": "settings", "stage_generators": "settings",
    "ALPHA_MODES": "alpha", "AlphaMode": "alpha", "register_alpha_mode": "alpha",
    "GENERIC_PROMPT": "prompts", "NEGATIVE_PROMPT": "prompts", "QUALITY_SUFFIX": "prompts", "video_prompt": "prompts",
}
__all__ = sorted([*_NAMES, "FPS_VIDEO"])


def __getattr__(name: str):
    if name == "FPS_VIDEO":
        from ..frames import FPS_VIDEO

        return FPS_VIDEO
    if name in _NAMES:
        return getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return __all__
