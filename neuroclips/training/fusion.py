"""Training the keyframe-similarity classifier of multi-fMRI fusion (spec §6) on training-clip categories.

Pairs are neighbouring training clips (what fusion will judge) plus as many random pairs; a pair is
"same class" when the two clips' category sets intersect. Inputs are the zoo CLIP's embeddings of the GT
keyframes (frame 2 at 3 FPS): reconstructed keyframes of training clips would need one unCLIP run each,
so the domain gap to reconstructed keyframes is measured instead (``evaluate_fusion``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..frames import KEYFRAME_INDEX



@dataclass
class FusionTrainingConfig:
    steps: int = 1500
    batch_size: int = 512
    lr: float = 1e-3
    weight_decay: float = 1e-2
    hidden_dim: int = 64
    seed: int = 0


def category_pairs(categories: list[tuple[str, ...]], movies: np.ndarray, rng: np.random.Generator,
                   random_per_neighbour: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, same) for neighbouring clips of one movie and random pairs; same = the category sets intersect."""
    n = len(categories)
    i = np.flatnonzero(movies[:-1] == movies[1:])
    j = i + 1
    k = int(len(i) * random_per_neighbour)
    ri, rj = rng.integers(0, n, k), rng.integers(0, n, k)
    keep = ri != rj
    i, j = np.concatenate([i, ri[keep]]), np.concatenate([j, rj[keep]])
    same = np.array([bool(set(categories[a]) & set(categories[b])) for a, b in zip(i, j)])
    return i, j, same


def keyframe_embeddings(subject, clip_model, split: str) -> np.ndarray:
    """CLIP image embeddings (N, D) of every clip's GT keyframe."""
    from ..zoo.clip import image_embeds
    from .targets import clip_frames

    frames = clip_frames(subject, split)
    return image_embeds(clip_model, np.asarray(frames[:, KEYFRAME_INDEX])).numpy()


def category_labels(subject, split: str):
    n = subject.num_clips(split)
    return ([subject.categories(split, c) for c in range(n)],
            np.array([subject.movie_position(split, c)[0] for c in range(n)]))


def balanced_accuracy(pred: np.ndarray, same: np.ndarray) -> float:
    return float(0.5 * ((pred[same]).mean() + (~pred[~same]).mean()))


def best_cosine_threshold(cos: np.ndarray, same: np.ndarray) -> float:
    grid = np.linspace(-1, 1, 401)
    return float(grid[np.argmax([balanced_accuracy(cos >= g, same) for g in grid])])


def train_fusion(subject, clip_model, out_dir: Path, cfg: FusionTrainingConfig = FusionTrainingConfig()) -> dict:
    """Train on a subject's training clips, pick the thresholds there, report held-out test pairs, save."""
    import torch

    from ..models.fusion import KeyframeSimilarityClassifier
    from .reconstructors import _save

    rng = np.random.default_rng(cfg.seed)
    torch.manual_seed(cfg.seed)
    emb = torch.from_numpy(keyframe_embeddings(subject, clip_model, "train"))
    i, j, same = category_pairs(*category_labels(subject, "train"), rng)
    a, b, y = emb[i], emb[j], torch.from_numpy(same).float()
    model = KeyframeSimilarityClassifier(emb.shape[1], cfg.hidden_dim)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    for _ in range(cfg.steps):
        idx = torch.from_numpy(rng.integers(0, len(y), cfg.batch_size))
        flip = torch.rand(len(idx)) < 0.5  # the pair features are symmetric; this only shuffles the batch
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            model(torch.where(flip[:, None], b[idx], a[idx]), torch.where(flip[:, None], a[idx], b[idx])), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    cos_train = (torch.nn.functional.normalize(a, dim=-1) * torch.nn.functional.normalize(b, dim=-1)).sum(-1).numpy()
    model.register_to_config(cosine_threshold=round(best_cosine_threshold(cos_train, same), 3))
    info = {"config": asdict(cfg), "train_pairs": int(len(y)), "train_same_rate": round(float(same.mean()), 4),
            "final_loss": round(float(loss), 4), "test": evaluate_pairs(model, subject, clip_model, "test")}
    _save(model, Path(out_dir), info)
    return info


def evaluate_pairs(model, subject, clip_model, split: str = "test", embeddings: np.ndarray | None = None,
                   seed: int = 1) -> dict:
    """Balanced accuracy of the classifier and of the cosine threshold on a split's pairs (GT keyframes unless
    ``embeddings`` of, e.g., reconstructed keyframes are given)."""
    import torch

    emb = torch.from_numpy(embeddings if embeddings is not None else keyframe_embeddings(subject, clip_model, split))
    categories, movies = category_labels(subject, split)
    i, j, same = category_pairs(categories, movies, np.random.default_rng(seed))
    out = {"pairs": int(len(same)), "same_rate": round(float(same.mean()), 4)}
    for method in ("classifier", "cosine"):
        pred, _ = model.same_class(emb[i], emb[j], method)
        out[f"{method}_balanced_accuracy"] = round(balanced_accuracy(pred.numpy(), same), 4)
    neighbours = np.arange(int((movies[:-1] == movies[1:]).sum()))  # category_pairs lists them first
    pred, _ = model.same_class(emb[i[neighbours]], emb[j[neighbours]])
    out["neighbours_classifier_balanced_accuracy"] = round(balanced_accuracy(pred.numpy(), same[neighbours]), 4)
    return out
