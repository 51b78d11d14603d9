"""Training of the Perception and Semantics Reconstructors (spec §2.4-2.5, §3.3-3.4).

Defaults follow the reference where a 2-core machine allows it (losses, temperatures, loss weights, batch
order, repetition = epoch mod 2, keyframe index 2 + epoch mod 2, weight decay 0.01 on everything), and the
step counts and learning rates are the mini world's. Model selection uses a validation split held out from
the *training* movies (the last one), not the test set the reference selected on (spec §10.1-10).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..frames import to_uint8
from .loop import LoopConfig, history_summary, run_loop

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PerceptionTrainingConfig:
    steps: int = 1200
    batch_clips: int = 20  # consecutive clips, unshuffled (spec §2.5); the reference's 40 halved for 2 cores
    aug_views: int = 2  # augmented teacher views drawn once per frame (see targets.teacher_aug_bank)
    lr: float = 1e-3
    weight_decay: float = 0.01
    blur_scale: float = 0.5  # L_PR = 0.5 (L1 + 0.1 L_cont), spec §2.4
    cont_scale: float = 0.1
    cont_temp: float = 0.2
    seed: int = 42
    checkpoint_every: int = 250
    threads: int = 2


@dataclass(frozen=True)
class SemanticsTrainingConfig:
    stage1_steps: int = 800
    stage1_batch: int = 240
    stage1_lr: float = 1e-3
    mixup_pct: float = 1.0  # README: BiMixCo for all of stage 1
    mixco_temp: float = 0.006
    soft_clip_temps: tuple = (0.004, 0.0075)
    stage2_steps: int = 1200
    stage2_batch: int = 64
    stage2_lr: float = 1e-3
    prior_scale: float = 30.0
    use_text: bool = True  # Reftm, as the README's --use_text
    text_scale_stage1: float = 0.25
    text_scale_stage2: float = 1.0
    text_temp: float = 0.1
    weight_decay: float = 0.01
    seed: int = 42
    checkpoint_every: int = 200
    threads: int = 2


def validation_split(subject) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) clip indices: the last training movie is held out for model selection."""
    n = subject.num_clips("train")
    movies = np.array([subject.movie_position("train", i)[0] for i in range(n)])
    val = movies == movies.max()
    return np.flatnonzero(~val), np.flatnonzero(val)


def _accelerator():
    import torch
    from accelerate import Accelerator

    return Accelerator(mixed_precision="fp16" if torch.cuda.is_available() else "no", cpu=not torch.cuda.is_available())


def _save(model, out_dir: Path, info: dict) -> None:
    """fp16 ``config.json`` + safetensors (the shipped files stay small), written to a temp dir then moved."""
    import shutil

    import torch

    from ..io import atomic_write_json

    out_dir = Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.to(torch.float16).save_pretrained(tmp)
    model.to(torch.float32)
    atomic_write_json(tmp / "training.json", info)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)


def _load_best(model, work_dir: Path) -> None:
    from safetensors.torch import load_model

    best = Path(work_dir) / "best.safetensors"
    if best.exists():
        load_model(model, best)


# ------------------------------------------------------------------------------------------------ Perception
def decode_latents(vae, latents, batch: int = 256) -> np.ndarray:
    """(N, C, s, s) latents (times the scaling factor) -> uint8 frames (N, H, W, 3), as spec §2.6."""
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(latents), batch):
            x = vae.decode(latents[i:i + batch].float() / vae.config.scaling_factor).sample
            out.append(to_uint8(x))
    return np.concatenate(out)


def predict_blurry(model, vae, fmri, batch_clips: int = 40, temporal_group: str | None = None) -> np.ndarray:
    """Blurry frames (N, 6, H, W, 3) uint8 of fMRI samples (N, V), in batches of consecutive clips."""
    import torch

    frames = []
    with torch.no_grad():
        for i in range(0, len(fmri), batch_clips):
            lat = model(torch.as_tensor(np.asarray(fmri[i:i + batch_clips]), dtype=torch.float32), temporal_group).latents
            frames.append(decode_latents(vae, lat.flatten(0, 1)).reshape(len(lat), lat.shape[1], *frames_shape(vae, lat)))
    return np.concatenate(frames)


def frames_shape(vae, latents) -> tuple[int, int, int]:
    f = 2 ** (len(vae.config.block_out_channels) - 1)
    return latents.shape[-2] * f, latents.shape[-1] * f, 3


def train_perception(subject, out_dir: Path, work_dir: Path, config: str = "mini",
                     cfg: PerceptionTrainingConfig = PerceptionTrainingConfig(), resume: bool = False,
                     zoo_root: Path | None = None, progress: bool = True) -> dict:
    import torch
    import torch.nn.functional as F

    from ..metrics.frames import pixcorr
    from ..models import PerceptionReconstructor, reconstructor_configs
    from ..models.losses import soft_cont_loss
    from ..zoo.mini import load_vae
    from .targets import clip_frames, subject_targets, teacher_aug_bank

    if config != "mini":
        raise NotImplementedError("training the full-size PR (ConvNeXt-XL teacher, SD image-variation VAE) is not "
                                  "built yet; its weights come with `python -m neuroclips weights download --zoo full "
                                  "--group training`")
    torch.manual_seed(cfg.seed)
    tg = subject_targets(subject, "train", zoo_root)
    frames = clip_frames(subject, "train")
    fmri = subject.fmri("train", np.arange(subject.num_clips("train")), repetition="all")
    train_idx, val_idx = validation_split(subject)
    c = reconstructor_configs(config, subject.n_voxels)["perception"]
    bank = teacher_aug_bank(subject, "train", cfg.aug_views, zoo_root, map_size=c["map_size"])
    model = PerceptionReconstructor(**reconstructor_configs(config, subject.n_voxels)["perception"])
    vae = load_vae(root=zoo_root).requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    acc = _accelerator()
    model, opt = acc.prepare(model, opt)
    n_batches = len(train_idx) // cfg.batch_clips

    def step_fn(step, rng):
        epoch, k = divmod(step, n_batches)
        idx = train_idx[k * cfg.batch_clips:(k + 1) * cfg.batch_clips]
        x = torch.as_tensor(fmri[idx, epoch % 2], device=acc.device)  # repetition = epoch mod 2 (spec §1.4)
        with acc.autocast():
            out = model(x)
            z = torch.as_tensor(tg.latents[idx], device=acc.device).float()
            l1 = F.l1_loss(out.latents.float(), z)
            views = rng.integers(0, cfg.aug_views, len(idx))
            t_aug = torch.as_tensor(np.asarray(bank[idx, views]), device=acc.device).float()
            t = torch.as_tensor(tg.teacher[idx], device=acc.device).float().reshape(-1, t_aug.shape[-1])

            cont = soft_cont_loss(F.normalize(out.aux_tokens.float().reshape(-1, t.shape[-1]), dim=-1),
                                  F.normalize(t, dim=-1), F.normalize(t_aug.reshape(-1, t.shape[-1]), dim=-1), cfg.cont_temp)
            loss = cfg.blur_scale * (l1 + cfg.cont_scale * cont)
        return loss, {"l1": l1.detach(), "cont": cont.detach()}

    def validate():
        pred = predict_blurry(model, vae, fmri[val_idx].mean(1), cfg.batch_clips)
        gt = np.asarray(frames[val_idx])
        return {"pixcorr": pixcorr(pred.reshape(-1, *pred.shape[2:]), gt.reshape(-1, *gt.shape[2:]))}

    loop = LoopConfig(steps=cfg.steps, lr=cfg.lr, seed=cfg.seed, checkpoint_every=cfg.checkpoint_every,
                      threads=cfg.threads, warmup=max(cfg.steps // 50, 1))
    t0 = time.perf_counter()
    res = run_loop(f"PR sub-{subject.subject:02d}", model, opt, step_fn, loop, work_dir, resume, progress,
                   accelerator=acc, validate=validate, select="pixcorr")
    model = acc.unwrap_model(model)
    _load_best(model, work_dir)
    info = {"subject": subject.subject, "source": subject.source, "config": config, "steps": cfg.steps,
            "seconds_this_run": round(time.perf_counter() - t0, 1), "device": str(acc.device),
            "final": history_summary(res["history"], res["metrics"]), "best_validation": res["best"],
            "validation_clips": [int(val_idx[0]), int(val_idx[-1])], "training": asdict(cfg)}
    _save(model, out_dir, info)
    return info


# ------------------------------------------------------------------------------------------------- Semantics
def fit_clipproj(tokens: np.ndarray, text: np.ndarray) -> np.ndarray:
    """The mini Reftm projector: least squares from token means to caption embeddings on the training pairs
    (the full one is fine-tuned on MSCOCO and loaded frozen, spec §3.2)."""
    import torch

    a = torch.as_tensor(tokens, dtype=torch.float64).mean(1)
    b = torch.as_tensor(text, dtype=torch.float64)
    return torch.linalg.lstsq(a, b).solution.float().numpy()


def train_semantics(subject, out_dir: Path, work_dir: Path, config: str = "mini",
                    cfg: SemanticsTrainingConfig = SemanticsTrainingConfig(), resume: bool = False,
                    zoo_root: Path | None = None, progress: bool = True, init_state_dict: dict | None = None) -> dict:
    """Stage 1 (ridge + backbone: BiMixCo/SoftCLIP + Reftm), then stage 2 (the prior only: 30·MSE + Reftm on x̂₀).
    ``init_state_dict``: a MindEye2-layout state dict to start from, as the reference does (spec §3.2)."""
    import torch
    import torch.nn.functional as F

    from ..metrics.retrieval import retrieval_top1
    from ..models import SemanticsReconstructor, load_mindeye2_state_dict, reconstructor_configs
    from ..models.losses import cosine_anneal, mixco, mixco_nce, soft_clip_loss
    from .targets import subject_targets

    torch.manual_seed(cfg.seed)
    tg = subject_targets(subject, "train", zoo_root)
    fmri = subject.fmri("train", np.arange(subject.num_clips("train")), repetition="all")
    train_idx, val_idx = validation_split(subject)
    model = SemanticsReconstructor(**reconstructor_configs(config, subject.n_voxels)["semantics"])
    if init_state_dict is not None:
        load_mindeye2_state_dict(model, init_state_dict)
    if model.clipproj is not None:
        with torch.no_grad():
            model.clipproj.proj.copy_(torch.from_numpy(fit_clipproj(tg.tokens[train_idx, 0], tg.text[train_idx])))
        model.clipproj.requires_grad_(False)
    acc = _accelerator()
    text = torch.as_tensor(tg.text).float()
    val_x = torch.as_tensor(fmri[val_idx].mean(1))
    val_tokens = tg.tokens[val_idx, 0]
    t0 = time.perf_counter()

    # Stage 1: ridge + backbone.
    stage1 = [p for n, p in model.named_parameters() if n.startswith(("ridge.", "backbone."))]
    model.diffusion_prior.requires_grad_(False)
    opt = torch.optim.AdamW(stage1, lr=cfg.stage1_lr, weight_decay=cfg.weight_decay)
    m1, opt = acc.prepare(model, opt)
    per_epoch = len(train_idx) // cfg.stage1_batch
    mix_steps = int(cfg.mixup_pct * cfg.stage1_steps)
    temps = cosine_anneal(*cfg.soft_clip_temps, max(cfg.stage1_steps - mix_steps, 1))

    def step1(step, rng):
        epoch, k = divmod(step, per_epoch)
        order = np.random.default_rng([cfg.seed, epoch]).permutation(train_idx)  # shuffled, as SR trains
        idx = order[k * cfg.stage1_batch:(k + 1) * cfg.stage1_batch]
        x = torch.as_tensor(fmri[idx, epoch % 2], device=acc.device)
        target = torch.as_tensor(tg.tokens[idx, epoch % 2], device=acc.device).float()  # keyframe 2 + epoch mod 2
        with acc.autocast():
            if step < mix_steps:
                x, perm, betas, _ = mixco(x, rng)
            out = m1(x)
            p = F.normalize(out.clip_voxels.flatten(1).float(), dim=-1)
            c = F.normalize(target.flatten(1), dim=-1)
            if step < mix_steps:
                clip_loss = mixco_nce(p, c, temp=cfg.mixco_temp, perm=perm, betas=betas)
            else:
                clip_loss = soft_clip_loss(p, c, temp=float(temps[step - mix_steps]))
            loss = clip_loss
            metrics = {"clip": clip_loss.detach()}
            if cfg.use_text and model.clipproj is not None:
                pt = F.normalize(acc.unwrap_model(m1).clipproj(out.clip_voxels.float()), dim=-1)
                tl = mixco_nce(pt, F.normalize(text[idx].to(acc.device), dim=-1), temp=cfg.text_temp)
                loss = loss + cfg.text_scale_stage1 * tl
                metrics["text"] = tl.detach()
        return loss, metrics

    def validate1():
        cv = acc.unwrap_model(m1)(val_x.to(acc.device)).clip_voxels.float().cpu().numpy()
        r = retrieval_top1(cv, val_tokens, n_way=min(300, len(val_idx)))
        return {"keyframe": r["keyframe"], "fmri": r["fmri"]}

    loop1 = LoopConfig(steps=cfg.stage1_steps, lr=cfg.stage1_lr, seed=cfg.seed, checkpoint_every=cfg.checkpoint_every,
                       threads=cfg.threads, warmup=max(cfg.stage1_steps // 50, 1))
    res1 = run_loop(f"SR stage 1 sub-{subject.subject:02d}", m1, opt, step1, loop1, Path(work_dir) / "stage1", resume,
                    progress, accelerator=acc, validate=validate1, select="keyframe")
    model = acc.unwrap_model(m1)
    _load_best(model, Path(work_dir) / "stage1")

    # Stage 2: only the prior; the backbone stays in train mode (dropout on) as the reference leaves it.
    model.requires_grad_(False)
    model.diffusion_prior.requires_grad_(True)
    opt2 = torch.optim.AdamW(model.diffusion_prior.parameters(), lr=cfg.stage2_lr, weight_decay=cfg.weight_decay)
    m2, opt2 = acc.prepare(model, opt2)
    per_epoch2 = len(train_idx) // cfg.stage2_batch
    gen = torch.Generator(device=acc.device).manual_seed(cfg.seed)

    def step2(step, rng):
        epoch, k = divmod(step, per_epoch2)
        order = np.random.default_rng([cfg.seed, 1, epoch]).permutation(train_idx)
        idx = order[k * cfg.stage2_batch:(k + 1) * cfg.stage2_batch]
        x = torch.as_tensor(fmri[idx, epoch % 2], device=acc.device)
        target = torch.as_tensor(tg.tokens[idx, epoch % 2], device=acc.device).float()
        mdl = acc.unwrap_model(m2)
        with acc.autocast():
            with torch.no_grad():
                cv = mdl(x).clip_voxels.float()
            prior_loss, pred = mdl.diffusion_prior.loss(target, cv, generator=gen)
            loss = cfg.prior_scale * prior_loss
            metrics = {"prior": prior_loss.detach()}
            if cfg.use_text and mdl.clipproj is not None:
                pt = F.normalize(mdl.clipproj(pred.float()), dim=-1)
                tl = mixco_nce(pt, F.normalize(text[idx].to(acc.device), dim=-1), temp=cfg.text_temp)
                loss = loss + cfg.text_scale_stage2 * tl
                metrics["text"] = tl.detach()
        return loss, metrics

    def validate2():
        mdl = acc.unwrap_model(m2)
        g = torch.Generator(device=acc.device).manual_seed(0)
        cv = mdl(val_x.to(acc.device)).clip_voxels.float()
        loss, _ = mdl.diffusion_prior.loss(torch.as_tensor(val_tokens, device=acc.device).float(), cv, generator=g)
        return {"neg_prior_loss": -float(loss)}

    loop2 = LoopConfig(steps=cfg.stage2_steps, lr=cfg.stage2_lr, seed=cfg.seed, checkpoint_every=cfg.checkpoint_every,
                       threads=cfg.threads, warmup=max(cfg.stage2_steps // 50, 1))
    model.train()
    res2 = run_loop(f"SR stage 2 sub-{subject.subject:02d}", m2, opt2, step2, loop2, Path(work_dir) / "stage2", resume,
                    progress, accelerator=acc, validate=validate2, select="neg_prior_loss")
    model = acc.unwrap_model(m2)
    _load_best(model, Path(work_dir) / "stage2")
    model.requires_grad_(True)
    info = {"subject": subject.subject, "source": subject.source, "config": config,
            "seconds_this_run": round(time.perf_counter() - t0, 1), "device": str(acc.device),
            "stage1": {"steps": cfg.stage1_steps, "final": history_summary(res1["history"], res1["metrics"]),
                       "best_validation": res1["best"]},
            "stage2": {"steps": cfg.stage2_steps, "final": history_summary(res2["history"], res2["metrics"]),
                       "best_validation": res2["best"]},
            "validation_clips": [int(val_idx[0]), int(val_idx[-1])], "training": asdict(cfg)}
    _save(model.eval(), out_dir, info)
    return info


def load_reconstructors(subject: int, root: Path | None = None):
    """(PerceptionReconstructor, SemanticsReconstructor) of a simulated subject, fp32, eval mode."""
    from ..zoo import load_reconstructor

    return tuple(load_reconstructor(name, subject, root)[0] for name in ("perception", "semantics"))
