"""Data layer: one API (:class:`SubjectData`) for the real cc2017 dataset and the simulated world."""

from __future__ import annotations

import os

from .base import SPLITS, Clip, DataError, Repetition, SubjectData
from .cc2017 import CC2017Layout, CC2017Subject, convert_cc2017
from .simulated import SimulatedSubject, available_simulated_subjects

SOURCES = ("simulated", "cc2017")


def load_subject(source: str, subject: int, root: str | os.PathLike | None = None,
                 cache: str | os.PathLike | None = None) -> SubjectData:
    """Open one subject of a source: ``"simulated"`` (default root: the shipped demo data) or ``"cc2017"``
    (``root`` = the folder holding the dataset's ``.pt`` files; default ``$NEUROCLIPS_CC2017_ROOT``)."""
    from ..paths import cache_dir

    if source == "simulated":
        return SimulatedSubject(subject, root=root, cache=cache)
    if source == "cc2017":
        root = root if root is not None else os.environ.get("NEUROCLIPS_CC2017_ROOT") or None
        if root is None:
            raise DataError("cc2017 needs its folder (subj0N_*_fmri.pt, GT_*_3fps.pt, GT_*_caption.pt, from the "
                            "gongzx/cc2017_dataset dataset repo): pass --root DIR (root= in Python) or set "
                            "NEUROCLIPS_CC2017_ROOT")
        return CC2017Subject(root, subject, cache=cache if cache is not None else cache_dir())
    raise DataError(f"unknown data source {source!r}; choose one of {SOURCES}")


def available_subjects(source: str, root: str | os.PathLike | None = None) -> list[int]:
    """The subjects a source has: the simulated world's built subjects, or cc2017's (spec §1.1)."""
    if source == "simulated":
        return available_simulated_subjects(root)
    if source == "cc2017":
        return sorted(CC2017Layout().voxels)
    raise DataError(f"unknown data source {source!r}; choose one of {SOURCES}")


__all__ = ["SPLITS", "SOURCES", "available_subjects", "Clip", "DataError", "Repetition", "SubjectData", "CC2017Layout",
           "CC2017Subject", "SimulatedSubject", "available_simulated_subjects", "convert_cc2017", "load_subject"]
