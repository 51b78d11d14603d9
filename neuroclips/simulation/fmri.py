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

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.signal import lfilter

from ..data.cortex import N_CORTEX

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
    """Wen et al.: remove a polynomial trend of the given order, then z-score, per run and vertex."""
    t = np.linspace(-1, 1, run.shape[0])
    q, _ = np.linalg.qr(np.vander(t, order + 1))
    x = run - q @ (q.T @ run)
    sd = x.std(0)
    return (x / np.where(sd > 1e-8, sd, 1.0)).astype(np.float32)


@dataclass(frozen=True)
class NoiseModel:
    seed: int
    ar: float = 0.3
    drift: float = 0.5


def run_noise(noise: NoiseModel, split_id: int, movie: int, rep: int, n_samples: int,
              columns: np.ndarray | None = None) -> np.ndarray:
    """Unit-variance AR(1) noise plus drift of one run, for all vertices or the given columns.

    The random streams are drawn for all 59,412 vertices and then indexed, so a vertex's noise does not
    depend on which other vertices are simulated.
    """
    rng = np.random.default_rng([noise.seed, 2, split_id, movie, rep])
    eps = rng.standard_normal((n_samples + _BURN_IN, N_CORTEX), dtype=np.float32)
    coef = rng.standard_normal((3, N_CORTEX), dtype=np.float32)
    if columns is not None:
        eps, coef = eps[:, columns], coef[:, columns]
    x = lfilter([np.sqrt(1 - noise.ar**2)], [1.0, -noise.ar], eps, axis=0)[_BURN_IN:]
    t = np.arange(n_samples)[:, None] / n_samples
    basis = np.concatenate([np.cos(np.pi * (k + 1) * t * 0.7 + k) for k in range(3)], 1)
    return (x + noise.drift * basis @ coef).astype(np.float32)


def simulate_runs(signal_runs: list[np.ndarray], signal_columns: np.ndarray, noise: NoiseModel, split: str,
                  columns: np.ndarray | None = None) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield (movie, repetition, preprocessed run (n_samples, n_columns)).

    ``signal_runs[m]`` holds the aligned signal (already scaled by sqrt(SNR)) of movie m for the vertices
    ``signal_columns``; other vertices carry noise only. ``columns`` picks the vertices to return
    (default: all 59,412).
    """
    split_id = ("train", "test").index(split)
    cols = np.arange(N_CORTEX) if columns is None else np.asarray(columns)
    pos = np.full(N_CORTEX, -1, np.int64)
    pos[cols] = np.arange(len(cols))
    has = pos[signal_columns] >= 0
    target, source = pos[signal_columns][has], np.flatnonzero(has)
    for movie, sig in enumerate(signal_runs):
        for rep in range(REPETITIONS[split]):
            x = run_noise(noise, split_id, movie, rep, sig.shape[0], None if columns is None else cols)
            x[:, target] += sig[:, source]
            yield movie, rep, preprocess(x)


def select_voxels(runs: Iterator[tuple[int, int, np.ndarray]], alpha: float = 0.05,
                  alternative: str = "greater") -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """cc2017's reproducibility test over the training movies (two repetitions each).

    Returns the selected column indices (ascending) and per-vertex statistics: mean r over movies, t, p.
    """
    rs, first = [], {}
    for movie, rep, x in runs:
        if rep == 0:
            first[movie] = x
        elif rep == 1:
            a = first.pop(movie)
            rs.append((a * x).mean(0))  # both are z-scored: the mean product is Pearson's r
    r = np.clip(np.stack(rs), -0.999999, 0.999999)
    z = np.arctanh(r)
    t, p = stats.ttest_1samp(z, 0.0, axis=0, alternative=alternative)
    p = np.nan_to_num(p, nan=1.0)
    selected = np.flatnonzero(p < alpha / r.shape[1])
    return selected, {"r_mean": r.mean(0).astype(np.float32), "t": t.astype(np.float32), "p": p}
