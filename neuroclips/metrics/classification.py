"""N-way top-1 classification, MinD-Video's protocol (spec §7.2-§7.3), with pluggable classifiers (pure: the classifiers themselves are in :mod:`neuroclips.evaluation.classification`).

Per (GT, prediction) pair: the GT classes are the classifier's top-3 on the GT; each of 100 trials draws
N−1 distractor classes (excluding those 3); the trial succeeds if for any GT class the prediction's
probability of it beats every distractor's. Accuracy = successes / trials; the error is the binomial SD.

Classifiers map uint8 frames (N, H, W, 3) (frame classifier) or clips (N, F, H, W, 3) (video classifier) to
logits (N, n_classes). The full zoo's are ViT-B/16 (ImageNet) and VideoMAE (Kinetics-400); the mini zoo's is
a linear head over the mini CLIP's image embeddings trained on the simulated categories
(:func:`neuroclips.evaluation.classification.train_category_classifier`), applied per frame, or to the mean embedding of a clip's frames.
"""

from __future__ import annotations

import numpy as np


def n_way_top1(gt_logits, pred_logits, n_way: int, trials: int = 100, top_k: int = 3, seed: int = 0) -> dict:
    """Mean accuracy and binomial SD over pairs. ``gt_logits``/``pred_logits``: (N, n_classes)."""
    gt, pred = np.asarray(gt_logits, np.float64), np.asarray(pred_logits, np.float64)
    if gt.shape != pred.shape or gt.ndim != 2:
        raise ValueError(f"logits must both be (N, n_classes), got {gt.shape} and {pred.shape}")
    n_classes = gt.shape[1]
    if not 2 <= n_way <= n_classes - top_k + 1:
        raise ValueError(f"{n_way}-way needs {n_way - 1} distractors outside the GT's top-{top_k}, but there are "
                         f"{n_classes} classes")
    p = np.exp(pred - pred.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    rng = np.random.default_rng(seed)
    acc = []
    for g, q in zip(gt, p):
        gt_classes = np.argsort(g)[::-1][:top_k]
        pool = np.setdiff1d(np.arange(n_classes), gt_classes)
        wins = 0
        for _ in range(trials):
            d = rng.choice(pool, n_way - 1, replace=False)
            wins += bool(np.any(q[gt_classes] > q[d].max()))
        acc.append(wins / trials)
    acc = np.asarray(acc)
    return {"accuracy": float(acc.mean()), "sd": float(np.sqrt(acc * (1 - acc) / trials).mean()), "pairs": len(acc),
            "per_pair": acc}
