"""Training of the mini zoo's keyframe generator (unCLIP): latent diffusion conditioned on CLIP image tokens."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class KeyframeTrainingConfig:
    seed: int = 0
    steps: int = 3000
    batch_size: int = 64
    lr: float = 3e-4
    cond_drop_prob: float = 0.1  # classifier-free guidance: zero tokens, as sgm's ucg_rate does
    checkpoint_every: int = 250
    threads: int = 2


def encode_frames(vae, clip_vision, frames: np.ndarray, batch: int = 256):
    """Scaled VAE latents (posterior mode) and CLIP image tokens (fp16) of uint8 frames (N, H, W, 3)."""
    import torch

    from ..zoo.clip import image_tokens, pixel_values
    from ..frames import to_unit

    lat, tok = [], []
    size = clip_vision.config.image_size
    with torch.no_grad():
        for i in range(0, len(frames), batch):
            f = np.ascontiguousarray(frames[i : i + batch])
            lat.append(vae.encode(to_unit(f)).latent_dist.mode() * vae.config.scaling_factor)
            tok.append(image_tokens(clip_vision, pixel_values(f, size)).half())
    return torch.cat(lat), torch.cat(tok)


def _cached_encodings(work_dir: Path, vae, clip_vision, frames: np.ndarray):
    import torch

    path = Path(work_dir) / "encodings.pt"
    if path.exists():
        enc = torch.load(path, weights_only=True)
        if enc["latents"].shape[0] == len(frames):
            return enc["latents"], enc["tokens"]
    from ..io import atomic_path

    latents, tokens = encode_frames(vae, clip_vision, frames)
    with atomic_path(path) as tmp:
        torch.save({"latents": latents, "tokens": tokens}, tmp)
    return latents, tokens


def train_keyframe(out_dir: Path, work_dir: Path, frames: np.ndarray, vae, clip_vision,
                   cfg: KeyframeTrainingConfig = KeyframeTrainingConfig(), model_config: dict | None = None,
                   resume: bool = False, progress: bool = True) -> dict:
    """Train the unCLIP UNet on uint8 ``frames`` (N, H, W, 3) encoded by the zoo's ``vae`` and CLIP tower."""
    import time

    import torch
    import torch.nn.functional as F
    from diffusers import DDIMScheduler, DDPMScheduler, UNet2DConditionModel

    from ..io import atomic_write_json
    from ..zoo.mini.configs import ddim_config, keyframe_unet_config, sd_scheduler_config
    from .loop import LoopConfig, history_summary, run_loop

    t0 = time.perf_counter()
    torch.set_num_threads(cfg.threads)
    Path(work_dir).mkdir(parents=True, exist_ok=True)
    latents, tokens = _cached_encodings(work_dir, vae, clip_vision, frames)
    encode_s = time.perf_counter() - t0
    torch.manual_seed(cfg.seed)
    unet = UNet2DConditionModel(**(model_config or keyframe_unet_config(tokens.shape[-1], latents.shape[-1])))
    noise_scheduler = DDPMScheduler(**sd_scheduler_config())
    opt = torch.optim.AdamW(unet.parameters(), lr=cfg.lr, weight_decay=1e-2)

    def step_fn(step, rng):
        idx = torch.as_tensor(rng.integers(0, len(latents), cfg.batch_size))
        x0, cond = latents[idx], tokens[idx].float()
        drop = torch.as_tensor(rng.random(cfg.batch_size) < cfg.cond_drop_prob)
        cond = torch.where(drop[:, None, None], torch.zeros_like(cond), cond)
        noise = torch.randn_like(x0)
        t = torch.randint(0, noise_scheduler.config.num_train_timesteps, (cfg.batch_size,))
        pred = unet(noise_scheduler.add_noise(x0, noise, t), t, encoder_hidden_states=cond).sample
        return F.mse_loss(pred, noise), {}

    loop = LoopConfig(steps=cfg.steps, lr=cfg.lr, seed=cfg.seed, checkpoint_every=cfg.checkpoint_every,
                      threads=cfg.threads)
    result = run_loop("keyframe", unet, opt, step_fn, loop, work_dir, resume, progress)
    out_dir = Path(out_dir)
    unet.to(torch.float16).save_pretrained(out_dir / "unet")
    DDIMScheduler(**ddim_config()).save_pretrained(out_dir / "scheduler")
    info = {"steps": cfg.steps, "seconds_this_run": round(time.perf_counter() - t0, 1),
            "encoding_seconds": round(encode_s, 1), "resumed_from": result["resumed_from"],
            "n_frames": int(len(frames)), "final": history_summary(result["history"], result["metrics"]),
            "config": asdict(cfg)}
    atomic_write_json(out_dir / "training.json", info)
    return info
