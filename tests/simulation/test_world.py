"""The simulated world end to end: a small world built from scratch, and the shipped demo world."""

import json

import numpy as np
import pytest

from neuroclips.data import DataError, SimulatedSubject, load_subject
from neuroclips.cortex import grayordinates
from neuroclips.paths import demo_data_dir
from neuroclips.simulation.encoding import FAMILIES, neural_drive
from neuroclips.simulation.stimuli import MovieRenderer
from neuroclips.simulation.world import (WorldConfig, fmri_fingerprint, load_features, model_from_ground_truth,
                                         regenerate_fmri, sha256_array)

SHIPPED = demo_data_dir() / "simulated"


def test_small_world_selects_only_voxels_with_signal(small_world):
    sub = SimulatedSubject(1, root=small_world["root"], cache=small_world["cache"])
    info = small_world["manifest"]["subjects"]["1"]
    assert info["n_voxels"] == sub.n_voxels > 100
    gt = sub.ground_truth
    assert gt["has_signal"].mean() > 0.99  # Bonferroni keeps false positives out
    np.testing.assert_array_equal(np.sort(sub.vertex_indices), sub.vertex_indices)  # ascending, as cc2017 [INFER]
    assert set(np.unique(gt["area"])) <= set(grayordinates().area[sub.vertex_indices])
    assert (sub.reliability["r_train"] > 0).all()


def test_regeneration_reproduces_the_built_fmri(small_world, tmp_path):
    sub = SimulatedSubject(1, root=small_world["root"], cache=small_world["cache"])
    built = sub.fmri("test", np.arange(sub.num_clips("test")), repetition="all")
    paths = regenerate_fmri(small_world["config"], 1, sub.ground_truth, tmp_path, splits=("test",),
                            shipped=small_world["root"])
    assert not paths["train"].exists()  # only what was asked for
    again = np.load(paths["test"]).astype(np.float32)
    # The build simulated all candidate vertices, regeneration only the selected ones: BLAS may sum in
    # another order, so allow a float16 rounding step.
    np.testing.assert_allclose(again, built, rtol=0, atol=2e-3)
    assert np.mean(again == built) > 0.99


def test_fmri_sample_i_is_aligned_with_clip_i(small_world):
    """The drive of clip i explains sample i best (the 4-s delay is already applied)."""
    config = small_world["config"]
    sub = SimulatedSubject(1, root=small_world["root"], cache=small_world["cache"])
    model = model_from_ground_truth(sub.ground_truth)
    feats = load_features(config, small_world["cache"], small_world["root"])
    stacked = {k: np.concatenate([feats["train"][k], feats["test"][k]]) for k in feats["train"]}
    n_train = config.stimuli.n_clips("train")
    drive = neural_drive(model, stacked, slice(0, n_train))[0][n_train:]
    fmri = sub.fmri("test", np.arange(sub.num_clips("test")))
    per = config.stimuli.clips_per_movie

    def corr(lag):
        a, b = [], []
        for m in range(config.stimuli.n_test_movies):
            d, f = drive[m * per : (m + 1) * per], fmri[m * per : (m + 1) * per]
            a.append(d[max(0, -lag) : per - max(0, lag)])
            b.append(f[max(0, lag) : per - max(0, -lag)])
        a, b = np.concatenate(a), np.concatenate(b)
        a, b = (a - a.mean(0)) / a.std(0), (b - b.mean(0)) / b.std(0)
        return float(np.nanmean((a * b).mean(0)))

    r = {lag: corr(lag) for lag in (-2, -1, 0, 1, 2)}
    assert max(r, key=r.get) == 0, r
    assert r[0] > 0.3


def test_world_config_round_trip_and_digest():
    c = WorldConfig()
    assert WorldConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    assert WorldConfig.from_dict(c.to_dict()).digest() == c.digest()
    with pytest.raises(ValueError, match="build-demo-data"):
        WorldConfig.from_dict({**c.to_dict(), "format_version": 0})
    with pytest.raises(KeyError, match="no simulated subject 9"):
        c.subject(9)


# The shipped world -------------------------------------------------------------------------------
pytestmark_shipped = pytest.mark.skipif(not (SHIPPED / "manifest.json").exists(), reason="demo data not built")


@pytestmark_shipped
def test_shipped_world_matches_its_manifest_and_stays_small():
    manifest = json.loads((SHIPPED / "manifest.json").read_text())
    assert WorldConfig.from_dict(manifest["world"]).digest() == manifest["digest"]
    for s, info in manifest["subjects"].items():
        v = np.load(SHIPPED / f"sub-{int(s):02d}" / "ground_truth.npz")["vertices"]
        assert len(v) == info["n_voxels"] and 2000 <= len(v) <= 16000
    files = [p for p in demo_data_dir().rglob("*") if p.is_file()]
    assert max(p.stat().st_size for p in files) < 10 * 2**20
    assert sum(p.stat().st_size for p in files) < 60 * 2**20


@pytestmark_shipped
def test_shipped_stimuli_regenerate_bit_exactly():
    manifest = json.loads((SHIPPED / "manifest.json").read_text())
    renderer = MovieRenderer(WorldConfig.from_dict(manifest["world"]).stimuli)
    for split, info in manifest["stimuli"].items():
        clips = np.stack([renderer.render_clip(split, i) for i in range(8)])
        assert sha256_array(clips) == info["sha256_first_clips"]


@pytestmark_shipped
def test_shipped_features_match_recomputed_ones():
    from neuroclips.simulation.encoding import clip_features

    manifest = json.loads((SHIPPED / "manifest.json").read_text())
    renderer = MovieRenderer(WorldConfig.from_dict(manifest["world"]).stimuli)
    with np.load(SHIPPED / "features_test.npz") as f:
        shipped = {k: f[k] for k in f.files}
    for i in (0, 377, 1199):
        fresh = clip_features(renderer, "test", i)
        for k in shipped:
            np.testing.assert_allclose(shipped[k][i].astype(np.float32), fresh[k], rtol=2e-3, atol=2e-3)


@pytestmark_shipped
def test_shipped_subjects_regenerate_their_fmri(shipped_subject):
    """Regenerated from seeds in the session cache; compared with the build's fingerprint."""
    manifest = json.loads((SHIPPED / "manifest.json").read_text())
    fp = manifest["subjects"]["1"]["fingerprint"]
    for split in ("train", "test"):
        x = shipped_subject.fmri(split, np.arange(64), repetition="all")
        np.testing.assert_allclose(fmri_fingerprint(x), fp[split], rtol=1e-3, atol=1e-4)


@pytestmark_shipped
def test_shipped_subjects_differ_and_are_calibrated():
    manifest = json.loads((SHIPPED / "manifest.json").read_text())
    counts = {s: i["n_voxels"] for s, i in manifest["subjects"].items()}
    assert len(set(counts.values())) == 3
    for s, info in manifest["subjects"].items():
        p5, p25, p50, p75, p95 = info["train_rep_r_percentiles_5_25_50_75_95"]
        assert 0.1 < p50 < 0.5  # single-repetition reliability of the selected voxels (docs/simulation.md)
        assert info["false_positives"] <= 2
        gt = np.load(SHIPPED / f"sub-{int(s):02d}" / "ground_truth.npz")
        fams = set(gt["family"][gt["has_signal"]].tolist())
        assert {FAMILIES.index("contrast"), FAMILIES.index("semantic")} <= fams


@pytestmark_shipped
def test_shipped_subject_api(shipped_subject):
    s = shipped_subject
    c = s.clip("test", 42)
    assert c.fmri.shape == (s.n_voxels,) and c.frames.shape == (6, 64, 64, 3) and c.caption and c.categories
    assert s.frames("test", 42, fps=8).shape == (16, 64, 64, 3)
    assert (c.movie, c.position) == (0, 42)
    assert s.fmri("train", [0, 1], repetition=1).shape == (2, s.n_voxels)
    # The test sample is the plain mean of its 10 repetitions (spec §1.2).
    np.testing.assert_allclose(c.fmri, s.fmri("test", 42, repetition="all").mean(0), rtol=1e-6, atol=1e-6)
    with pytest.raises(IndexError, match="out of range"):
        s.clip("test", 1200)
    with pytest.raises(DataError, match="unknown simulated subject 7"):
        load_subject("simulated", 7)
