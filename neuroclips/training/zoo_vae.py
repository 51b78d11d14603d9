"""Training of the mini zoo's VAE on the simulated training frames (resumable, seeded)."""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..frames import FPS_GT, to_unit

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VAETrainingConfig:
    seed: int = 0
    steps: int = 1200
    batch_size: int = 32
    lr: float = 1e-3
    min_lr: float = 1e-5
    kl_weight: float = 1e-6  # SD's autoencoders keep the KL term tiny: latents stay informative
    checkpoint_every: int = 200
    threads: int = 2


def training_frames(stimuli_config, split: str = "train", fps: int = FPS_GT) -> np.ndarray:
    """All GT frames of a split, uint8 (N, H, W, 3): rendering them takes seconds."""
    from ..simulation.stimuli import MovieRenderer

    r = MovieRenderer(stimuli_config)
    return np.concatenate([r.render_clip(split, i, fps) for i in range(stimuli_config.n_clips(split))])


def _lr(step: int, cfg: VAETrainingConfig) -> float:
    warm = 50
    if step < warm:
        return cfg.lr * (step + 1) / warm
    p = (step - warm) / max(cfg.steps - warm, 1)
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * p))


def train_vae(out_dir: Path, work_dir: Path, frames: np.ndarray, cfg: VAETrainingConfig = VAETrainingConfig(),
              model_config: dict | None = None, resume: bool = False, progress: bool = True) -> dict:
    """Train ``AutoencoderKL`` on ``frames``; checkpoints go to ``work_dir``, the final model to ``out_dir``."""
    import torch
    from diffusers import AutoencoderKL
    from safetensors.torch import load_file, save_file
    from tqdm.auto import tqdm

    from ..io import atomic_path, atomic_write_json
    from ..zoo.mini.configs import vae_config

    torch.set_num_threads(cfg.threads)
    work_dir, out_dir = Path(work_dir), Path(out_dir)
    state_file = work_dir / "state.json"
    torch.manual_seed(cfg.seed)
    vae = AutoencoderKL(**(model_config or vae_config(frames.shape[1])))
    opt = torch.optim.AdamW(vae.parameters(), lr=cfg.lr, weight_decay=0.0)
    start, history = 0, []
    if resume and state_file.exists():
        state = json.loads(state_file.read_text())
        vae.load_state_dict(load_file(work_dir / "model.safetensors"))
        opt.load_state_dict(torch.load(work_dir / "optimizer.pt", weights_only=True))
        start, history = state["step"], state["history"]
        logger.info("resuming VAE training at step %d", start)
    rng = np.random.default_rng([cfg.seed, start])  # the data order after a resume is seeded by the step
    gen = torch.Generator().manual_seed(cfg.seed * 1000 + start)
    t0 = time.perf_counter()
    vae.train()
    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, desc="vae", disable=not progress)
    for step in bar:
        idx = rng.integers(0, len(frames), cfg.batch_size)
        batch = frames[idx]
        flip = rng.random(cfg.batch_size) < 0.5
        batch[flip] = batch[flip, :, ::-1]
        x = to_unit(batch)
        for g in opt.param_groups:
            g["lr"] = _lr(step, cfg)
        post = vae.encode(x).latent_dist
        rec = vae.decode(post.sample(generator=gen)).sample
        mse = torch.mean((rec - x) ** 2)
        loss = mse + torch.mean(torch.abs(rec - x)) + cfg.kl_weight * post.kl().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        psnr = float(10 * torch.log10(4.0 / mse.detach()))  # range [-1, 1] -> peak-to-peak 2
        history.append([step, round(float(loss), 5), round(psnr, 2)])
        bar.set_postfix(loss=f"{float(loss):.4f}", psnr=f"{psnr:.1f}")
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
            work_dir.mkdir(parents=True, exist_ok=True)
            with atomic_path(work_dir / "model.safetensors") as tmp:
                save_file({k: v.contiguous() for k, v in vae.state_dict().items()}, str(tmp))
            with atomic_path(work_dir / "optimizer.pt") as tmp:
                torch.save(opt.state_dict(), tmp)
            atomic_write_json(state_file, {"step": step + 1, "history": history, "config": asdict(cfg)})
    vae.eval()
    scaling = set_scaling_factor(vae, frames, seed=cfg.seed)
    vae.to(torch.float16).save_pretrained(out_dir)  # fp16 on disk keeps files small; loaded as fp32
    info = {"steps": cfg.steps, "seconds_this_run": round(time.perf_counter() - t0, 1), "scaling_factor": scaling,
            "final_train_psnr_db": float(np.mean([h[2] for h in history[-50:]])) if history else None,
            "config": asdict(cfg)}
    atomic_write_json(out_dir / "training.json", info)
    return info


def set_scaling_factor(vae, frames: np.ndarray, n: int = 2048, seed: int = 0) -> float:
    """SD's recipe: scale latents to unit variance, measured on training frames."""
    import torch

    rng = np.random.default_rng(seed)
    with torch.no_grad():
        x = to_unit(frames[rng.choice(len(frames), min(n, len(frames)), replace=False)])
        z = torch.cat([vae.encode(b).latent_dist.mode() for b in x.split(256)])
    scaling = float(1.0 / z.std())
    vae.register_to_config(scaling_factor=scaling)
    return scaling
