"""``train-zoo``: one entry point per mini-zoo component, in dependency order (the tokenizer and VAE first,
CLIP before the keyframe generator and the text-to-video model, which use its towers)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..frames import FPS_GT, FPS_VIDEO


def _tokenizer(stimuli, out: Path, work: Path, steps, resume) -> dict:
    from ..zoo.mini.tokenizer import train_clip_tokenizer
    from .data import tokenizer_corpus

    tok = train_clip_tokenizer(tokenizer_corpus(stimuli))
    tok.save_pretrained(out)
    return {"tokens": len(tok), "path": str(out)}


def _vae(stimuli, out: Path, work: Path, steps, resume) -> dict:
    from .zoo_vae import VAETrainingConfig, train_vae, training_frames

    cfg = VAETrainingConfig() if steps is None else replace(VAETrainingConfig(), steps=steps)
    return train_vae(out, work, training_frames(stimuli), cfg, resume=resume)


def _clip(stimuli, out: Path, work: Path, steps, resume) -> dict:
    from ..zoo.mini import load_tokenizer
    from .data import captioned_frames
    from .zoo_clip import CLIPTrainingConfig, train_clip

    cfg = CLIPTrainingConfig() if steps is None else replace(CLIPTrainingConfig(), steps=steps)
    return train_clip(out, work, captioned_frames(stimuli, "train"), load_tokenizer(), cfg, resume=resume)


def _keyframe(stimuli, out: Path, work: Path, steps, resume) -> dict:
    from ..zoo.mini import load_clip, load_vae
    from .data import rendered_clips
    from .zoo_keyframe import KeyframeTrainingConfig, train_keyframe

    cfg = KeyframeTrainingConfig() if steps is None else replace(KeyframeTrainingConfig(), steps=steps)
    frames = rendered_clips(stimuli, "train", FPS_GT)  # every frame: the generator is conditioned on its own tokens
    return train_keyframe(out, work, frames.reshape(-1, *frames.shape[2:]), load_vae(), load_clip().vision_model,
                          cfg, resume=resume)


def _captioner(stimuli, out: Path, work: Path, steps, resume) -> dict:
    from .data import captioned_frames
    from .zoo_captioner import CaptionerTrainingConfig, train_captioner

    cfg = CaptionerTrainingConfig() if steps is None else replace(CaptionerTrainingConfig(), steps=steps)
    return train_captioner(out, work, captioned_frames(stimuli, "train"), cfg, resume=resume)


def _t2v(stimuli, out: Path, work: Path, steps, resume) -> dict:
    from ..simulation.stimuli import MovieRenderer
    from ..zoo.mini import load_clip, load_tokenizer, load_vae
    from .data import rendered_clips
    from .zoo_t2v import T2VTrainingConfig, train_t2v

    cfg = T2VTrainingConfig() if steps is None else replace(T2VTrainingConfig(), steps=steps)
    clips = rendered_clips(stimuli, "train", FPS_VIDEO)  # 16 frames at 8 FPS, the AnimateDiff clip length
    r = MovieRenderer(stimuli)
    captions = [r.clip_info("train", i).caption for i in range(len(clips))]
    return train_t2v(out, work, clips, captions, load_vae(), load_clip().text_model, load_tokenizer(), cfg,
                     resume=resume)


TRAINERS = {"tokenizer": _tokenizer, "vae": _vae, "clip": _clip, "keyframe": _keyframe, "captioner": _captioner, "t2v": _t2v}


def train(component: str, stimuli, out: Path, work: Path, steps: int | None = None, resume: bool = False) -> dict:
    """Train one component of the mini zoo; weights go to ``out``, checkpoints to ``work``."""
    if component not in TRAINERS:
        raise ValueError(f"training of {component!r} is not implemented yet; available: {', '.join(TRAINERS)}")
    return TRAINERS[component](stimuli, Path(out), Path(work), steps, resume)
