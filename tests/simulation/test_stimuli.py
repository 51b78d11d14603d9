"""MiniCC stimuli: deterministic, cc2017-shaped clips with labels, captions, cuts and unseen test categories."""

import numpy as np

from neuroclips.simulation.categories import CATEGORIES, SCENE_CATEGORIES
from neuroclips.simulation.stimuli import MovieRenderer, StimulusConfig, movie_shots

CONFIG = StimulusConfig(resolution=32, clips_per_movie=40)


def test_clip_shapes_and_frame_rates():
    r = MovieRenderer(CONFIG)
    gt = r.render_clip("test", 5, fps=3)
    video = r.render_clip("test", 5, fps=8)
    assert gt.shape == (6, 32, 32, 3) and gt.dtype == np.uint8
    assert video.shape == (16, 32, 32, 3)
    # Both frame rates sample the same movie: t = 0 and t = 1 s are common to 3 and 8 FPS.
    np.testing.assert_array_equal(gt[0], video[0])
    np.testing.assert_array_equal(gt[3], video[8])


def test_rendering_is_deterministic_and_random_access():
    a = MovieRenderer(CONFIG).render_clip("train", 123, fps=8)
    r = MovieRenderer(CONFIG)
    r.render_clip("train", 7)
    np.testing.assert_array_equal(a, r.render_clip("train", 123, fps=8))
    other = MovieRenderer(StimulusConfig(resolution=32, clips_per_movie=40, seed=1)).render_clip("train", 123, fps=8)
    assert not np.array_equal(a, other)


def test_movies_are_continuous_across_clip_boundaries():
    r = MovieRenderer(CONFIG)
    continuous = []
    for i in range(30):
        info = r.clip_info("train", i)
        nxt = r.render_clip("train", i + 1, fps=8)[0].astype(float)
        last = r.render_clip("train", i, fps=8)[-1].astype(float)
        same_shot = r.shot_at("train", info.movie, (info.position + 1) * 2.0) is r.shot_at(
            "train", info.movie, info.position * 2.0 + 15 / 8)
        if same_shot:
            continuous.append(np.abs(nxt - last).mean())
    assert continuous and np.median(continuous) < 20  # one 1/8-s step of camera motion, not a new scene


def test_categories_captions_and_cuts():
    assert len(SCENE_CATEGORIES) >= 12
    r = MovieRenderer(CONFIG)
    infos = [r.clip_info("test", i) for i in range(CONFIG.n_clips("test"))]
    names = {c.name for c in CATEGORIES}
    assert all(i.categories and set(i.categories) <= names for i in infos)
    assert all(i.caption for i in infos)
    cuts = np.mean([i.scene_cut for i in infos])
    assert 0.05 < cuts < 0.5  # occasional cross-scene clips
    # A clip's caption describes its keyframe (frame 2), whose category is listed first.
    from neuroclips.simulation.media import MEDIA

    for info in infos[:50]:
        shot = r.shot_at("test", info.movie, info.position * 2.0 + 2 / 3)
        assert info.categories[0] == shot.category
        assert info.caption.startswith(MEDIA[shot.source].phrase)


def test_some_test_categories_never_appear_in_training():
    test_only = {c.name for c in CATEGORIES if c.test_only}
    assert test_only
    train = {s.category for m in range(CONFIG.n_train_movies) for s in movie_shots(CONFIG, "train", m)}
    test = {s.category for m in range(CONFIG.n_test_movies) for s in movie_shots(CONFIG, "test", m)}
    assert not (train & test_only)
    assert test & test_only


def test_default_sizes_follow_cc2017():
    c = StimulusConfig()
    assert c.n_clips("train") == 4320 and c.n_clips("test") == 1200
