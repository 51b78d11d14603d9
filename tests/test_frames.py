"""The one module of clip constants and frame conversions."""

import numpy as np
import pytest
import torch

from neuroclips.frames import FPS_GT, FPS_VIDEO, GT_FRAMES, KEYFRAME_INDEX, VIDEO_FRAMES, resize_frames, to_uint8, to_unit


def test_clip_constants_agree():
    assert GT_FRAMES == FPS_GT * 2 and VIDEO_FRAMES == FPS_VIDEO * 2 and 0 <= KEYFRAME_INDEX < GT_FRAMES


def test_uint8_and_unit_range_round_trip():
    frames = np.random.default_rng(0).integers(0, 256, (4, 8, 6, 3), dtype=np.uint8)
    x = to_unit(frames)
    assert x.shape == (4, 3, 8, 6) and x.dtype == torch.float32 and x.min() >= -1 and x.max() <= 1
    assert to_unit(frames, dtype=torch.float16).dtype == torch.float16
    np.testing.assert_array_equal(to_uint8(x), frames)
    np.testing.assert_array_equal(to_uint8(torch.full((1, 3, 2, 2), 5.0)), np.full((1, 2, 2, 3), 255, np.uint8))
    assert to_uint8(torch.zeros(1, 3, 1, 1))[0, 0, 0, 0] == 128  # 0 -> 127.5, rounded half to even


def test_resize_keeps_size_and_dtype():
    frames = np.zeros((2, 16, 16, 3), np.uint8)
    assert resize_frames(frames, 16) is frames
    out = resize_frames(frames + 200, 8)
    assert out.shape == (2, 8, 8, 3) and out.dtype == np.uint8 and (out == 200).all()
    with pytest.raises(Exception):
        resize_frames(np.zeros((2, 16, 16), np.uint8), 8)
