"""The embedded default as users get it: the shipped mini zoo and subject 1's reconstructors through the zoo
registry. Quality checks of shipped weights (marked ``shipped``); behaviour is tested on the tiny zoo."""

import numpy as np
import pytest

pytestmark = pytest.mark.shipped
CLIPS = (42, 300, 700, 900, 1100)  # spread over the test movies


@pytest.fixture(scope="module")
def mini():
    from neuroclips.pipeline import NeuroClipsPipeline

    return NeuroClipsPipeline.from_pretrained("mini", subject=1)


def test_the_blurry_video_matches_its_own_clip(mini, shipped_subject):
    """PR's blurry video correlates with its own clip's GT, not with another clip's (measured when written: mean
    PixCorr 0.49 vs -0.01 over these 5 clips)."""
    from neuroclips.metrics import pixcorr

    own, other = [], []
    for k, c in enumerate(CLIPS):
        blurry = mini.reconstruct_blurry(shipped_subject.clip("test", c).fmri)
        own.append(pixcorr(blurry, shipped_subject.frames("test", c)))
        other.append(pixcorr(blurry, shipped_subject.frames("test", CLIPS[(k + 1) % len(CLIPS)])))
    assert np.mean(own) > np.mean(other) + 0.25


def test_the_mini_zoo_reconstructs_with_its_own_defaults(mini, shipped_subject):
    out = mini(shipped_subject.clip("test", 42).fmri, seed=0, num_inference_steps=4, prior_steps=4, keyframe_steps=4)
    assert out.video.shape == (16, 64, 64, 3) and out.keyframe.shape == (64, 64, 3)
    assert out.settings["keyframe_unconditional"] == "zeros"  # what the mini unCLIP was trained with
    assert mini.default_settings.keyframe_steps == 25 and mini.default_settings.num_inference_steps == 25
    words = out.caption.split()
    assert len(words) >= 3 and sum(w.isalpha() for w in words) >= len(words) // 2  # the mini BLIP-2 writes English


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_the_mini_zoo_runs_in_half_precision_close_to_fp32(mini, shipped_subject, dtype):
    """The embedded default in fp16 and bf16 (what a GPU Space runs) gives nearly fp32's outputs (mean differences
    measured on the CPU at these 4 steps, bf16: 0.18 grey levels for the blurry frames, 2.3 for the keyframe, 2.7 for
    the video; fp16 less; at 10 video steps both videos differ by ~3.3)."""
    import torch

    from neuroclips.pipeline import NeuroClipsPipeline

    steps = {"num_inference_steps": 4, "prior_steps": 4, "keyframe_steps": 4}
    fmri = shipped_subject.clip("test", 42).fmri
    ref = mini(fmri, seed=0, **steps)
    half = NeuroClipsPipeline.from_pretrained("mini", subject=1, device="cpu", dtype=getattr(torch, dtype))
    out = half(fmri, seed=0, **steps)
    diff = {k: float(np.abs(getattr(out, k).astype(float) - getattr(ref, k).astype(float)).mean())
            for k in ("blurry_frames", "keyframe", "video")}
    assert diff["blurry_frames"] < 1.0 and diff["keyframe"] < 4.0 and diff["video"] < 8.0, diff
    assert out.video.std() > 5 and out.caption
