"""One resumable, seeded training loop for every component of the mini zoo.

A component gives a module (several parts go in an ``nn.ModuleDict``), an optimiser and a ``step_fn``
that draws its own batch from a step-seeded generator and returns the loss and metrics to log. The loop
owns the learning-rate schedule, gradient clipping, progress bar and checkpoints (model, optimiser and
history in ``work_dir``, written atomically), so a killed run resumes where its last checkpoint left it.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoopConfig:
    steps: int
    lr: float
    min_lr: float = 1e-5
    warmup: int = 50
    seed: int = 0
    checkpoint_every: int = 200
    grad_clip: float | None = 1.0
    threads: int = 2


def cosine_lr(step: int, cfg: LoopConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    p = (step - cfg.warmup) / max(cfg.steps - cfg.warmup, 1)
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * p))


def run_loop(name: str, model, opt, step_fn: Callable, cfg: LoopConfig, work_dir: Path, resume: bool = False,
             progress: bool = True, extra_state: dict | None = None, accelerator=None,
             validate: Callable[[], dict] | None = None, select: str | None = None) -> dict:
    """Run ``step_fn(step, rng) -> (loss, {metric: float})`` from step 0 (or the last checkpoint) to ``cfg.steps``.

    ``accelerator`` (an ``accelerate.Accelerator``) handles backward passes and mixed precision on GPUs.
    ``validate() -> {metric: float}`` runs at every checkpoint; the weights with the highest ``select`` metric
    are kept in ``best.safetensors`` (model selection on a validation split, never on the test set).
    Returns ``{"history": [[step, loss, *metrics]], "metrics": names, "validation": [[step, {..}]], "best": ..,
    "seconds_this_run", "resumed_from"}``.
    """
    import torch
    from safetensors.torch import load_model, save_model
    from tqdm.auto import tqdm

    from ..io import atomic_path, atomic_write_json

    torch.set_num_threads(cfg.threads)
    work_dir = Path(work_dir)
    state_file = work_dir / "state.json"
    start, history, names, validation, best = 0, [], None, [], None
    if resume and state_file.exists():
        state = json.loads(state_file.read_text())
        load_model(model, work_dir / "model.safetensors")  # handles tied weights
        opt.load_state_dict(torch.load(work_dir / "optimizer.pt", weights_only=True))
        start, history, names = state["step"], state["history"], state.get("metrics")
        validation, best = state.get("validation", []), state.get("best")
        logger.info("resuming %s training at step %d", name, start)
    elif resume:
        logger.info("no checkpoint of %s in %s; starting from scratch", name, work_dir)
    # The batch order after a resume is seeded by the step, so a resumed run sees fresh, reproducible batches.
    rng = np.random.default_rng([cfg.seed, start])
    torch.manual_seed(cfg.seed * 100_003 + start)
    t0 = time.perf_counter()
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, desc=name, disable=not progress)
    for step in bar:
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, cfg) * g.get("lr_scale", 1.0)
        loss, metrics = step_fn(step, rng)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{name}: loss is {float(loss)} at step {step}; lower the learning rate")
        opt.zero_grad(set_to_none=True)
        if accelerator is not None:
            accelerator.backward(loss)
            if cfg.grad_clip:
                accelerator.clip_grad_norm_(params, cfg.grad_clip)
        else:
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        names = names or list(metrics)
        history.append([step, round(float(loss.detach()), 5), *[round(float(metrics[k]), 4) for k in names]])
        bar.set_postfix(loss=f"{float(loss.detach()):.4f}", **{k: f"{float(v):.3g}" for k, v in metrics.items()})
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
            work_dir.mkdir(parents=True, exist_ok=True)
            with atomic_path(work_dir / "model.safetensors") as tmp:
                save_model(model, str(tmp))
            with atomic_path(work_dir / "optimizer.pt") as tmp:
                torch.save(opt.state_dict(), tmp)
            if validate is not None:
                model.eval()
                with torch.no_grad():
                    val = {k: round(float(v), 5) for k, v in validate().items()}
                model.train()
                validation.append([step + 1, val])
                logger.info("%s step %d validation: %s", name, step + 1, val)
                if select and (best is None or val[select] > best["metrics"][select]):
                    best = {"step": step + 1, "metrics": val}
                    with atomic_path(work_dir / "best.safetensors") as tmp:
                        save_model(model, str(tmp))
            atomic_write_json(state_file, {"step": step + 1, "history": history, "metrics": names,
                                           "validation": validation, "best": best, **(extra_state or {})})
    model.eval()
    return {"history": history, "metrics": names or [], "validation": validation, "best": best,
            "seconds_this_run": round(time.perf_counter() - t0, 1), "resumed_from": start}


def history_summary(history: list, metrics: list[str], last: int = 50) -> dict:
    """Mean loss and metrics over the last ``last`` logged steps."""
    if not history:
        return {}
    tail = np.asarray(history[-last:], dtype=float)
    return {"loss": round(float(tail[:, 1].mean()), 4),
            **{k: round(float(tail[:, 2 + i].mean()), 4) for i, k in enumerate(metrics)}}
