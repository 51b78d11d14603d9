"""Quality gates of the mini zoo, measured on held-out simulated test clips (issue: mini model zoo)."""

from __future__ import annotations

import numpy as np

VAE_PSNR_GATE_DB = 24.0


def held_out_frames(world, n_clips: int = 300, fps: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """GT frames of ``n_clips`` test clips spread evenly over the test movies, and each clip's category."""
    from ..simulation.stimuli import MovieRenderer

    r = MovieRenderer(world.stimuli)
    idx = np.linspace(0, world.stimuli.n_clips("test") - 1, n_clips).round().astype(int)
    frames = np.stack([r.render_clip("test", int(i), fps) for i in idx])
    categories = np.array([r.clip_info("test", int(i)).categories[0] for i in idx])
    return frames, categories


def reconstruct(vae, frames: np.ndarray, batch: int = 256) -> np.ndarray:
    """VAE round trip (posterior mode) of uint8 frames (..., H, W, 3) -> uint8 frames."""
    import torch

    from ..training.zoo_vae import to_tensor

    shape = frames.shape
    flat = frames.reshape(-1, *shape[-3:])
    out = []
    with torch.no_grad():
        for i in range(0, len(flat), batch):
            x = to_tensor(flat[i : i + batch])
            rec = vae.decode(vae.encode(x).latent_dist.mode()).sample
            out.append(((rec.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy())
    return np.concatenate(out).reshape(shape)


def vae_psnr(vae, frames: np.ndarray) -> np.ndarray:
    """PSNR (dB, scikit-image, data range 255) of every frame's reconstruction; shape frames.shape[:-3]."""
    from skimage.metrics import peak_signal_noise_ratio

    rec = reconstruct(vae, frames)
    flat_gt, flat_rec = frames.reshape(-1, *frames.shape[-3:]), rec.reshape(-1, *frames.shape[-3:])
    scores = [peak_signal_noise_ratio(g, r, data_range=255) for g, r in zip(flat_gt, flat_rec)]
    return np.asarray(scores).reshape(frames.shape[:-3])


def vae_gate(vae, world, n_clips: int = 300) -> dict:
    from ..simulation.categories import CATEGORIES

    frames, cats = held_out_frames(world, n_clips)
    psnr = vae_psnr(vae, frames).mean(1)  # per clip (mean over its 6 frames)
    unseen = np.isin(cats, [c.name for c in CATEGORIES if c.test_only])
    return {"n_clips": n_clips, "n_frames": int(frames.shape[0] * frames.shape[1]),
            "psnr_db_mean": round(float(psnr.mean()), 2), "psnr_db_sd": round(float(psnr.std()), 2),
            "psnr_db_seen_categories": round(float(psnr[~unseen].mean()), 2),
            "psnr_db_test_only_categories": round(float(psnr[unseen].mean()), 2) if unseen.any() else None,
            "gate_db": VAE_PSNR_GATE_DB, "passed": bool(psnr.mean() >= VAE_PSNR_GATE_DB)}
