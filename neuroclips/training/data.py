"""Training data of the mini zoo, rendered from the simulated movies and cached as memory-mapped arrays."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..frames import KEYFRAME_INDEX


def _cache_file(stimuli_config, name: str, cache: Path | None) -> Path:
    from ..paths import cache_dir

    key = hashlib.sha1(json.dumps(stimuli_config.to_dict(), sort_keys=True).encode()).hexdigest()[:10]
    return Path(cache or cache_dir()) / "training" / "frames" / f"{name}-{key}.npy"


def rendered_clips(stimuli_config, split: str, fps: int, cache: Path | None = None) -> np.ndarray:
    """GT frames of every clip of a split, uint8 (n_clips, n_frames, H, W, 3), memory-mapped from the cache."""
    from ..io import atomic_path
    from ..simulation.stimuli import MovieRenderer

    path = _cache_file(stimuli_config, f"{split}-{fps}fps", cache)
    if not path.exists():
        r = MovieRenderer(stimuli_config)
        frames = np.stack([r.render_clip(split, i, fps) for i in range(stimuli_config.n_clips(split))])
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, frames)
    return np.load(path, mmap_mode="r")


@dataclass
class CaptionedFrames:
    """Frames paired with the caption of their clip: ``captions[caption_index[i]]`` describes ``frames[i]``."""

    frames: np.ndarray  # uint8 (N, H, W, 3)
    caption_index: np.ndarray  # (N,)
    captions: list[str]  # unique captions
    clip_index: np.ndarray  # (N,)
    categories: list[str]  # each frame's clip's keyframe category


def captioned_frames(stimuli_config, split: str, neighbours: bool = True, cache: Path | None = None) -> CaptionedFrames:
    """Keyframes (frame 2 of the 3-FPS clip, the frame the caption describes, spec §1.3) with their captions.

    With ``neighbours``, frames 1 and 3 are added for clips without a scene cut: the same shot, a third of
    a second away, so the caption still holds (an augmentation with real content change).
    """
    from ..simulation.stimuli import MovieRenderer

    r = MovieRenderer(stimuli_config)
    clips = rendered_clips(stimuli_config, split, 3, cache)
    infos = [r.clip_info(split, i) for i in range(len(clips))]
    captions = sorted({c.caption for c in infos})
    lookup = {c: i for i, c in enumerate(captions)}
    frames, cap, clip, cats = [], [], [], []
    for i, info in enumerate(infos):
        ks = [KEYFRAME_INDEX]
        if neighbours and not info.scene_cut:
            ks += [KEYFRAME_INDEX - 1, KEYFRAME_INDEX + 1]
        for k in ks:
            frames.append(clips[i, k])
            cap.append(lookup[info.caption])
            clip.append(i)
            cats.append(info.categories[0])
    return CaptionedFrames(np.stack(frames), np.asarray(cap), captions, np.asarray(clip), cats)


def shift_augment(frames: np.ndarray, rng: np.random.Generator, max_shift: int = 4) -> np.ndarray:
    """Random translations by up to ``max_shift`` pixels with edge padding (no flips: captions name
    directions)."""
    n, h, w, _ = frames.shape
    pad = np.pad(frames, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)), mode="edge")
    dy, dx = rng.integers(0, 2 * max_shift + 1, (2, n))
    return np.stack([pad[i, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(n)])


def tokenizer_corpus(stimuli_config) -> list[str]:
    """Captions of every training clip and the prompts the text-to-video stage uses."""
    from ..pipeline.prompts import GENERIC_PROMPT, NEGATIVE_PROMPT, video_prompt
    from ..simulation.stimuli import MovieRenderer

    r = MovieRenderer(stimuli_config)
    captions = [r.clip_info("train", i).caption for i in range(stimuli_config.n_clips("train"))]
    return captions + [video_prompt(c) for c in sorted(set(captions))] + [NEGATIVE_PROMPT, GENERIC_PROMPT]
