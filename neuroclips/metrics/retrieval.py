"""Keyframe and fMRI retrieval, top-1 among N (spec §7.4)."""

from __future__ import annotations

import numpy as np


def retrieval_top1(brain, images, n_way: int = 300, split: str = "consecutive", seeds=(0,)) -> dict[str, float]:
    """Top-1 retrieval among ``n_way`` candidates, averaged over folds of ``n_way`` pairs.

    ``brain`` and ``images``: (N, ...) paired embeddings, flattened and L2-normalised here. Keyframe retrieval:
    each fMRI picks its image among the fold's; fMRI retrieval: the reverse. ``split="consecutive"`` uses
    consecutive folds (the reference's validation); ``"random"`` averages random folds over ``seeds`` (the
    paper's protocol). Chance is 1/n_way.
    """
    b = np.asarray(brain, np.float64).reshape(len(brain), -1)
    im = np.asarray(images, np.float64).reshape(len(images), -1)
    if len(b) != len(im):
        raise ValueError(f"{len(b)} brain embeddings but {len(im)} images")
    if len(b) < n_way:
        raise ValueError(f"{n_way}-way retrieval needs at least {n_way} pairs, got {len(b)}")
    b /= np.linalg.norm(b, axis=1, keepdims=True) + 1e-12
    im /= np.linalg.norm(im, axis=1, keepdims=True) + 1e-12
    orders = [np.arange(len(b))] if split == "consecutive" else [np.random.default_rng(s).permutation(len(b)) for s in seeds]
    if split not in ("consecutive", "random"):
        raise ValueError(f"split must be 'consecutive' or 'random', got {split!r}")
    kf, fm = [], []
    for order in orders:
        for i in range(0, len(order) - n_way + 1, n_way):
            idx = order[i:i + n_way]
            sim = b[idx] @ im[idx].T
            kf.append(np.mean(sim.argmax(1) == np.arange(n_way)))
            fm.append(np.mean(sim.argmax(0) == np.arange(n_way)))
    return {"keyframe": float(np.mean(kf)), "fmri": float(np.mean(fm)), "chance": 1.0 / n_way, "folds": len(kf)}


def retrieval_rank(brain, images, index: int) -> int:
    """Rank (1 = best) of image ``index`` among ``images`` by cosine similarity to ``brain[index]``: where one
    clip's true keyframe falls among its fold's candidates (keyframe retrieval for a single clip)."""
    b = np.asarray(brain, np.float64).reshape(len(brain), -1)
    im = np.asarray(images, np.float64).reshape(len(images), -1)
    if len(b) != len(im) or not 0 <= index < len(b):
        raise ValueError(f"index {index} out of range for {len(b)} brain embeddings and {len(im)} images")
    im /= np.linalg.norm(im, axis=1, keepdims=True) + 1e-12
    sim = im @ b[index]
    return int((sim > sim[index]).sum()) + 1
