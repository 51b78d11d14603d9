"""Semantic categories of the simulated movies ("MiniCC").

Each scene category draws on one or more bundled sources; moving objects are categories too. Semantic
attributes give the higher visual areas of the simulated cortex a structured tuning (animate vs
inanimate, places, objects, ...), as category-selective cortex has. Three categories appear only in the
test movies, like the unseen content of cc2017's test segments.
"""

from __future__ import annotations

from dataclasses import dataclass

ATTRIBUTES = ("animate", "person", "face", "object", "vehicle", "place", "texture", "text", "natural", "space")


@dataclass(frozen=True)
class Category:
    name: str
    sources: tuple[str, ...]  # MEDIA keys
    attributes: tuple[str, ...]
    test_only: bool = False
    is_object: bool = False  # a moving sprite, not a scene


CATEGORIES: tuple[Category, ...] = (
    Category("person", ("astronaut", "grace_hopper", "camera"), ("animate", "person", "face")),
    Category("cat", ("chelsea",), ("animate", "face", "natural")),
    Category("coffee", ("coffee",), ("object",)),
    Category("rocket", ("rocket",), ("object", "vehicle", "place")),
    Category("galaxy", ("hubble",), ("space", "natural", "texture")),
    Category("motorcycle", ("motorcycle",), ("object", "vehicle")),
    Category("temple", ("china",), ("place",)),
    Category("flower", ("flower",), ("natural", "object")),
    Category("wall", ("brick",), ("texture", "place")),
    Category("ground", ("grass", "gravel"), ("texture", "natural")),
    Category("coins", ("coins",), ("object",)),
    Category("text", ("page", "text"), ("text",)),
    Category("eye", ("retina",), ("natural", "texture")),
    Category("rabbit", ("bunny",), ("animate", "natural", "place")),
    Category("cyclists", ("bikes",), ("animate", "person", "vehicle", "place")),
    Category("driver", ("carphone",), ("animate", "person", "face", "vehicle")),
    Category("moon", ("moon",), ("space", "texture", "natural"), test_only=True),
    Category("clock", ("clock",), ("object", "text"), test_only=True),
    Category("cells", ("cell",), ("natural", "texture"), test_only=True),
    Category("horse", ("horse",), ("animate", "natural"), is_object=True),
)

CATEGORY_NAMES: tuple[str, ...] = tuple(c.name for c in CATEGORIES)
CATEGORY_INDEX: dict[str, int] = {c.name: i for i, c in enumerate(CATEGORIES)}
SCENE_CATEGORIES: tuple[Category, ...] = tuple(c for c in CATEGORIES if not c.is_object)
OBJECT_CATEGORIES: tuple[Category, ...] = tuple(c for c in CATEGORIES if c.is_object)


def attribute_matrix():
    """(n_categories, n_attributes) binary matrix of semantic attributes."""
    import numpy as np

    m = np.zeros((len(CATEGORIES), len(ATTRIBUTES)), np.float32)
    for i, c in enumerate(CATEGORIES):
        for a in c.attributes:
            m[i, ATTRIBUTES.index(a)] = 1.0
    return m
