"""The placeholder app: builds, serves a clip, turns bad input into a gr.Error."""

import gradio as gr
import numpy as np
import pytest

from neuroclips.data import available_simulated_subjects
from neuroclips.ui.placeholder import browse_clip, build_demo

pytestmark = pytest.mark.skipif(not available_simulated_subjects(), reason="demo data not built")


def test_browse_clip_shows_frames_and_caption():
    strip, info = browse_clip(1, 5)
    assert strip.shape == (64, 6 * 64, 3) and strip.dtype == np.uint8
    assert "categories:" in info and "voxels" in info


@pytest.mark.parametrize("subject,clip,msg", [(1, 5000, "out of range"), (8, 0, "unknown simulated subject")])
def test_bad_input_is_a_clear_error(subject, clip, msg):
    with pytest.raises(gr.Error, match=msg):
        browse_clip(subject, clip)


def test_demo_builds():
    assert isinstance(build_demo(), gr.Blocks)
