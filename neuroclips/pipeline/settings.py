"""One public vocabulary for a reconstruction's settings: :class:`GuidanceSettings`.

The pipeline's ``__call__`` and stage methods, the app's controls and stage cache, the CLI's guidance flags, the
results store's keys and the evaluation's records are all built from this one dataclass. Its class defaults follow
the reference code (spec §4-§5); a zoo overrides some of them (its registry entry's ``defaults``: the mini zoo
samples unCLIP with 25 DDIM steps and zero tokens, as it was trained).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch

from .alpha import ALPHA_MODES
from .prompts import NEGATIVE_PROMPT

# the reference seeds every clip with this (spec §5.2); torch takes seeds < 2^63
REFERENCE_SEED = 12099779162349365895 % 2**63
KEYFRAME_INITS = {"noise": "noise (reference)", "blurry": "blurry first frame (paper)"}
KEYFRAME_UNCONDITIONALS = {"noise": "N(0, 1) tokens (reference)", "zeros": "zero tokens (training's dropped condition)"}
CAPTION_SOURCES = {"keyframe": "BLIP-2 of the keyframe", "ground truth": "the clip's GT caption"}
FUSION_METHODS = {"classifier": "trained classifier", "cosine": "cosine threshold"}  # multi-fMRI fusion (spec §6)
# each stage draws from its own generator (seed + offset), so switching one guidance off changes no other stage
STAGE_SEED_OFFSETS = {"perception": 0, "prior": 1, "keyframe": 2, "video": 3}


def _setting(default, help: str, stage: str, flag: str | None = None, choices=None, low=None, high=None,
             low_open: bool = False):
    """A field with what the CLI and the app need to offer it: help, flag, choices, range, and the stage it affects
    ("keyframe": steps 2-4, whose results the app caches; "video": step 5)."""
    return field(default=default, metadata={"help": help, "stage": stage, "flag": flag, "choices": choices,
                                            "low": low, "high": high, "low_open": low_open})


@dataclass(frozen=True)
class GuidanceSettings:
    """Every setting of one reconstruction. Frozen and validated: a bad value raises ``ValueError`` naming it.

    α: ``use_blurry``, ``alpha_mode`` (:data:`~neuroclips.pipeline.alpha.ALPHA_MODES`), ``alpha_strength``;
    β: ``use_keyframe``, ``controlnet_conditioning_scale``; γ: ``use_caption`` (None follows ``use_keyframe``:
    without a keyframe there is nothing to caption), ``caption_source``, ``negative_prompt``; the video sampler:
    ``num_inference_steps``, ``guidance_scale``; the keyframe: ``prior_steps``, ``keyframe_steps``,
    ``keyframe_guidance_scale``, ``keyframe_init`` (+ ``keyframe_strength``), ``keyframe_unconditional``;
    ``seed`` (None: the reference's).
    """

    use_blurry: bool = _setting(True, "α: start the video from the blurry video's latents", "video", "--no-blurry")
    alpha_mode: str = _setting("code_parity", "how α enters the sampler", "video", "--alpha-mode", choices=ALPHA_MODES)
    alpha_strength: float = _setting(0.3, "ϑ of Eq. 5 / SDEdit strength", "video", "--alpha-strength", low=0.0,
                                     high=1.0, low_open=True)
    use_keyframe: bool = _setting(True, "β: SparseCtrl on the keyframe at frame 0", "video", "--no-keyframe")
    controlnet_conditioning_scale: float = _setting(1.0, "β: SparseCtrl conditioning scale", "video", "--beta-scale",
                                                    low=0.0, high=2.0)
    use_caption: bool | None = _setting(None, "γ: the keyframe's caption as the prompt (None: follows use_keyframe)",
                                        "video", "--no-caption")
    caption_source: str = _setting("keyframe", "where γ's caption comes from", "video", "--caption-source",
                                   choices=CAPTION_SOURCES)
    negative_prompt: str = _setting(NEGATIVE_PROMPT, "the video model's negative prompt", "video")
    num_inference_steps: int = _setting(25, "DDIM steps of the video model", "video", "--steps", low=1, high=1000)
    guidance_scale: float = _setting(8.5, "CFG of the video model", "video", "--guidance-scale", low=0.0, high=50.0)
    prior_steps: int = _setting(20, "DDIM steps of the diffusion prior", "keyframe", "--prior-steps", low=1, high=1000)
    keyframe_steps: int = _setting(38, "unCLIP sampler steps", "keyframe", "--keyframe-steps", low=1, high=1000)
    keyframe_guidance_scale: float = _setting(5.0, "unCLIP's CFG", "keyframe", "--keyframe-guidance-scale", low=0.0,
                                              high=50.0)
    keyframe_init: str = _setting("noise", "where unCLIP starts", "keyframe", "--keyframe-init", choices=KEYFRAME_INITS)
    keyframe_strength: float = _setting(0.8, "unCLIP's strength from the blurry frame (keyframe_init='blurry')",
                                        "keyframe", "--keyframe-strength", low=0.0, high=1.0, low_open=True)
    keyframe_unconditional: str = _setting("noise", "unCLIP's CFG input", "keyframe", "--keyframe-unconditional",
                                           choices=KEYFRAME_UNCONDITIONALS)
    seed: int | None = _setting(None, "seed of every stage (default: the reference's)", "keyframe", "--seed", low=0,
                                high=2**63 - 1)

    def __post_init__(self):
        for f in dataclasses.fields(self):  # numpy scalars and 25.0 become plain Python values
            object.__setattr__(self, f.name, _check(f, getattr(self, f.name)))

    # ------------------------------------------------------------------------------------------------ derived
    @property
    def caption_on(self) -> bool:
        """Whether γ is used (``use_caption``, or ``use_keyframe`` when that is None)."""
        return self.use_keyframe if self.use_caption is None else self.use_caption

    @property
    def keyframe_captioned(self) -> bool:
        """Whether γ's caption is the keyframe's (so the keyframe is made even without β)."""
        return self.caption_on and self.caption_source == "keyframe"

    def resolved(self) -> GuidanceSettings:
        """The settings a call runs with: the caption switch and the seed made explicit."""
        return dataclasses.replace(self, use_caption=self.caption_on,
                                   seed=REFERENCE_SEED if self.seed is None else self.seed)

    def replace(self, **changes) -> GuidanceSettings:
        """A copy with ``changes`` (validated; unknown names raise ``ValueError``)."""
        _check_names(changes)
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------------------------------------ records
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values, every field (``from_dict`` reads it back)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> GuidanceSettings:
        _check_names(values)
        return cls(**values)

    def key(self, stage: str | None = None) -> dict[str, Any]:
        """What a cached result depends on: every setting the run uses (``stage="keyframe"``: those of the blurry
        video, keyframe and caption, steps 2-4, which the app computes once for every switch). Settings the run
        ignores (α's with α off, the strength of an α mode that has none, β's scale with β off, the keyframe's when
        no keyframe is made, the keyframe strength from noise, the caption source with γ off) are left out, so they
        don't split the cache."""
        s = self.resolved()
        values = {f.name: getattr(s, f.name) for f in dataclasses.fields(s)
                  if stage is None or f.metadata["stage"] == stage}
        ignored = set() if s.keyframe_init == "blurry" else {"keyframe_strength"}
        if stage is None:
            if not s.use_blurry:
                ignored |= {"alpha_mode", "alpha_strength"}
            elif not ALPHA_MODES[s.alpha_mode].uses_strength:
                ignored.add("alpha_strength")
            if not s.use_keyframe:
                ignored.add("controlnet_conditioning_scale")
            if not (s.use_keyframe or s.keyframe_captioned):
                ignored |= {f.name for f in dataclasses.fields(s) if f.metadata["stage"] == "keyframe"} - {"seed"}
            if not s.caption_on:
                ignored.add("caption_source")
        return {k: v for k, v in values.items() if k not in ignored}

    # ------------------------------------------------------------------------------------------------ vocabulary
    @classmethod
    def fields_info(cls) -> list[dataclasses.Field]:
        """The dataclass fields with their metadata (help, flag, choices, range, stage), in order."""
        return list(dataclasses.fields(cls))

    @classmethod
    def choices(cls, name: str) -> list[tuple[str, str]]:
        """(label, value) pairs of an enumerated setting, e.g. ``choices("alpha_mode")`` for a dropdown."""
        f = {f.name: f for f in dataclasses.fields(cls)}[name]
        options = f.metadata["choices"]
        if options is None:
            raise ValueError(f"{name} is not an enumerated setting")
        return [(getattr(v, "label", v), k) for k, v in options.items()]

    @classmethod
    def range(cls, name: str) -> tuple[float | None, float | None]:
        f = {f.name: f for f in dataclasses.fields(cls)}[name]
        return f.metadata["low"], f.metadata["high"]


NULLABLE_SETTINGS = frozenset(f.name for f in dataclasses.fields(GuidanceSettings) if "None" in f.type)


def stage_generators(seed: int | None) -> dict[str, torch.Generator]:
    """One CPU generator per stage, seeded ``seed + offset`` (:data:`STAGE_SEED_OFFSETS`)."""
    seed = REFERENCE_SEED if seed is None else int(seed)
    return {name: torch.Generator().manual_seed((seed + k) % 2**63) for name, k in STAGE_SEED_OFFSETS.items()}


def _check_names(values: dict) -> None:
    known = {f.name for f in dataclasses.fields(GuidanceSettings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown guidance settings {unknown}; the settings are {sorted(known)}")


def _check(f: dataclasses.Field, value):
    """``value`` as a plain Python value of the field's type, or ``ValueError`` naming the field."""
    import numbers

    name, meta = f.name, f.metadata
    if value is None and "None" in f.type:
        return None
    if f.type.startswith("bool"):
        if not isinstance(value, (bool, np_bool())):
            raise ValueError(f"{name} must be True or False{' or None' if 'None' in f.type else ''}, got {value!r}")
        return bool(value)
    if meta["choices"] is not None:
        if value not in meta["choices"]:
            raise ValueError(f"{name} must be one of {list(meta['choices'])}, got {value!r}")
        return value
    if f.type == "str":
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string, got {value!r}")
        return value
    integer = f.type.startswith("int")
    if isinstance(value, (bool, np_bool())) or not isinstance(value, numbers.Real) or (integer and int(value) != value):
        raise ValueError(f"{name} must be {'an integer' if integer else 'a number'}, got {value!r}")
    value = int(value) if integer else float(value)
    low, high = meta["low"], meta["high"]
    if (low is not None and (value <= low if meta["low_open"] else value < low)) or (high is not None and value > high):
        raise ValueError(f"{name} must be in {'(' if meta['low_open'] else '['}{low}, {high}], got {value}")
    return value


def np_bool():
    import numpy as np

    return np.bool_
