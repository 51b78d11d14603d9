"""From neural drive to cc2017-like fMRI samples: hemodynamics, noise, preprocessing, voxel selection.

* Hemodynamics: a double-gamma HRF (SPM's shape) integrated over each 2-s clip and sampled at mid-TR.
  Each run acquires two extra volumes, and sample *i* of the released data is volume *i + 2*: the BOLD
  signal 4 s (2 TRs) after clip *i*, as the paper pairs them (spec §1.1). So sample *i* carries mostly
  clip *i* and some of its neighbours.
* Noise: per repetition and vertex, AR(1) Gaussian noise plus slow drift; the signal is scaled to each
  vertex's signal-to-noise variance ratio.
* Preprocessing as Wen et al.: 4th-order polynomial detrending and z-scoring per run.
* Voxel selection as cc2017: per training movie the Pearson r between the two repetitions, Fisher z,
  a one-sample t-test over movies, Bonferroni P < 0.05 over the 59,412 vertices (spec §1.1, §8).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.signal import lfilter

from ..cortex import N_CORTEX

TR = 2.0
DELAY_SAMPLES = 2  # 4 s: the paper's hemodynamic delay
REPETITIONS = {"train": 2, "test": 10}  # cc2017 design (spec §1.1)
_BURN_IN = 16


def hrf_kernel(peak: float = 4.5, length: float = 32.0, oversampling: int = 100) -> np.ndarray:
    """Response of volume k (sampled at mid-TR) to a unit clip shown during [0, TR): k = 0, 1, ...

    Double gamma with SPM's undershoot (delay 16 s, ratio 1/6); ``peak`` is the time to peak in seconds.
    """
    dt = TR / oversampling
    t = np.arange(0, length + TR, dt)
    h = stats.gamma.pdf(t, peak + 1.0) - stats.gamma.pdf(t, 16.0) / 6.0
    boxcar = np.ones(oversampling) * dt
    response = np.convolve(h, boxcar)[: len(t)]  # continuous response to the 2-s clip
    samples = response[((np.arange(int(length / TR)) * TR + TR / 2) / dt).astype(int)]
    return (samples / samples.max()).astype(np.float32)


def bold(drive: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Raw BOLD volumes of one run: drive (n_clips, n) -> (n_clips + DELAY_SAMPLES, n)."""
    n = drive.shape[0] + DELAY_SAMPLES
    padded = np.zeros((n,) + drive.shape[1:], np.float32)
    padded[: drive.shape[0]] = drive
    return lfilter(kernel, [1.0], padded, axis=0).astype(np.float32)


def align(volumes: np.ndarray) -> np.ndarray:
    """Released samples of one run: sample i = volume i + DELAY_SAMPLES."""
    return volumes[DELAY_SAMPLES:]


def preprocess(run: np.ndarray, order: int = 4) -> np.ndarray:
    """Wen et al.: remove a polynomial trend of the given order, then z-score, per run and vertex.

    ``run`` is (..., n_samples, n_vertices): time on the second-to-last axis.
    """
    t = np.linspace(-1, 1, run.shape[-2])
    q, _ = np.linalg.qr(np.vander(t, order + 1))
    x = run - q @ (q.T @ run)
    sd = x.std(-2, keepdims=True)
    return (x / np.where(sd > 1e-8, sd, 1.0)).astype(np.float32)


@dataclass(frozen=True)
class NoiseModel:
    seed: int
    ar: float = 0.3
    drift: float = 0.5


def vertex_noise(noise: NoiseModel, split_id: int, columns: np.ndarray, n_movies: int, n_reps: int,
                 n_samples: int) -> np.ndarray:
    """Unit-variance AR(1) noise plus slow drift, (n_movies, n_reps, n_samples, len(columns)).

    Each vertex has its own random stream, so its noise does not depend on which other vertices are
    simulated: the selected voxels are regenerated without simulating the whole cortex.
    """
    runs = n_movies * n_reps
    eps = np.empty((len(columns), n_samples + _BURN_IN, runs), np.float32)
    coef = np.empty((len(columns), runs, 3), np.float32)
    for j, v in enumerate(np.asarray(columns)):
        g = np.random.default_rng([noise.seed, 2, split_id, int(v)])
        g.standard_normal((n_samples + _BURN_IN, runs), dtype=np.float32, out=eps[j])
        g.standard_normal((runs, 3), dtype=np.float32, out=coef[j])
    x = np.ascontiguousarray(eps.transpose(1, 0, 2))  # time first: the AR loop runs on contiguous slabs
    del eps
    x *= np.float32(np.sqrt(1 - noise.ar**2))
    for t in range(1, len(x)):  # AR(1) with unit stationary variance
        x[t] += np.float32(noise.ar) * x[t - 1]
    t = np.arange(n_samples) / n_samples
    basis = np.stack([np.cos(np.pi * (k + 1) * t * 0.7 + k) for k in range(3)]).astype(np.float32)  # (3, n)
    out = x[_BURN_IN:].transpose(2, 0, 1) + noise.drift * (coef @ basis).transpose(1, 2, 0)  # (runs, n, cols)
    return np.ascontiguousarray(out, dtype=np.float32).reshape(n_movies, n_reps, n_samples, -1)


def simulate_split(signal_runs: list[np.ndarray], signal_columns: np.ndarray, noise: NoiseModel, split: str,
                   columns: np.ndarray) -> np.ndarray:
    """Preprocessed samples (n_movies, n_reps, n_samples, len(columns)) of one split.

    ``signal_runs[m]`` holds the aligned signal (already scaled by sqrt(SNR)) of movie m for the vertices
    ``signal_columns``; other vertices carry noise only.
    """
    columns = np.asarray(columns)
    n_movies, n_samples = len(signal_runs), signal_runs[0].shape[0]
    x = vertex_noise(noise, ("train", "test").index(split), columns, n_movies, REPETITIONS[split], n_samples)
    pos = np.full(N_CORTEX, -1, np.int64)
    pos[signal_columns] = np.arange(len(signal_columns))
    src = pos[columns]
    has = src >= 0
    if has.all():
        x += np.stack(signal_runs)[:, None][..., src]
    elif has.any():
        sig = np.stack(signal_runs)[:, :, src[has]]  # (n_movies, n_samples, n_has)
        x[..., has] += sig[:, None]
    return preprocess(x)


def reproducibility(train: np.ndarray) -> np.ndarray:
    """Pearson r between the two repetitions of each training movie: (n_movies, n_vertices).

    ``train`` is preprocessed (n_movies, 2, n_samples, n_vertices), z-scored per run.
    """
    return (train[:, 0] * train[:, 1]).mean(1)


def select_voxels(r: np.ndarray, alpha: float = 0.05, n_tests: int = N_CORTEX,
                  alternative: str = "greater") -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """cc2017's selection from per-movie reproducibility ``r`` (n_movies, n_vertices).

    Fisher z, one-sample t-test over movies, Bonferroni-corrected P < ``alpha`` over ``n_tests``
    vertices (the spec's inferred right-tailed test by default, §8). Returns the selected columns
    (ascending) and per-vertex statistics: mean r over movies, t, p.
    """
    z = np.arctanh(np.clip(r, -0.999999, 0.999999))
    t, p = stats.ttest_1samp(z, 0.0, axis=0, alternative=alternative)
    p = np.nan_to_num(p, nan=1.0)
    selected = np.flatnonzero(p < alpha / n_tests)
    return selected, {"r_mean": r.mean(0).astype(np.float32), "t": t.astype(np.float32), "p": p}
