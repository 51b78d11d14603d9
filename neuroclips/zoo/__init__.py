"""Model zoos behind one interface: ``mini`` (trained here on the simulated world) and ``full`` (the real
checkpoints of spec §9 on a GPU host, :mod:`neuroclips.zoo.full`). Components are the real library classes; only
configs and weights differ between zoos."""

from __future__ import annotations

import os
from pathlib import Path

from ..paths import demo_data_dir

COMPONENTS = ("tokenizer", "vae", "clip", "keyframe", "captioner", "t2v")


def zoo_dir(name: str = "mini", root: str | os.PathLike | None = None) -> Path:
    """Folder of a zoo's weights: the mini zoo ships in ``demo_data/zoo/mini``; the full zoo is downloaded to
    ``$NEUROCLIPS_FULL_ZOO`` or ``<cache>/zoo/full``."""
    if name not in ("mini", "full"):
        raise ValueError(f"unknown model zoo {name!r}; choose 'mini' or 'full'")
    if name == "full":
        from .full.weights import full_zoo_root

        return full_zoo_root(root)
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


def text_encoder(clip):
    """The text tower of a ``CLIPModel`` as a ``CLIPTextModel`` sharing its weights (what diffusers pipelines
    register as ``text_encoder``, with ``save_pretrained``)."""
    from transformers import CLIPTextModel

    if isinstance(clip, CLIPTextModel):
        return clip
    model = CLIPTextModel(clip.config.text_config)
    model.text_model = clip.text_model
    return model.eval()


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
    """Text-to-video with SparseCtrl and α/β/γ guidance (:class:`~neuroclips.pipeline.video.NeuroClipsVideoPipeline`,
    a diffusers ``AnimateDiffSparseControlNetPipeline``) from the zoo's spatial UNet, motion adapter, SparseCtrl
    RGB, VAE and CLIP text tower."""
    import torch
    from diffusers import DDIMScheduler, MotionAdapter, SparseControlNetModel, UNet2DConditionModel

    from ..pipeline.video import NeuroClipsVideoPipeline

    path = zoo_dir(zoo, root) / "t2v"
    dtype = dtype or torch.float32
    unet = UNet2DConditionModel.from_pretrained(_require(path / "unet", "text-to-video UNet", "t2v"), torch_dtype=dtype)
    adapter = MotionAdapter.from_pretrained(path / "motion_adapter", torch_dtype=dtype)
    controlnet = SparseControlNetModel.from_pretrained(path / "controlnet", torch_dtype=dtype)
    clip = clip if clip is not None else load_clip(zoo, root, dtype)
    pipe = NeuroClipsVideoPipeline(
        vae=vae if vae is not None else load_vae(zoo, root, dtype), text_encoder=text_encoder(clip),
        tokenizer=load_tokenizer(zoo, root), unet=unet, motion_adapter=adapter, controlnet=controlnet,
        scheduler=DDIMScheduler.from_pretrained(path / "scheduler"))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def load_fusion_classifier(zoo: str = "mini", root: str | os.PathLike | None = None, dtype=None):
    """Multi-fMRI fusion's keyframe-similarity classifier, or None where the zoo has none yet."""
    import torch

    from ..models.fusion import KeyframeSimilarityClassifier

    path = zoo_dir(zoo, root) / "fusion"
    if not (path / "config.json").exists():
        return None
    return KeyframeSimilarityClassifier.from_pretrained(path, torch_dtype=dtype or torch.float32).eval()


def weights_digest(path: str | os.PathLike) -> str:
    """Short SHA-256 of a component folder's weight files: the 'model version' written beside results."""
    import hashlib

    h = hashlib.sha256()
    files = sorted(Path(path).rglob("*.safetensors"))
    if not files:
        return "none"
    for f in files:
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                h.update(block)
    return h.hexdigest()[:12]


def assemble_pipeline_components(zoo: str = "mini", subject: int | None = 1, reconstructors: str | os.PathLike | None = None,
                                 root: str | os.PathLike | None = None, dtype=None) -> tuple[dict, dict]:
    """Components of :class:`~neuroclips.pipeline.NeuroClipsPipeline` from a zoo and a subject's PR/SR
    checkpoints (``reconstructors/sub-0N/{perception,semantics}``; default: the shipped ones). Returns
    (components, versions)."""
    import torch
    from diffusers import DDIMScheduler, UNetMotionModel

    from ..models import PerceptionReconstructor, SemanticsReconstructor

    if zoo == "full":
        from .full import assemble_components

        return assemble_components(subject, root, dtype, reconstructors)
    dtype = dtype or torch.float32
    base = zoo_dir(zoo, root)
    vae, clip = load_vae(zoo, root, dtype), load_clip(zoo, root, dtype)
    keyframe = load_keyframe_pipeline(zoo, root, vae=vae, dtype=dtype)
    captioner = load_captioner(zoo, root, dtype)
    video = load_video_pipeline(zoo, root, vae=vae, clip=clip, dtype=dtype)
    unet = video.unet if isinstance(video.unet, UNetMotionModel) else UNetMotionModel.from_unet2d(video.unet, video.motion_adapter)
    components = {"blurry_vae": vae, "keyframe_unet": keyframe.unet, "keyframe_scheduler": keyframe.scheduler,
                  "keyframe_vae": vae, "caption_model": captioner.model, "caption_processor": captioner.processor,
                  "vae": vae, "text_encoder": video.text_encoder, "tokenizer": video.tokenizer, "unet": unet.eval(),
                  "controlnet": video.controlnet.eval(), "scheduler": DDIMScheduler.from_config(video.scheduler.config),
                  "image_encoder": image_encoder(clip), "fusion_classifier": load_fusion_classifier(zoo, root, dtype)}
    versions = {f"zoo/{zoo}/{name}": weights_digest(base / name)
                for name in ("vae", "clip", "keyframe", "captioner", "t2v", "fusion") if (base / name).exists()}
    components["perception"], components["semantics"] = None, None
    if subject is not None:
        for name, cls in (("perception", PerceptionReconstructor), ("semantics", SemanticsReconstructor)):
            components[name], versions[name] = load_reconstructor(cls, name, subject, reconstructors, dtype)
    return components, versions


def reconstructors_root(zoo: str = "mini", root: str | os.PathLike | None = None) -> Path | None:
    """Where a zoo's PR/SR checkpoints live: the shipped ones for the mini zoo (None), ``<full zoo>/reconstructors``
    for the full zoo."""
    return zoo_dir("full", root) / "reconstructors" if zoo == "full" else None


def reconstructor_dir(subject: int, model: str, root: str | os.PathLike | None = None) -> Path:
    """``<root>/sub-0N/<model>``; the default root is the shipped ``demo_data/reconstructors``."""
    base = Path(root) if root is not None else demo_data_dir() / "reconstructors"
    return base / f"sub-{subject:02d}" / model


def load_reconstructor(cls, model: str, subject: int, root: str | os.PathLike | None = None, dtype=None):
    """(model, version) of one subject's trained PR or SR."""
    import torch

    path = reconstructor_dir(subject, model, root)
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"no {model} checkpoint for subject {subject} at {path}; train it with "
                                f"`python -m neuroclips train-{'pr' if model == 'perception' else 'sr'} --subject {subject}`")
    return cls.from_pretrained(path, torch_dtype=dtype or torch.float32).eval(), weights_digest(path)
