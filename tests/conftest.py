"""Test-wide settings: offline hub, no analytics, and a cache for regenerated arrays."""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Regenerated simulation arrays are shared by the whole session (and across sessions when set by CI).
os.environ.setdefault("NEUROCLIPS_CACHE", str(Path(tempfile.gettempdir()) / "neuroclips-test-cache"))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import neuroclips  # noqa: E402,F401  (applies the torchvision shim before anything imports torchvision)


@pytest.fixture(scope="session")
def small_world(tmp_path_factory):
    """A small simulated world (16 clips per movie, one subject, high SNR) built from scratch."""
    from neuroclips.simulation.stimuli import StimulusConfig
    from neuroclips.simulation.world import SubjectConfig, WorldConfig, build_world

    root = tmp_path_factory.mktemp("world")
    config = WorldConfig(
        stimuli=StimulusConfig(resolution=32, clips_per_movie=16),
        subjects=(SubjectConfig(1, seed=7, snr_scale=6.0),),
    )
    manifest = build_world(root / "simulated", root / "cache", config)
    return {"root": root / "simulated", "cache": root / "cache", "config": config, "manifest": manifest}


@pytest.fixture(scope="session")
def shipped_subject():
    from neuroclips.data import load_subject

    return load_subject("simulated", 1)


def rng(seed=0):
    return np.random.default_rng(seed)


@pytest.fixture(scope="session")
def tiny_zoo(tmp_path_factory):
    """The tiny random zoo (tests/tiny_zoo.py) registered as "tiny", with PR/SR for the simulated subjects."""
    from neuroclips.data import available_subjects, load_subject
    from tests.tiny_zoo import register_tiny_zoo, write_reconstructors

    root = write_reconstructors(tmp_path_factory.mktemp("tiny-reconstructors"),
                                {s: load_subject("simulated", s).n_voxels for s in available_subjects("simulated")})
    return register_tiny_zoo(root)
