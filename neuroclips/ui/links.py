"""Shareable links: a reconstruction as URL query parameters, ``?subject=1&clip=42&use_blurry=0&alpha_mode=sdedit``.

The guidance parameters are :class:`~neuroclips.pipeline.GuidanceSettings`' field names (one vocabulary with the
CLI's flags, the API's parameters and the results records); the link carries the Reconstruct tab's controls. No
Gradio here: :mod:`.app` reads the page's query and sets the controls.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from ..pipeline import GuidanceSettings

# the guidance settings the Reconstruct tab has controls for, in the controls' order
LINK_SETTINGS = ("use_blurry", "alpha_mode", "alpha_strength", "use_keyframe", "controlnet_conditioning_scale",
                 "use_caption", "caption_source", "seed")
LINK_PARAMS = ("subject", "clip", *LINK_SETTINGS)
# the controls' ranges where they are narrower than the setting's own (a slider cannot show alpha_strength 0.01)
CONTROL_RANGES = {"alpha_strength": (0.05, 1.0), "seed": (0, 2**31 - 1)}
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass
class Link:
    """A parsed link: the valid values by parameter name, and one message per parameter that was not used."""

    values: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def runnable(self) -> bool:
        """Whether the link names a reconstruction and every parameter was valid (then the page runs it)."""
        return bool(self.values) and not self.problems


def _bool(text: str) -> bool:
    t = text.strip().lower()
    if t in TRUE:
        return True
    if t in FALSE:
        return False
    raise ValueError(f"must be 1 or 0 (true/false), got {text!r}")


def _number(text: str, integer: bool):
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"must be {'a whole number' if integer else 'a number'}, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {text!r}")
    if integer:
        if value != int(value):
            raise ValueError(f"must be a whole number, got {text!r}")
        return int(value)
    return value


def parse_link(query: Mapping[str, str], default: GuidanceSettings, subjects: list[int], n_clips) -> Link:
    """The link's values, checked against the served ``subjects``, ``n_clips(subject)`` test clips, the settings'
    choices and ranges and the controls' ranges. Parameters named ``__*`` (Gradio's ``__theme``, the Hub's
    ``__sign``) are not the link's and are ignored; any other unknown name is a problem, so a typo is reported."""
    link = Link()
    types = {f.name: f.type for f in GuidanceSettings.fields_info()}
    for name, text in query.items():
        if name.startswith("__"):
            continue
        if name not in LINK_PARAMS:
            why = ("has no control on this page" if name in types else "is not a link parameter")
            link.problems.append(f"`{name}` {why}; a link takes {', '.join(LINK_PARAMS)}")
            continue
        try:
            if name in ("subject", "clip"):
                value = _number(text, integer=True)
            elif types[name].startswith("bool"):
                value = _bool(text)
            elif types[name].startswith(("int", "float")):
                value = _number(text, integer=types[name].startswith("int"))
            else:
                value = text
            if name in CONTROL_RANGES and not CONTROL_RANGES[name][0] <= value <= CONTROL_RANGES[name][1]:
                low, high = CONTROL_RANGES[name]
                raise ValueError(f"must be from {low} to {high}, got {text!r}")
            if name in LINK_SETTINGS:
                default.replace(**{name: value})  # the setting's own check: choices, range
        except ValueError as err:
            message = str(err)
            link.problems.append(f"`{name}` {message.removeprefix(name).strip() if message.startswith(name) else message}")
            continue
        link.values[name] = value
    subject = link.values.get("subject", subjects[0] if subjects else None)
    if "subject" in link.values and subject not in subjects:
        link.problems.append(f"`subject` must be one of {', '.join(map(str, subjects))}, got {subject}")
        del link.values["subject"]
    elif "clip" in link.values:
        total = n_clips(subject)
        if not 0 <= link.values["clip"] < total:
            link.problems.append(f"`clip` must be from 0 to {total - 1} (subject {subject}'s test clips), got "
                                 f"{link.values['clip']}")
            del link.values["clip"]
    return link


def make_link(values: Mapping) -> str:
    """The query string (``?subject=1&clip=42&...``) of these values, in :data:`LINK_PARAMS` order; booleans as 1/0,
    None values left out."""
    pairs = []
    for name in LINK_PARAMS:
        value = values.get(name)
        if value is None:
            continue
        if isinstance(value, bool):
            value = int(value)
        elif isinstance(value, float) and value == int(value) and name in ("subject", "clip", "seed"):
            value = int(value)
        pairs.append((name, value))
    return "?" + urlencode(pairs)
