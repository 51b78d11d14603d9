"""Hemodynamics, noise, preprocessing and cc2017's voxel selection."""

import numpy as np
import pytest

from neuroclips.cortex import N_CORTEX
from neuroclips.simulation.fmri import (DELAY_SAMPLES, NoiseModel, align, bold, hrf_kernel, preprocess,
                                        reproducibility, select_voxels, vertex_noise)
from neuroclips.simulation.world import WorldConfig


@pytest.mark.parametrize("peak", sorted({s.hrf_peak for s in WorldConfig().subjects}))
def test_response_peaks_two_samples_after_its_stimulus(peak):
    drive = np.zeros((30, 1), np.float32)
    drive[10] = 1.0
    volumes = bold(drive, hrf_kernel(peak))
    assert volumes.shape == (30 + DELAY_SAMPLES, 1)
    assert int(np.argmax(volumes[:, 0])) == 10 + 2  # 4 s later, the paper's delay
    aligned = align(volumes)
    assert int(np.argmax(aligned[:, 0])) == 10  # released sample i pairs with clip i ...
    assert aligned[9, 0] > 0.2 and aligned[11, 0] > 0.2  # ... and carries some of its neighbours


def test_preprocessing_detrends_and_zscores_per_run():
    t = np.linspace(0, 1, 240)[:, None]
    x = 5 + 3 * t**3 + np.random.default_rng(0).normal(size=(240, 4))
    y = preprocess(x.astype(np.float32))
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(0), 1, atol=1e-5)
    assert abs(np.corrcoef(y[:, 0], t[:, 0])[0, 1]) < 1e-4


def test_noise_is_deterministic_unit_variance_and_independent_of_the_columns_simulated():
    noise = NoiseModel(seed=3)
    cols = np.array([5, 17, 40000, N_CORTEX - 1])
    wide = np.concatenate([cols, np.arange(100, 140)])
    full = vertex_noise(noise, 0, wide, 2, 2, 64)
    assert full.shape == (2, 2, 64, len(wide))
    np.testing.assert_array_equal(vertex_noise(noise, 0, cols, 2, 2, 64), full[..., : len(cols)])
    assert not np.array_equal(full[0, 0], full[0, 1])  # repetitions differ
    assert not np.array_equal(vertex_noise(noise, 1, cols, 2, 2, 64), full[..., : len(cols)])  # splits differ
    x = vertex_noise(NoiseModel(seed=3, drift=0.0), 0, np.arange(200), 1, 1, 240)[0, 0]
    assert 0.9 < x.std() < 1.1
    lag1 = (x[1:] * x[:-1]).mean() / x.var()
    assert 0.25 < lag1 < 0.35  # AR(1), rho = 0.3


def test_voxel_selection_keeps_reliable_vertices_only():
    rng = np.random.default_rng(0)
    n_movies, n, v = 18, 240, 500
    signal = rng.normal(size=(n_movies, n, v))
    amp = np.zeros(v)
    amp[:100] = 0.8  # reproducible vertices: r ~ 0.4 between repetitions
    runs = np.stack([np.stack([signal[m] * amp + rng.normal(size=(n, v)) for _ in range(2)]) for m in range(n_movies)])
    selected, stats = select_voxels(reproducibility(preprocess(runs.astype(np.float32))), n_tests=v)
    np.testing.assert_array_equal(selected, np.arange(100))
    assert 0.3 < stats["r_mean"][:100].mean() < 0.5 and abs(stats["r_mean"][100:].mean()) < 0.01
