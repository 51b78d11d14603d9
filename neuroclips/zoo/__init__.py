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
