"""Contrastive training of the mini zoo's CLIP on simulated keyframe-caption pairs."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class CLIPTrainingConfig:
    seed: int = 0
    steps: int = 1000
    batch_size: int = 128
    lr: float = 5e-4
    weight_decay: float = 0.1
    checkpoint_every: int = 200
    threads: int = 2


def caption_contrastive_loss(img, txt, caption_index, logit_scale):
    """InfoNCE over the *unique* captions of a batch: many clips share a caption, so a plain CLIP loss would
    push apart identical pairs. Image->text is a softmax over the unique captions; text->image gives each
    caption all its images as positives."""
    import torch
    import torch.nn.functional as F

    logits = logit_scale * img @ txt.T  # (B, U)
    loss_i = F.cross_entropy(logits, caption_index)
    pos = F.one_hot(caption_index, txt.shape[0]).T.bool()  # (U, B)
    log_p = logits.T.log_softmax(-1)
    loss_t = -(torch.logsumexp(log_p.masked_fill(~pos, -torch.inf), -1)).mean()
    acc = (logits.argmax(-1) == caption_index).float().mean()
    return (loss_i + loss_t) / 2, acc


def train_clip(out_dir: Path, work_dir: Path, data, tokenizer, cfg: CLIPTrainingConfig = CLIPTrainingConfig(),
               model_config: dict | None = None, resume: bool = False, progress: bool = True) -> dict:
    """Train ``CLIPModel`` on ``data`` (:class:`~neuroclips.training.data.CaptionedFrames`)."""
    import time

    import torch
    from transformers import CLIPConfig, CLIPModel

    from ..io import atomic_write_json
    from ..zoo.clip import _features, pixel_values
    from ..zoo.mini.configs import clip_config
    from .data import shift_augment
    from .loop import LoopConfig, history_summary, run_loop

    torch.manual_seed(cfg.seed)
    model = CLIPModel(CLIPConfig(**(model_config or clip_config(tokenizer, data.frames.shape[1]))))
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.98))
    tokens = tokenizer(data.captions, padding=True, return_tensors="pt")

    def step_fn(step, rng):
        idx = rng.integers(0, len(data.frames), cfg.batch_size)
        x = pixel_values(shift_augment(data.frames[idx], rng))
        uniq, inverse = np.unique(data.caption_index[idx], return_inverse=True)
        img = torch.nn.functional.normalize(_features(model.get_image_features(pixel_values=x)), dim=-1)
        txt = torch.nn.functional.normalize(_features(model.get_text_features(
            input_ids=tokens.input_ids[uniq], attention_mask=tokens.attention_mask[uniq])), dim=-1)
        scale = model.logit_scale.clamp(max=np.log(100)).exp()
        loss, acc = caption_contrastive_loss(img, txt, torch.as_tensor(inverse), scale)
        return loss, {"batch_acc": acc, "scale": scale.detach()}

    loop = LoopConfig(steps=cfg.steps, lr=cfg.lr, seed=cfg.seed, checkpoint_every=cfg.checkpoint_every,
                      threads=cfg.threads)
    t0 = time.perf_counter()
    result = run_loop("clip", model, opt, step_fn, loop, work_dir, resume, progress)
    model.to(torch.float16).save_pretrained(out_dir)  # fp16 on disk; loaded as fp32
    info = {"steps": cfg.steps, "seconds_this_run": round(time.perf_counter() - t0, 1),
            "resumed_from": result["resumed_from"], "n_pairs": int(len(data.frames)),
            "n_captions": len(data.captions), "final": history_summary(result["history"], result["metrics"]),
            "config": asdict(cfg)}
    atomic_write_json(Path(out_dir) / "training.json", info)
    return info
