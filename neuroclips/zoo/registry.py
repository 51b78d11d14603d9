"""The model zoos the pipeline can assemble from, by name. A zoo registers what it is, how to load it, where its
weights and reconstructors live, and the guidance defaults it is sampled with; the pipeline, the app and the
evaluation never branch on a zoo's name (only the ``weights`` command knows each zoo's own file layout)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType


@dataclass(frozen=True)
class Zoo:
    """One model zoo.

    ``load(subject, reconstructors, root, dtype[, device])`` returns ``(components, versions)``: the init arguments
    of :class:`~neuroclips.pipeline.NeuroClipsPipeline` (its sampler settings included) and the model versions written
    beside results; a loader that takes ``device`` moves each component there as soon as it is loaded, so the host
    holds one component at a time. ``root(root=None)`` is the folder of its weights; ``reconstructors_root(root=None)`` where its
    subjects' PR/SR live (None: the shipped ``demo_data/reconstructors``). ``defaults`` override
    :class:`~neuroclips.pipeline.settings.GuidanceSettings`' defaults (the reference's). ``data_source`` is the data
    its reconstructors were trained on, the app's default. ``gpu_rates``: measured warm GPU seconds of its stages
    (``video_step``, ``keyframe_step`` (an unCLIP or prior step), ``per_clip`` (blurry video, caption, metrics),
    ``retrieval`` (embedding a 300-clip fold)), from which the app sizes its ``@spaces.GPU`` calls; empty: unmeasured."""

    name: str
    description: str
    load: Callable[..., tuple[dict, dict]]
    root: Callable[..., Path]
    reconstructors_root: Callable[..., Path | None]
    defaults: Mapping = field(default_factory=dict)
    data_source: str = "simulated"
    gpu_rates: Mapping = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "defaults", MappingProxyType(dict(self.defaults)))
        object.__setattr__(self, "gpu_rates", MappingProxyType(dict(self.gpu_rates)))


_ZOOS: dict[str, Zoo] = {}


def register_zoo(zoo: Zoo) -> Zoo:
    """Make ``zoo`` loadable by name (``NeuroClipsPipeline.from_pretrained(name)``, ``$NEUROCLIPS_ZOO``)."""
    if not zoo.name or os.sep in zoo.name or zoo.name.startswith("."):  # the name becomes a results folder
        raise ValueError(f"a zoo name must be a plain folder name, got {zoo.name!r}")
    _ZOOS[zoo.name] = zoo
    return zoo


def get_zoo(name: str) -> Zoo:
    """The registered zoo called ``name``; ``ValueError`` listing the known ones otherwise. The one check of zoo
    names in the package."""
    if str(name) not in _ZOOS:
        raise ValueError(f"unknown model zoo {name!r}; choose one of {zoo_names()}")
    return _ZOOS[str(name)]


def zoo_names() -> tuple[str, ...]:
    return tuple(_ZOOS)


def is_zoo(name) -> bool:
    return str(name) in _ZOOS


def zoo_dir(name: str = "mini", root: str | os.PathLike | None = None) -> Path:
    """Folder of a zoo's weights (``root`` when given)."""
    return get_zoo(name).root(root)

