"""One API for every fMRI-video source: real cc2017 or the simulated world.

A :class:`SubjectData` gives per-clip random access to a subject's fMRI samples and the GT video clips
they pair with, by split (``"train"`` / ``"test"``) and clip index. Everything downstream (training,
pipeline, metrics, app) talks to this interface only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal, Union

import numpy as np

SPLITS = ("train", "test")
Repetition = Union[int, Literal["mean", "all"]]


class DataError(Exception):
    """A dataset file is missing, unreadable or not what the layout expects; the message says which."""


@dataclass(frozen=True)
class Clip:
    """One 2-s clip (one TR) and the fMRI sample paired with it."""

    source: str  # "cc2017" | "simulated"
    subject: int
    split: str
    index: int
    fmri: np.ndarray  # (n_voxels,) float32, or (n_repetitions, n_voxels) for repetition="all"
    frames: np.ndarray  # (n_frames, H, W, 3) uint8; 6 frames at 3 FPS
    fps: int
    caption: str
    categories: tuple[str, ...]  # empty where the source has no labels (cc2017)
    movie: int | None = None  # movie segment and position inside it, where known
    position: int | None = None


class SubjectData(ABC):
    """A subject's fMRI and stimuli. Subclasses implement the ``_`` methods; checks live here."""

    source: str
    subject: int
    n_voxels: int
    frame_rates: tuple[int, ...] = (3,)

    @property
    def vertex_indices(self) -> np.ndarray | None:
        """Grayordinate indices (into the 59,412 cortical vertices) of the voxels, where known."""
        return None

    def repetitions(self, split: str) -> int:
        return {"train": 2, "test": 10}[self._check_split(split)]

    @abstractmethod
    def num_clips(self, split: str) -> int: ...

    @abstractmethod
    def _fmri(self, split: str, indices: np.ndarray) -> np.ndarray:
        """(len(indices), n_repetitions, n_voxels) float32."""

    @abstractmethod
    def _frames(self, split: str, index: int, fps: int) -> np.ndarray: ...

    @abstractmethod
    def caption(self, split: str, index: int) -> str: ...

    def categories(self, split: str, index: int) -> tuple[str, ...]:
        self._check_index(split, index)
        return ()

    def movie_position(self, split: str, index: int) -> tuple[int | None, int | None]:
        """(movie segment, clip position in it): cc2017 segments are 240 clips (8 min) long."""
        self._check_index(split, index)
        return divmod(index, 240)

    # Public, checked API -------------------------------------------------------------------------
    def fmri(self, split: str, indices, repetition: Repetition = "mean") -> np.ndarray:
        """fMRI samples of one clip index or a sequence of them.

        ``repetition``: ``"mean"`` averages the repetitions with a plain mean, as the reference does for
        the test set (spec §1.2; nothing is re-standardised); an int picks one repetition (0-based; the
        reference trains on repetition ``epoch % 2``); ``"all"`` keeps them on an extra axis.
        """
        scalar = np.isscalar(indices)
        idx = np.atleast_1d(np.asarray(indices, dtype=np.int64))
        for i in idx:
            self._check_index(split, int(i))
        reps = self.repetitions(split)
        if repetition not in ("mean", "all") and not (isinstance(repetition, (int, np.integer)) and 0 <= repetition < reps):
            raise ValueError(f"repetition must be 'mean', 'all' or an int in [0, {reps}) for the {split} split, "
                             f"got {repetition!r}")
        x = self._fmri(split, idx)
        if repetition == "mean":
            x = x.mean(1)
        elif repetition != "all":
            x = x[:, int(repetition)]
        x = np.asarray(x, np.float32)
        return x[0] if scalar else x

    def frames(self, split: str, index: int, fps: int = 3) -> np.ndarray:
        """GT frames (n_frames, H, W, 3) uint8 of one clip: 6 at 3 FPS, or 16 at 8 FPS where available."""
        self._check_index(split, index)
        if fps not in self.frame_rates:
            raise ValueError(f"{self.source} subject {self.subject} has GT frames at {self.frame_rates} FPS, not {fps}")
        return self._frames(split, index, fps)

    def clip(self, split: str, index: int, repetition: Repetition = "mean", fps: int = 3) -> Clip:
        movie, position = self.movie_position(split, index)
        return Clip(self.source, self.subject, split, index, self.fmri(split, index, repetition),
                    self.frames(split, index, fps), fps, self.caption(split, index),
                    self.categories(split, index), movie, position)

    def describe(self) -> dict:
        return {"source": self.source, "subject": self.subject, "n_voxels": self.n_voxels,
                "clips": {s: self.num_clips(s) for s in SPLITS},
                "repetitions": {s: self.repetitions(s) for s in SPLITS}, "frame_rates": list(self.frame_rates)}

    def _check_split(self, split: str) -> str:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        return split

    def _check_index(self, split: str, index: int) -> None:
        n = self.num_clips(self._check_split(split))
        if not (isinstance(index, (int, np.integer)) and 0 <= index < n):
            raise IndexError(f"{self.source} subject {self.subject}: {split} clip {index!r} out of range [0, {n})")
