"""Model zoos behind one interface: ``mini`` (trained here on the simulated world) and ``full`` (the real
checkpoints of spec §9, a later milestone). Components are the real library classes; only configs and
weights differ between zoos."""

from __future__ import annotations

import os
from pathlib import Path

from ..paths import demo_data_dir

COMPONENTS = ("tokenizer", "vae", "clip", "keyframe", "captioner", "t2v")


def zoo_dir(name: str = "mini", root: str | os.PathLike | None = None) -> Path:
    """Folder of a zoo's weights (the mini zoo ships in ``demo_data/zoo/mini``)."""
    if name not in ("mini", "full"):
        raise ValueError(f"unknown model zoo {name!r}; choose 'mini' or 'full'")
    return Path(root) if root is not None else demo_data_dir() / "zoo" / name


def load_vae(zoo: str = "mini", root: str | os.PathLike | None = None, dtype=None):
    """The zoo's frame autoencoder (diffusers ``AutoencoderKL``), loaded offline."""
    import torch
    from diffusers import AutoencoderKL

    path = zoo_dir(zoo, root) / "vae"
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"no VAE weights at {path}; train them with `python -m neuroclips train-zoo --component vae`")
    return AutoencoderKL.from_pretrained(path, torch_dtype=dtype or torch.float32).eval()


def load_tokenizer(zoo: str = "mini", root: str | os.PathLike | None = None):
    """The zoo's CLIP tokenizer (text tower and text-to-video prompts), loaded offline."""
    from transformers import CLIPTokenizer

    path = zoo_dir(zoo, root) / "tokenizer"
    if not (path / "tokenizer_config.json").exists():
        raise FileNotFoundError(f"no tokenizer at {path}; build it with `python -m neuroclips train-zoo --component tokenizer`")
    return CLIPTokenizer.from_pretrained(path)


def _require(path: Path, what: str, component: str) -> Path:
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"no {what} at {path}; train it with `python -m neuroclips train-zoo --component {component}`")
    return path


def load_clip(zoo: str = "mini", root: str | os.PathLike | None = None, dtype=None):
    """The zoo's CLIP (transformers ``CLIPModel``): image tokens for the Semantics Reconstructor, the text
    tower for text-to-video, and the joint space for retrieval and metrics."""
    import torch
    from transformers import CLIPModel

    path = _require(zoo_dir(zoo, root) / "clip", "CLIP weights", "clip")
    return CLIPModel.from_pretrained(path, dtype=dtype or torch.float32).eval()


def load_keyframe_pipeline(zoo: str = "mini", root: str | os.PathLike | None = None, vae=None, dtype=None):
    """unCLIP keyframe generator (:class:`~neuroclips.pipeline.unclip.UnCLIPKeyframePipeline`)."""
    import torch
    from diffusers import DDIMScheduler, UNet2DConditionModel

    from ..pipeline.unclip import UnCLIPKeyframePipeline

    path = zoo_dir(zoo, root) / "keyframe"
    unet = UNet2DConditionModel.from_pretrained(_require(path / "unet", "keyframe UNet", "keyframe"),
                                                torch_dtype=dtype or torch.float32).eval()
    pipe = UnCLIPKeyframePipeline(unet=unet, scheduler=DDIMScheduler.from_pretrained(path / "scheduler"),
                                  vae=vae if vae is not None else load_vae(zoo, root, dtype))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def load_captioner(zoo: str = "mini", root: str | os.PathLike | None = None, dtype=None):
    """The zoo's BLIP-2 captioner (:class:`~neuroclips.pipeline.caption.Captioner`), loaded offline."""
    import torch
    from transformers import Blip2ForConditionalGeneration, Blip2Processor

    from ..pipeline.caption import Captioner

    path = _require(zoo_dir(zoo, root) / "captioner", "captioner weights", "captioner")
    model = Blip2ForConditionalGeneration.from_pretrained(path, dtype=dtype or torch.float32).eval()
    return Captioner(model, Blip2Processor.from_pretrained(path))


def load_video_pipeline(zoo: str = "mini", root: str | os.PathLike | None = None, vae=None, clip=None, dtype=None):
    """Text-to-video with SparseCtrl (diffusers ``AnimateDiffSparseControlNetPipeline``) from the zoo's
    spatial UNet, motion adapter, SparseCtrl RGB, VAE and CLIP text tower."""
    import torch
    from diffusers import (AnimateDiffSparseControlNetPipeline, DDIMScheduler, MotionAdapter, SparseControlNetModel,
                           UNet2DConditionModel)

    path = zoo_dir(zoo, root) / "t2v"
    dtype = dtype or torch.float32
    unet = UNet2DConditionModel.from_pretrained(_require(path / "unet", "text-to-video UNet", "t2v"), torch_dtype=dtype)
    adapter = MotionAdapter.from_pretrained(path / "motion_adapter", torch_dtype=dtype)
    controlnet = SparseControlNetModel.from_pretrained(path / "controlnet", torch_dtype=dtype)
    clip = clip if clip is not None else load_clip(zoo, root, dtype)
    pipe = AnimateDiffSparseControlNetPipeline(
        vae=vae if vae is not None else load_vae(zoo, root, dtype), text_encoder=clip.text_model,
        tokenizer=load_tokenizer(zoo, root), unet=unet, motion_adapter=adapter, controlnet=controlnet,
        scheduler=DDIMScheduler.from_pretrained(path / "scheduler"))
    pipe.set_progress_bar_config(disable=True)
    return pipe
