"""Loaders of the mini zoo's components (``demo_data/zoo/mini/<component>``: diffusers/transformers folders of
``config.json`` beside ``safetensors``), and the assembly of the pipeline's components from them."""

from __future__ import annotations

import os
from pathlib import Path

from ...paths import demo_data_dir
from ..reconstructors import load_reconstructors, weights_digest

COMPONENTS = ("tokenizer", "vae", "clip", "keyframe", "captioner", "t2v")
# how the mini keyframe UNet was trained and is sampled: DDIM on its own scheduler, zero unconditional tokens
GUIDANCE_DEFAULTS = {"keyframe_steps": 25, "keyframe_unconditional": "zeros"}


def mini_root(root: str | os.PathLike | None = None) -> Path:
    """The mini zoo's folder: ``root``, else the shipped ``demo_data/zoo/mini``."""
    return Path(root) if root is not None else demo_data_dir() / "zoo" / "mini"


def _require(path: Path, what: str, component: str, marker: str = "config.json") -> Path:
    if not (path / marker).exists():
        raise FileNotFoundError(f"no {what} at {path}; train it with `python -m neuroclips train-zoo --component {component}`")
    return path


def load_vae(root: str | os.PathLike | None = None, dtype=None):
    """The frame autoencoder (diffusers ``AutoencoderKL``)."""
    import torch
    from diffusers import AutoencoderKL

    path = _require(mini_root(root) / "vae", "VAE weights", "vae")
    return AutoencoderKL.from_pretrained(path, torch_dtype=dtype or torch.float32).eval()


def load_tokenizer(root: str | os.PathLike | None = None):
    """The CLIP tokenizer (text tower and text-to-video prompts)."""
    from transformers import CLIPTokenizer

    return CLIPTokenizer.from_pretrained(_require(mini_root(root) / "tokenizer", "tokenizer", "tokenizer",
                                                  "tokenizer_config.json"))


def load_clip(root: str | os.PathLike | None = None, dtype=None):
    """The zoo's CLIP (transformers ``CLIPModel``): image tokens for the Semantics Reconstructor, the text tower for
    text-to-video, and the joint space for retrieval and metrics."""
    import torch
    from transformers import CLIPModel

    path = _require(mini_root(root) / "clip", "CLIP weights", "clip")
    return CLIPModel.from_pretrained(path, dtype=dtype or torch.float32).eval()


def text_encoder(clip):
    """The text tower of a ``CLIPModel`` as a ``CLIPTextModel`` sharing its weights (what diffusers pipelines
    register as ``text_encoder``, with ``save_pretrained``)."""
    from transformers import CLIPTextModel

    if isinstance(clip, CLIPTextModel):
        return clip
    if isinstance(clip.text_model, CLIPTextModel):  # transformers 5: the CLIPModel's text tower is a CLIPTextModel
        return clip.text_model.eval()
    # transformers 4: CLIPTextModel wraps a CLIPTextTransformer under ``text_model``; share it
    model = CLIPTextModel(clip.config.text_config)
    if not hasattr(model, "text_model"):
        raise TypeError(f"cannot take the text tower of {type(clip).__name__} in this transformers version")
    model.text_model = clip.text_model
    return model.to(clip.dtype).eval()


def image_encoder(clip):
    """The image tower and projection of a ``CLIPModel`` as a ``CLIPVisionModelWithProjection`` sharing its weights."""
    from transformers import CLIPVisionModelWithProjection

    if isinstance(clip, CLIPVisionModelWithProjection):
        return clip
    config = clip.config.vision_config
    config.projection_dim = clip.config.projection_dim
    model = CLIPVisionModelWithProjection(config)
    model.vision_model, model.visual_projection = clip.vision_model, clip.visual_projection
    return model.eval()


def load_keyframe_components(root: str | os.PathLike | None = None, dtype=None) -> tuple:
    """(unet, scheduler) of the unCLIP keyframe generator."""
    import torch
    from diffusers import DDIMScheduler, UNet2DConditionModel

    path = mini_root(root) / "keyframe"
    unet = UNet2DConditionModel.from_pretrained(_require(path / "unet", "keyframe UNet", "keyframe"),
                                                torch_dtype=dtype or torch.float32).eval()
    return unet, DDIMScheduler.from_pretrained(path / "scheduler")


def load_captioner_components(root: str | os.PathLike | None = None, dtype=None) -> tuple:
    """(model, processor) of the BLIP-2 captioner."""
    import torch
    from transformers import Blip2ForConditionalGeneration, Blip2Processor

    path = _require(mini_root(root) / "captioner", "captioner weights", "captioner")
    return Blip2ForConditionalGeneration.from_pretrained(path, dtype=dtype or torch.float32).eval(), \
        Blip2Processor.from_pretrained(path)


def load_video_components(root: str | os.PathLike | None = None, dtype=None) -> dict:
    """The text-to-video model's ``unet`` (spatial ``UNet2DConditionModel``), ``motion_adapter``, ``controlnet``
    (SparseCtrl RGB) and ``scheduler``."""
    import torch
    from diffusers import DDIMScheduler, MotionAdapter, SparseControlNetModel, UNet2DConditionModel

    path = mini_root(root) / "t2v"
    dtype = dtype or torch.float32
    return {"unet": UNet2DConditionModel.from_pretrained(_require(path / "unet", "text-to-video UNet", "t2v"),
                                                         torch_dtype=dtype),
            "motion_adapter": MotionAdapter.from_pretrained(path / "motion_adapter", torch_dtype=dtype),
            "controlnet": SparseControlNetModel.from_pretrained(path / "controlnet", torch_dtype=dtype).eval(),
            "scheduler": DDIMScheduler.from_pretrained(path / "scheduler")}


def load_fusion_classifier(root: str | os.PathLike | None = None, dtype=None):
    """Multi-fMRI fusion's keyframe-similarity classifier, or None where the zoo has none yet."""
    import torch

    from ...models.fusion import KeyframeSimilarityClassifier

    path = mini_root(root) / "fusion"
    if not (path / "config.json").exists():
        return None
    return KeyframeSimilarityClassifier.from_pretrained(path, torch_dtype=dtype or torch.float32).eval()


def assemble_components(subject: int | None = 1, reconstructors: str | os.PathLike | None = None,
                        root: str | os.PathLike | None = None, dtype=None) -> tuple[dict, dict]:
    """Components of :class:`~neuroclips.pipeline.NeuroClipsPipeline` from the mini zoo and a subject's PR/SR
    (``reconstructors/sub-0N/{perception,semantics}``; default: the shipped ones). Returns (components, versions).
    The three VAEs of the full zoo are one model here."""
    import torch
    from diffusers import UNetMotionModel

    dtype = dtype or torch.float32
    base = mini_root(root)
    vae, clip = load_vae(root, dtype), load_clip(root, dtype)
    keyframe_unet, keyframe_scheduler = load_keyframe_components(root, dtype)
    caption_model, caption_processor = load_captioner_components(root, dtype)
    video = load_video_components(root, dtype)
    components = {"blurry_vae": vae, "keyframe_unet": keyframe_unet, "keyframe_scheduler": keyframe_scheduler,
                  "keyframe_vae": vae, "caption_model": caption_model, "caption_processor": caption_processor,
                  "vae": vae, "text_encoder": text_encoder(clip), "tokenizer": load_tokenizer(root),
                  "unet": UNetMotionModel.from_unet2d(video["unet"], video["motion_adapter"]).eval(),
                  "controlnet": video["controlnet"], "scheduler": video["scheduler"],
                  "image_encoder": image_encoder(clip), "fusion_classifier": load_fusion_classifier(root, dtype),
                  "perception": None, "semantics": None}
    versions = {f"zoo/mini/{name}": weights_digest(base / name)
                for name in ("vae", "clip", "keyframe", "captioner", "t2v", "fusion") if (base / name).exists()}
    if subject is not None:
        models, model_versions = load_reconstructors(subject, reconstructors, dtype)
        components.update(models)
        versions.update(model_versions)
    return components, versions
