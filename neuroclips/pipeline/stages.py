"""The mini zoo's generative stages as stand-alone pipelines (unCLIP keyframes, BLIP-2 captions, the video
model), for the zoo's own gates, benches and tests; :class:`~neuroclips.pipeline.NeuroClipsPipeline` holds the
same components."""

from __future__ import annotations

import os

from ..zoo import mini
from .caption import Captioner
from .unclip import UnCLIPKeyframePipeline
from .video import NeuroClipsVideoPipeline


def load_keyframe_pipeline(root: str | os.PathLike | None = None, vae=None, dtype=None) -> UnCLIPKeyframePipeline:
    """unCLIP keyframe generator of the mini zoo (``vae``: reuse an already loaded one)."""
    unet, scheduler = mini.load_keyframe_components(root, dtype)
    pipe = UnCLIPKeyframePipeline(unet=unet, scheduler=scheduler, vae=vae if vae is not None else mini.load_vae(root, dtype))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def load_captioner(root: str | os.PathLike | None = None, dtype=None) -> Captioner:
    """The mini zoo's BLIP-2 captioner."""
    return Captioner(*mini.load_captioner_components(root, dtype))


def load_video_pipeline(root: str | os.PathLike | None = None, vae=None, clip=None, dtype=None) -> NeuroClipsVideoPipeline:
    """Text-to-video with SparseCtrl and α/β/γ guidance (a diffusers ``AnimateDiffSparseControlNetPipeline``) from the
    mini zoo's spatial UNet, motion adapter, SparseCtrl RGB, VAE and CLIP text tower."""
    c = mini.load_video_components(root, dtype)
    clip = clip if clip is not None else mini.load_clip(root, dtype)
    pipe = NeuroClipsVideoPipeline(vae=vae if vae is not None else mini.load_vae(root, dtype),
                                   text_encoder=mini.text_encoder(clip), tokenizer=mini.load_tokenizer(root),
                                   unet=c["unet"], motion_adapter=c["motion_adapter"], controlnet=c["controlnet"],
                                   scheduler=c["scheduler"])
    pipe.set_progress_bar_config(disable=True)
    return pipe
