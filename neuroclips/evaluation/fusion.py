"""Multi-fMRI fusion's decisions on reconstructed keyframes (``evaluate-fusion``, spec §6)."""

from __future__ import annotations

import numpy as np

from ..frames import KEYFRAME_INDEX
from ..training.fusion import category_labels, balanced_accuracy
from ..training.targets import clip_frames


def evaluate_on_reconstructions(pipe, subject, n_clips: int = 120, seed: int = 0) -> dict:
    """Fusion's decision on neighbouring *reconstructed* keyframes of the first ``n_clips`` test clips (what the
    pipeline judges), beside the same pairs' GT keyframes: balanced accuracy against the category labels."""
    categories, movies = category_labels(subject, "test")
    idx = np.arange(min(n_clips, len(categories)))
    fmri = subject.fmri("test", idx)
    settings = pipe.settings(seed=seed)
    keyframes = [pipe.reconstruct_keyframe(pipe.check_inputs(f), settings) for f in fmri]

    gt = np.asarray(clip_frames(subject, "test")[idx, KEYFRAME_INDEX])
    pairs = np.flatnonzero(movies[idx][:-1] == movies[idx][1:])
    same = np.array([bool(set(categories[i]) & set(categories[i + 1])) for i in pairs])
    out = {"clips": int(len(idx)), "neighbour_pairs": int(len(pairs)), "same_rate": round(float(same.mean()), 4)}
    for name, images in (("reconstructed", np.stack(keyframes)), ("gt", gt)):
        e = pipe.embed_images(images).cpu()
        for method in ("classifier", "cosine"):
            pred, _ = pipe.fusion_classifier.same_class(e[pairs], e[pairs + 1], method)
            pred = pred.numpy()
            out[f"{name}_{method}_balanced_accuracy"] = round(balanced_accuracy(pred, same), 4)
            out[f"{name}_{method}_fuse_rate"] = round(float(pred.mean()), 4)
    return out
