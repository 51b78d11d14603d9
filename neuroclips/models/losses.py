"""Losses of both reconstructors, as the reference computes them (spec §2.4, §3.3)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def soft_cont_loss(student: torch.Tensor, teacher: torch.Tensor, teacher_aug: torch.Tensor, temp: float = 0.2):
    """PR's soft contrastive loss (MindEye2's "blurry contrastive", spec §2.4): the student's similarities to the
    augmented teacher are trained towards the teacher's own. All inputs L2-normalised, (N, D)."""
    tt = teacher @ teacher_aug.T / temp
    st = student @ teacher_aug.T / temp
    loss1 = -(st.log_softmax(-1) * tt.softmax(-1)).sum(-1).mean()
    loss2 = -(st.T.log_softmax(-1) * tt.T.softmax(-1)).sum(-1).mean()
    return (loss1 + loss2) / 2


def soft_clip_loss(preds: torch.Tensor, targets: torch.Tensor, temp: float):
    """SoftCLIP (spec §3.3): soft targets softmax(C·Cᵀ/τ), both directions. Inputs L2-normalised (N, D)."""
    tt = targets @ targets.T / temp
    pt = preds @ targets.T / temp
    loss1 = -(pt.log_softmax(-1) * tt.softmax(-1)).sum(-1).mean()
    loss2 = -(pt.T.log_softmax(-1) * tt.softmax(-1)).sum(-1).mean()
    return (loss1 + loss2) / 2


def mixco(voxels: torch.Tensor, rng: np.random.Generator, beta: float = 0.15, s_thresh: float = 0.5):
    """MixCo on voxels (spec §3.3): each sample mixed with a random partner with probability ``s_thresh``,
    λ ~ Beta(β, β); unmixed samples get λ = 1. Returns (mixed voxels, perm, λ, select)."""
    n = len(voxels)
    perm = torch.as_tensor(rng.permutation(n), device=voxels.device)
    lam = torch.as_tensor(rng.beta(beta, beta, n), device=voxels.device, dtype=voxels.dtype)
    select = torch.as_tensor(rng.random(n) <= s_thresh, device=voxels.device)
    shape = (-1,) + (1,) * (voxels.ndim - 1)
    mixed = torch.where(select.view(shape), voxels * lam.view(shape) + voxels[perm] * (1 - lam.view(shape)), voxels)
    lam = torch.where(select, lam, torch.ones_like(lam))
    return mixed, perm, lam, select


def mixco_nce(preds: torch.Tensor, targets: torch.Tensor, temp: float = 0.1, perm=None, betas=None,
              bidirectional: bool = True):
    """BiMixCo (soft targets λ on the diagonal, 1-λ at the partner) or, without ``perm``, symmetric InfoNCE with
    hard labels (the Reftm loss, τ = 0.1). Inputs L2-normalised (N, D)."""
    logits = preds @ targets.T / temp
    if perm is None:
        labels = torch.arange(len(logits), device=logits.device)
        loss = F.cross_entropy(logits, labels)
        return (loss + F.cross_entropy(logits.T, labels)) / 2 if bidirectional else loss
    probs = torch.diag(betas)
    probs[torch.arange(len(preds), device=preds.device), perm] = 1 - betas  # assignment, as the reference
    loss = -(logits.log_softmax(-1) * probs).sum(-1).mean()
    if bidirectional:
        loss = (loss - (logits.T.log_softmax(-1) * probs.T).sum(-1).mean()) / 2
    return loss


def cosine_anneal(start: float, end: float, steps: int) -> torch.Tensor:
    """The reference's SoftCLIP temperature schedule: start -> end along a half cosine (spec §3.3)."""
    return end + (start - end) / 2 * (1 + torch.cos(torch.pi * torch.arange(steps) / max(steps - 1, 1)))
