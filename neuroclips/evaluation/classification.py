"""The classifiers of N-way top-1 classification (the protocol itself is
:func:`neuroclips.metrics.classification.n_way_top1`, spec §7.2-§7.3).

A classifier maps uint8 frames (N, H, W, 3) or clips (N, F, H, W, 3) to logits (N, n_classes). The full zoo's would
be ViT-B/16 (ImageNet) and VideoMAE (Kinetics-400); the mini zoo's is a linear head over the mini CLIP's image
embeddings trained on the simulated categories (:func:`train_category_classifier`), applied per frame, or to the
mean embedding of a clip's frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class CategoryClassifier:
    """The mini zoo's classifier: a linear head on L2-normalised CLIP image embeddings."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, classes: list[str], embed):
        self.weight, self.bias, self.classes, self.embed = np.asarray(weight), np.asarray(bias), list(classes), embed

    def frames(self, frames: np.ndarray) -> np.ndarray:
        """Logits (N, n_classes) of uint8 frames (N, H, W, 3)."""
        return np.asarray(self.embed(frames)) @ self.weight.T + self.bias

    def videos(self, clips: np.ndarray) -> np.ndarray:
        """Logits (N, n_classes) of clips (N, F, H, W, 3): the head on the mean frame embedding."""
        clips = np.asarray(clips)
        e = np.asarray(self.embed(clips.reshape(-1, *clips.shape[2:]))).reshape(len(clips), clips.shape[1], -1).mean(1)
        e /= np.linalg.norm(e, axis=1, keepdims=True) + 1e-12
        return e @ self.weight.T + self.bias

    def save(self, path: str | Path, info: dict | None = None) -> None:
        from ..io import atomic_write_json, atomic_write_npz

        path = Path(path)
        atomic_write_npz(path / "classifier.npz", weight=self.weight.astype(np.float32), bias=self.bias.astype(np.float32))
        atomic_write_json(path / "classes.json", {**(info or {}), "classes": self.classes})

    @classmethod
    def load(cls, path: str | Path, embed) -> CategoryClassifier:
        import json

        path = Path(path)
        if not (path / "classifier.npz").exists():
            raise FileNotFoundError(f"no category classifier at {path}; train it with `python -m neuroclips "
                                    "train-classifier`")
        with np.load(path / "classifier.npz") as f:
            return cls(f["weight"], f["bias"], json.loads((path / "classes.json").read_text())["classes"], embed)


def train_category_classifier(subject, embed, out_dir: str | Path | None = None, c: float = 10.0) -> tuple[CategoryClassifier, dict]:
    """Multinomial logistic regression (scikit-learn) from the CLIP embeddings of all 6 GT frames of every
    training clip to the clip's first category; accuracy reported on the test clips' frames."""
    from sklearn.linear_model import LogisticRegression

    from ..training.targets import clip_frames

    def dataset(split):
        frames = np.asarray(clip_frames(subject, split))
        labels = [subject.categories(split, i)[0] for i in range(len(frames))]
        e = np.concatenate([np.asarray(embed(frames[i:i + 200].reshape(-1, *frames.shape[2:])))
                            for i in range(0, len(frames), 200)])
        return e, np.repeat(labels, frames.shape[1])

    x, y = dataset("train")
    model = LogisticRegression(C=c, max_iter=2000).fit(x, y)
    xt, yt = dataset("test")
    seen = np.isin(yt, model.classes_)
    info = {"train_frames": int(len(y)), "n_classes": len(model.classes_), "C": c,
            "train_accuracy": round(float(model.score(x, y)), 4),
            "test_accuracy_seen_classes": round(float(model.score(xt[seen], yt[seen])), 4),
            "test_frames_of_unseen_classes": int((~seen).sum())}
    clf = CategoryClassifier(model.coef_, model.intercept_, [str(k) for k in model.classes_], embed)
    if out_dir is not None:
        clf.save(out_dir, info)
    return clf, info
