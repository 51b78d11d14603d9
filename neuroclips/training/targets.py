"""Training targets of the reconstructors, computed once per subject split with the zoo and cached.

* PR: VAE latents of the 6 frames (``mode() x scaling_factor``, spec §2.4) and the teacher's feature map of
  the frames. The full zoo's teacher is ConvNeXt-XL (7x7x2048 -> 512); the mini teacher is the frozen mini
  CLIP image tower, its 8x8 patch tokens average-pooled to the PR's 4x4 map (128-d): a frozen, pretrained
  image network's spatial feature map, as ConvNeXt's is.
* SR: CLIP image tokens of the keyframes (frames 2 and 3, spec §1.3) and the CLIP text embedding of the
  caption (Reftm target).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..frames import FPS_GT, KEYFRAME_INDEX, to_unit

logger = logging.getLogger(__name__)


@dataclass
class SubjectTargets:
    latents: np.ndarray  # (N, 6, C, s, s) float16
    teacher: np.ndarray  # (N, 6, map², D) float16
    tokens: np.ndarray  # (N, 2, n_tokens, token_dim) float16: keyframe index 2 and 3
    text: np.ndarray  # (N, text_dim) float16, L2-normalised


def clip_frames(subject, split: str) -> np.ndarray:
    """All GT frames of a split, (N, 6, H, W, 3) uint8."""
    from ..data.simulated import SimulatedSubject
    from .data import rendered_clips

    if isinstance(subject, SimulatedSubject):
        return rendered_clips(subject.world.stimuli, split, FPS_GT)
    return np.stack([subject.frames(split, i, FPS_GT) for i in range(subject.num_clips(split))])


def pooled_tokens(tokens, grid: int):
    """(N, P, D) patch tokens on a sqrt(P) grid -> (N, grid², D) by average pooling."""
    import torch.nn.functional as F

    n, p, d = tokens.shape
    side = int(round(p ** 0.5))
    x = tokens.transpose(1, 2).reshape(n, d, side, side)
    return F.adaptive_avg_pool2d(x, grid).flatten(2).transpose(1, 2)


def teacher_features(clip_model, frames_uint8, grid: int):
    """The mini teacher: frozen CLIP patch tokens pooled to ``grid x grid`` (N, grid², D)."""
    from ..zoo.clip import image_tokens, pixel_values

    size = clip_model.config.vision_config.image_size
    return pooled_tokens(image_tokens(clip_model.vision_model, pixel_values(frames_uint8, size)), grid)


def teacher_augment(x, generator):
    """Augmented copy for the teacher (spec §2.4's kornia chain, in torch on [0, 1] images (N, 3, H, W)):
    colour jitter (brightness 0.4, contrast 0.4, saturation 0.2; p 0.8), grayscale (p 0.1), solarize (p 0.1),
    and a square crop of 90 % area resized back. Hue jitter is left out."""
    import torch
    import torch.nn.functional as F

    from ..noise import rand, randint

    n = len(x)

    def u(lo, hi):
        return lo + (hi - lo) * rand((n, 1, 1, 1), generator, x.device)

    def p(prob):
        return rand((n, 1, 1, 1), generator, x.device) < prob

    gray = (0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
    j = x * u(0.6, 1.4)
    j = (j - j.mean((1, 2, 3), keepdim=True)) * u(0.6, 1.4) + j.mean((1, 2, 3), keepdim=True)
    g = 0.299 * j[:, :1] + 0.587 * j[:, 1:2] + 0.114 * j[:, 2:3]
    j = (g + (j - g) * u(0.8, 1.2)).clamp(0, 1)
    x = torch.where(p(0.8), j, x)
    gray = 0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]
    x = torch.where(p(0.1), gray.expand_as(x), x)
    x = torch.where(p(0.1) & (x > 0.5), 1 - x, x)
    h = x.shape[-1]
    c = int(round(h * 0.9 ** 0.5))
    oy, ox = (int(v) for v in randint(0, h - c + 1, (2,), generator))
    return F.interpolate(x[..., oy:oy + c, ox:ox + c], size=(h, h), mode="bilinear", align_corners=False)


def _digest(*parts) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:10]


def subject_targets(subject, split: str, zoo_root: Path | None = None, cache: Path | None = None,
                    map_size: int = 4, batch: int = 256) -> SubjectTargets:
    """Targets of every clip of a split, computed with the zoo once and cached as ``.npz``."""
    import torch

    from ..io import atomic_path
    from ..paths import cache_dir
    from ..zoo import zoo_dir
    from ..zoo.mini import load_clip, load_tokenizer, load_vae
    from ..zoo.clip import image_tokens, pixel_values, text_embeds

    root = Path(zoo_root) if zoo_root else zoo_dir("mini")
    stamp = [(root / c / f).stat().st_mtime_ns for c, f in (("vae", "diffusion_pytorch_model.safetensors"),
                                                             ("clip", "model.safetensors"))]
    data_key = subject.world.stimuli.to_dict() if hasattr(subject, "world") else (subject.source, subject.subject)
    path = Path(cache or cache_dir()) / "training" / "targets" / f"{split}-{_digest(data_key, stamp, map_size)}.npz"
    if path.exists():
        with np.load(path) as f:
            return SubjectTargets(**{k: f[k] for k in f.files})
    logger.info("computing %s targets with the zoo at %s (once; cached in %s)", split, root, path)
    frames = clip_frames(subject, split)
    vae, clip, tok = load_vae(root=root), load_clip(root=root), load_tokenizer(root=root)
    sf = vae.config.scaling_factor
    n = len(frames)
    latents, teacher, tokens = [], [], []
    with torch.no_grad():
        for i in range(0, n, batch // 6):
            f = np.asarray(frames[i:i + batch // 6])
            flat = f.reshape(-1, *f.shape[2:])
            x = to_unit(flat)
            latents.append((vae.encode(x).latent_dist.mode() * sf).reshape(len(f), 6, *vae_latent_shape(vae, x)).half())
            size = clip.config.vision_config.image_size
            tk = image_tokens(clip.vision_model, pixel_values(flat, size))
            teacher.append(pooled_tokens(tk, map_size).reshape(len(f), 6, map_size ** 2, -1).half())
            tokens.append(tk.reshape(len(f), 6, *tk.shape[1:])[:, KEYFRAME_INDEX:KEYFRAME_INDEX + 2].half())
    text = text_embeds(clip, tok, [subject.caption(split, i) for i in range(n)]).half()
    out = SubjectTargets(torch.cat(latents).numpy(), torch.cat(teacher).numpy(), torch.cat(tokens).numpy(), text.numpy())
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **out.__dict__)
    return out


def teacher_aug_bank(subject, split: str = "train", n_views: int = 2, zoo_root: Path | None = None,
                     cache: Path | None = None, map_size: int = 4, seed: int = 0, batch: int = 480) -> np.ndarray:
    """Teacher features of ``n_views`` augmented copies of every frame, (N, n_views, 6, map², D) float16.

    Drawn once and cached: recomputing the teacher on fresh augmentations at every step costs more than the
    rest of a mini PR step on 2 cores; training samples one of the views per frame instead."""
    import torch

    from ..io import atomic_path
    from ..paths import cache_dir
    from ..zoo import zoo_dir
    from ..zoo.mini import load_clip

    root = Path(zoo_root) if zoo_root else zoo_dir("mini")
    stamp = (root / "clip" / "model.safetensors").stat().st_mtime_ns
    data_key = subject.world.stimuli.to_dict() if hasattr(subject, "world") else (subject.source, subject.subject)
    path = Path(cache or cache_dir()) / "training" / "targets" / f"{split}-augbank-{_digest(data_key, stamp, map_size, n_views, seed)}.npy"
    if path.exists():
        return np.load(path, mmap_mode="r")
    logger.info("computing the teacher's augmented-view bank (%d views, once; cached in %s)", n_views, path)
    frames = clip_frames(subject, split)
    clip = load_clip(root=root)
    gen = torch.Generator().manual_seed(seed)
    n = len(frames)
    out = np.zeros((n, n_views, 6, map_size ** 2, clip.config.vision_config.hidden_size), np.float16)
    with torch.no_grad():
        for v in range(n_views):
            for i in range(0, n, batch // 6):
                f = np.asarray(frames[i:i + batch // 6])
                x = torch.from_numpy(f.reshape(-1, *f.shape[2:])).permute(0, 3, 1, 2).float() / 255
                aug = (teacher_augment(x, gen) * 255).round().byte().permute(0, 2, 3, 1).numpy()
                out[i:i + len(f), v] = teacher_features(clip, aug, map_size).reshape(len(f), 6, map_size ** 2, -1).numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, out)
    return np.load(path, mmap_mode="r")


def vae_latent_shape(vae, x) -> tuple[int, int, int]:
    f = 2 ** (len(vae.config.block_out_channels) - 1)
    return vae.config.latent_channels, x.shape[-2] // f, x.shape[-1] // f
