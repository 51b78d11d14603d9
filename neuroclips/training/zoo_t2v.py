"""Training of the mini zoo's text-to-video model: spatial UNet + motion modules + SparseCtrl RGB, jointly,
on the simulated 16-frame 8-FPS clips (the full zoo gets these from SD 1.5, AnimateDiff v3 and SparseCtrl)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class T2VTrainingConfig:
    seed: int = 0
    steps: int = 1500
    batch_size: int = 4  # clips of 16 frames
    lr: float = 3e-4
    text_drop_prob: float = 0.1  # half to "", half to the negative prompt: both act as the unconditional input
    extra_keyframe_prob: float = 0.25  # sometimes condition on more frames than frame 0, as SparseCtrl trains
    checkpoint_every: int = 250
    threads: int = 2


def encode_videos(vae, clips: np.ndarray, batch: int = 256):
    """Scaled VAE latents of uint8 clips (N, F, H, W, 3) -> (N, 4, F, h, w), the pipelines' ``b c f h w``."""
    import torch

    from ..frames import to_unit

    n, f = clips.shape[:2]
    flat = clips.reshape(n * f, *clips.shape[2:])
    out = []
    with torch.no_grad():
        for i in range(0, len(flat), batch):
            out.append(vae.encode(to_unit(np.ascontiguousarray(flat[i : i + batch]))).latent_dist.mode())
    z = torch.cat(out) * vae.config.scaling_factor
    return z.reshape(n, f, *z.shape[1:]).permute(0, 2, 1, 3, 4).contiguous()


def prompt_embeddings(text_encoder, tokenizer, prompts: list[str]):
    """``last_hidden_state`` of the padded prompts (N, 77, width), as the pipelines' ``encode_prompt`` gives."""
    import torch

    ids = tokenizer(prompts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                    return_tensors="pt").input_ids
    with torch.no_grad():
        return torch.cat([text_encoder(ids[i : i + 64])[0] for i in range(0, len(ids), 64)])


def train_t2v(out_dir: Path, work_dir: Path, clips: np.ndarray, captions: list[str], vae, text_encoder, tokenizer,
              cfg: T2VTrainingConfig = T2VTrainingConfig(), model_configs: dict | None = None, resume: bool = False,
              progress: bool = True) -> dict:
    """Train on uint8 ``clips`` (N, 16, H, W, 3) with one caption each; save ``unet``, ``motion_adapter``,
    ``controlnet`` and ``scheduler`` folders under ``out_dir``."""
    import time

    import torch
    import torch.nn.functional as F
    from diffusers import (DDIMScheduler, DDPMScheduler, MotionAdapter, SparseControlNetModel,
                           UNet2DConditionModel, UNetMotionModel)

    from ..io import atomic_path, atomic_write_json
    from ..pipeline.prompts import NEGATIVE_PROMPT, video_prompt
    from ..zoo.mini.configs import ddim_config, sd_scheduler_config, t2v_configs
    from .loop import LoopConfig, history_summary, run_loop

    t0 = time.perf_counter()
    torch.set_num_threads(cfg.threads)
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    cache = work_dir / "latents.pt"
    latents = torch.load(cache, weights_only=True) if cache.exists() else None
    if latents is None or latents.shape[0] != len(clips):
        latents = encode_videos(vae, clips)
        with atomic_path(cache) as tmp:
            torch.save(latents, tmp)
    uniq = sorted(set(captions))
    caption_index = torch.as_tensor([uniq.index(c) for c in captions])
    text = prompt_embeddings(text_encoder, tokenizer, [video_prompt(c) for c in uniq] + ["", NEGATIVE_PROMPT])
    encode_s = time.perf_counter() - t0

    configs = model_configs or t2v_configs(text.shape[-1], latents.shape[-1])
    torch.manual_seed(cfg.seed)
    unet = UNetMotionModel.from_unet2d(UNet2DConditionModel(**configs["unet"]), MotionAdapter(**configs["motion_adapter"]))
    model = torch.nn.ModuleDict({"unet": unet, "controlnet": SparseControlNetModel(**configs["controlnet"])})
    noise_scheduler = DDPMScheduler(**sd_scheduler_config())
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-2)
    n_frames = latents.shape[2]

    def step_fn(step, rng):
        b = cfg.batch_size
        idx = torch.as_tensor(rng.integers(0, len(latents), b))
        x0 = latents[idx]
        noise = torch.randn_like(x0)
        t = torch.randint(0, noise_scheduler.config.num_train_timesteps, (b,))
        noisy = noise_scheduler.add_noise(x0, noise, t)  # broadcasts over (c, f, h, w)
        prompts = caption_index[idx].clone()
        drop = rng.random(b)
        prompts[torch.as_tensor(drop < cfg.text_drop_prob / 2)] = len(uniq)  # ""
        prompts[torch.as_tensor((drop >= cfg.text_drop_prob / 2) & (drop < cfg.text_drop_prob))] = len(uniq) + 1
        context = text[prompts].repeat_interleave(n_frames, dim=0)  # per frame, as the pipeline passes it
        mask = torch.zeros(b, 1, n_frames, *x0.shape[-2:])
        mask[:, :, 0] = 1  # NeuroClips conditions on the keyframe at index 0 (spec §5.2)
        for r in np.flatnonzero(rng.random(b) < cfg.extra_keyframe_prob):
            mask[r, :, rng.integers(1, n_frames)] = 1
        down, mid = model["controlnet"](noisy, t, encoder_hidden_states=context, controlnet_cond=x0 * mask,
                                        conditioning_mask=mask, return_dict=False)
        pred = model["unet"](noisy, t, encoder_hidden_states=context, down_block_additional_residuals=down,
                             mid_block_additional_residual=mid).sample
        return F.mse_loss(pred, noise), {}

    loop = LoopConfig(steps=cfg.steps, lr=cfg.lr, seed=cfg.seed, checkpoint_every=cfg.checkpoint_every,
                      threads=cfg.threads)
    result = run_loop("t2v", model, opt, step_fn, loop, work_dir, resume, progress)
    save_t2v(Path(out_dir), model["unet"], model["controlnet"], configs)
    DDIMScheduler(**ddim_config()).save_pretrained(Path(out_dir) / "scheduler")
    info = {"steps": cfg.steps, "seconds_this_run": round(time.perf_counter() - t0, 1),
            "encoding_seconds": round(encode_s, 1), "resumed_from": result["resumed_from"], "n_clips": len(clips),
            "final": history_summary(result["history"], result["metrics"]), "config": asdict(cfg)}
    atomic_write_json(Path(out_dir) / "training.json", info)
    return info


def save_t2v(out_dir: Path, unet_motion, controlnet, configs: dict) -> None:
    """Split the trained ``UNetMotionModel`` into the full zoo's layout: spatial ``unet/`` + ``motion_adapter/``."""
    import torch
    from diffusers import MotionAdapter, UNet2DConditionModel

    state = unet_motion.state_dict()
    spatial = UNet2DConditionModel(**configs["unet"])
    spatial.load_state_dict({k: v for k, v in state.items() if "motion_modules" not in k}, strict=True)
    adapter = MotionAdapter(**configs["motion_adapter"])
    adapter.load_state_dict({k: v for k, v in state.items() if "motion_modules" in k}, strict=True)
    for name, module in (("unet", spatial), ("motion_adapter", adapter), ("controlnet", controlnet)):
        module.to(torch.float16).save_pretrained(out_dir / name)
