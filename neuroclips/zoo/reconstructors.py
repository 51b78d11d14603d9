"""Loading a subject's trained Perception and Semantics Reconstructors, and the versions written beside results;
shared by every zoo."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..paths import reconstructor_dir

MODELS = ("perception", "semantics")


def weights_digest(path: str | os.PathLike) -> str:
    """Short SHA-256 of a component folder's weight files: the 'model version' written beside results."""
    h = hashlib.sha256()
    files = sorted(Path(path).rglob("*.safetensors"))
    if not files:
        return "none"
    for f in files:
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                h.update(block)
    return h.hexdigest()[:12]


def reconstructor_class(model: str):
    from ..models import PerceptionReconstructor, SemanticsReconstructor

    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    return PerceptionReconstructor if model == "perception" else SemanticsReconstructor


def load_reconstructor(model: str, subject: int, root: str | os.PathLike | None = None, dtype=None):
    """(model, version) of one subject's trained PR (``model="perception"``) or SR (``"semantics"``) from
    ``<root>/sub-0N/<model>`` (default root: the shipped ``demo_data/reconstructors``)."""
    import torch

    path = reconstructor_dir(subject, model, root)
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"no {model} checkpoint for subject {subject} at {path}; train it with "
                                f"`python -m neuroclips train-{'pr' if model == 'perception' else 'sr'} --subject {subject}`")
    return load_lean(reconstructor_class(model), path, dtype or torch.float32).eval(), weights_digest(path)


def load_lean(cls, path: str | os.PathLike, dtype):
    """``cls.from_pretrained(path, torch_dtype=dtype)`` for a diffusers model folder (``config.json`` +
    ``*.safetensors``), with each tensor read once, straight into ``dtype``: diffusers' own loader keeps every page of
    the file it has read mapped until it returns, which for SR in fp16 is its fp32 file on top of the model. As
    diffusers, the model is built under ``dtype`` as the default dtype (buffers it computes are in ``dtype``);
    unlike it, a missing or unexpected tensor is an error."""
    import torch
    from accelerate import init_empty_weights

    from .full.lean import read_state_dict
    from .full.loaders import load_exactly

    path = Path(path)
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"no *.safetensors beside {path / 'config.json'}")
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with init_empty_weights(include_buffers=False):
            model = cls.from_config(cls.load_config(path))
    finally:
        torch.set_default_dtype(default)
    state_dict = {}
    for f in files:
        state_dict.update(read_state_dict(f, dtype))
    load_exactly(model, state_dict, f"{cls.__name__} {path}")
    model.register_to_config(_name_or_path=str(path))
    return model


def load_reconstructors(subject: int, root: str | os.PathLike | None = None, dtype=None) -> tuple[dict, dict]:
    """({"perception": PR, "semantics": SR}, {"perception": version, "semantics": version}) of one subject."""
    models, versions = {}, {}
    for model in MODELS:
        models[model], versions[model] = load_reconstructor(model, subject, root, dtype)
    return models, versions
