"""Frame metrics: SSIM (scikit-image) in the two variants the literature uses, PSNR, PixCorr (spec §7.2, §2.5).

Frames are compared at their native resolution (the simulated world's 64 px; cc2017's 224 px) unless the
caller resizes them; the reference's PixCorr resizes to 425 px first, which only interpolates here.
"""

from __future__ import annotations

import numpy as np


def _as_float(frames) -> np.ndarray:
    x = np.asarray(frames)
    return x.astype(np.float64) / 255.0 if x.dtype == np.uint8 else x.astype(np.float64)


def ssim(pred, target, variant: str = "mindeye") -> float:
    """Mean SSIM over frames (N, H, W, 3). ``"mindeye"``: grayscale, Gaussian window σ 1.5, population
    covariance, data range 1 (MindEye's evaluation); ``"mindvideo"``: RGB uint8, 7x7 uniform window
    (MinD-Video's)."""
    from skimage.color import rgb2gray
    from skimage.metrics import structural_similarity

    p, t = np.asarray(pred), np.asarray(target)
    if p.shape != t.shape:
        raise ValueError(f"SSIM needs frames of one shape, got {p.shape} and {t.shape}")
    if variant == "mindeye":
        p, t = rgb2gray(_as_float(p)), rgb2gray(_as_float(t))
        return float(np.mean([structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                                    data_range=1.0) for a, b in zip(p, t)]))
    if variant == "mindvideo":
        p = np.clip(_as_float(p) * 255, 0, 255).round().astype(np.uint8)
        t = np.clip(_as_float(t) * 255, 0, 255).round().astype(np.uint8)
        return float(np.mean([structural_similarity(a, b, data_range=255, channel_axis=-1, win_size=7)
                              for a, b in zip(p, t)]))
    raise ValueError(f"SSIM variant must be 'mindeye' or 'mindvideo', got {variant!r}")


def psnr(pred, target) -> float:
    """Mean PSNR (dB) over frames; identical frames give +inf."""
    from skimage.metrics import peak_signal_noise_ratio

    p, t = _as_float(pred), _as_float(target)
    vals = [np.inf if np.array_equal(a, b) else peak_signal_noise_ratio(b, a, data_range=1.0) for a, b in zip(p, t)]
    return float(np.mean(vals))


def pixcorr(pred, target) -> float:
    """Mean per-frame Pearson r of the flattened pixels (MindEye's PixCorr; NaNs of flat frames ignored)."""
    p = _as_float(pred).reshape(len(pred), -1)
    t = _as_float(target).reshape(len(target), -1)
    p = p - p.mean(1, keepdims=True)
    t = t - t.mean(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (p * t).sum(1) / np.sqrt((p ** 2).sum(1) * (t ** 2).sum(1))
    return float(np.nanmean(r))
