"""The simulated cc2017 world behind the :class:`SubjectData` API.

Committed files (``demo_data/simulated``): the world config, each subject's selected vertex indices,
ground truth and reliability. The fMRI arrays are regenerated from seeds into the cache on first use
(seconds) and memory-mapped after that; clips are rendered on demand.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from functools import cached_property
from pathlib import Path

import numpy as np

from ..frames import FPS_GT, FPS_VIDEO
from ..paths import cache_dir, demo_data_dir
from .base import DataError, SubjectData

logger = logging.getLogger(__name__)


def simulated_root(root: str | os.PathLike | None = None) -> Path:
    return Path(root) if root is not None else demo_data_dir() / "simulated"


def available_simulated_subjects(root: str | os.PathLike | None = None) -> list[int]:
    root = simulated_root(root)
    return sorted(int(p.name[4:]) for p in root.glob("sub-*") if (p / "ground_truth.npz").exists())


class SimulatedSubject(SubjectData):
    """A simulated subject: fMRI from the encoding model, GT clips from the MiniCC generator."""

    source = "simulated"
    frame_rates = (FPS_GT, FPS_VIDEO)

    def __init__(self, subject: int, root: str | os.PathLike | None = None, cache: str | os.PathLike | None = None):
        from ..simulation.stimuli import MovieRenderer
        from ..simulation.world import WorldConfig

        self.root = simulated_root(root)
        self.cache = Path(cache) if cache is not None else cache_dir()
        world_file = self.root / "world.json"
        if not world_file.exists():
            raise DataError(f"no simulated world at {self.root}; build it with `python -m neuroclips build-demo-data`")
        self.world = WorldConfig.from_dict(json.loads(world_file.read_text()))
        self._dir = self.root / f"sub-{subject:02d}"
        if not (self._dir / "ground_truth.npz").exists():
            raise DataError(f"unknown simulated subject {subject}; available: {available_simulated_subjects(self.root)}")
        self.subject = subject
        with np.load(self._dir / "ground_truth.npz") as f:  # the selected fs_LR vertices, in the fMRI's row order
            self._vertices = f["vertices"]
        self.n_voxels = len(self._vertices)
        self.renderer = MovieRenderer(self.world.stimuli)
        self._mm: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    @property
    def vertex_indices(self) -> np.ndarray:
        return self._vertices

    @cached_property
    def ground_truth(self) -> dict[str, np.ndarray]:
        """Per voxel: area, driving feature family and shares, SNR, pRF (the simulation's truth)."""
        with np.load(self._dir / "ground_truth.npz") as f:
            return {k: f[k] for k in f.files}

    @cached_property
    def reliability(self) -> dict[str, np.ndarray]:
        with np.load(self._dir / "reliability.npz") as f:
            return {k: f[k] for k in f.files}

    def _fmri_split(self, split: str) -> np.ndarray:
        """Memory-mapped (clips, repetitions, voxels) fMRI of one split, regenerated on first use."""
        from ..simulation.world import fmri_cache_paths, regenerate_fmri

        with self._lock:  # one regeneration per split, even with concurrent requests
            if split in self._mm:
                return self._mm[split]
            path = fmri_cache_paths(self.cache, self.world, self.subject)[split]
            if not path.exists():
                logger.info("regenerating simulated subject %d %s fMRI into %s", self.subject, split, self.cache)
                regenerate_fmri(self.world, self.subject, self.ground_truth, self.cache, splits=(split,),
                                shipped=self.root)
            x = np.load(path, mmap_mode="r")
            expected = (self.num_clips(split), self.repetitions(split), self.n_voxels)
            if x.shape != expected:
                raise DataError(f"cached fMRI {path} has shape {x.shape}, expected {expected}; delete it")
            self._mm[split] = x
            return x

    def num_clips(self, split: str) -> int:
        return self.world.stimuli.n_clips(self._check_split(split))

    def _fmri(self, split: str, indices: np.ndarray) -> np.ndarray:
        return np.asarray(self._fmri_split(split)[indices], np.float32)

    def _frames(self, split: str, index: int, fps: int) -> np.ndarray:
        return self.renderer.render_clip(split, index, fps)

    def caption(self, split: str, index: int) -> str:
        self._check_index(split, index)
        return self.renderer.clip_info(split, index).caption

    def categories(self, split: str, index: int) -> tuple[str, ...]:
        self._check_index(split, index)
        return self.renderer.clip_info(split, index).categories

    def movie_position(self, split: str, index: int) -> tuple[int, int]:
        self._check_index(split, index)
        return divmod(index, self.world.stimuli.clips_per_movie)
