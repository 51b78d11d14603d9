"""Loaders for the real checkpoints' own formats into the classes the pipeline uses (spec §4-5, §9.1).

Each loader checks that the checkpoint fills the model exactly: a missing or unexpected key is an error that names
the keys, never a silently random weight. Key renames come from diffusers' converters where it has them.
"""

from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path

import torch

from . import configs

logger = logging.getLogger(__name__)


class CheckpointMismatchError(ValueError):
    """A checkpoint's keys do not match the model they are loaded into."""


# ------------------------------------------------------------------------------------------------ reading
def read_checkpoint(path: str | os.PathLike) -> dict:
    """A state dict from ``.safetensors``, or from ``.ckpt``/``.pth``/``.bin`` (torch zip, memory-mapped).

    Tensor-only pickles load with ``weights_only=True``. Some real files also pickle config objects (AnimateDiff's
    ``animatediff_config``, MindEye2's training args); those are retried with ``weights_only=False``, which runs
    their pickle: only do this for the manifest's pinned files."""
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(path)
    try:
        return torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    except pickle.UnpicklingError as err:  # weights_only refuses the file's non-tensor objects
        logger.warning("%s holds non-tensor objects (%s); loading it as a trusted pickle", path.name, err)
        return torch.load(path, map_location="cpu", mmap=True, weights_only=False)


def unwrap(checkpoint: dict, *keys: str) -> dict:
    """Descend into the first of ``keys`` present (e.g. ``"controlnet"``, ``"state_dict"``), repeatedly, and drop
    non-tensor entries such as ``animatediff_config``."""
    sd = checkpoint
    changed = True
    while changed:
        changed = False
        for k in keys:
            if isinstance(sd.get(k), dict):
                sd, changed = sd[k], True
                break
    return {k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}


def load_exactly(model: torch.nn.Module, state_dict: dict, what: str, ignore_missing=()) -> torch.nn.Module:
    """Load ``state_dict`` into ``model`` (whose parameters may be on the meta device) and fail on any mismatch."""
    own = model.state_dict()
    missing = sorted(k for k in own if k not in state_dict and not any(k.endswith(s) for s in ignore_missing))
    unexpected = sorted(k for k in state_dict if k not in own)
    wrong = sorted(k for k in state_dict if k in own and tuple(state_dict[k].shape) != tuple(own[k].shape))
    if missing or unexpected or wrong:
        def show(keys):
            return ", ".join(keys[:5]) + (f" (+{len(keys) - 5} more)" if len(keys) > 5 else "")

        raise CheckpointMismatchError(
            f"{what}: {len(missing)} missing keys [{show(missing)}], {len(unexpected)} unexpected [{show(unexpected)}], "
            f"{len(wrong)} with the wrong shape [{show(wrong)}]")
    model.load_state_dict(state_dict, strict=False, assign=True)
    return model


def _empty(cls, **config):
    """``cls(**config)`` with parameters on the meta device (buffers real), filled later by :func:`load_exactly`."""
    from accelerate import init_empty_weights

    with init_empty_weights(include_buffers=False):
        return cls(**config)


# ------------------------------------------------------------------------------------------------ AnimateDiff
def _animatediff_to_diffusers(sd: dict, model: torch.nn.Module, what: str) -> dict:
    """Original AnimateDiff motion-module names -> diffusers', with the sinusoidal positional encodings checked
    against the model's instead of loaded (diffusers computes them; a mismatch means a different max length)."""
    from diffusers.loaders.single_file_utils import convert_animatediff_checkpoint_to_diffusers

    own = model.state_dict()
    for key, pe in sd.items():
        if "pos_encoder.pe" not in key:
            continue
        target = convert_animatediff_checkpoint_to_diffusers({key.replace(".pos_encoder.pe", ".x"): pe})
        block = next(iter(target)).rsplit(".attn", 1)[0]  # ...transformer_blocks.N
        mine = own.get(f"{block}.pos_embed.pe")
        if mine is None or mine.shape != pe.shape or not torch.allclose(mine.float(), pe.float(), atol=1e-4):
            raise CheckpointMismatchError(f"{what}: positional encoding {key} {tuple(pe.shape)} does not match the "
                                          f"model's {None if mine is None else tuple(mine.shape)}")
    return convert_animatediff_checkpoint_to_diffusers(sd)


def load_motion_adapter(path: str | os.PathLike, config: dict | None = None, dtype: torch.dtype = torch.float32):
    """``v3_sd15_mm.ckpt`` -> diffusers ``MotionAdapter``. As the reference's ``load_weights``, only the
    ``motion_modules.`` keys are read (spec §5.1)."""
    from diffusers import MotionAdapter

    sd = unwrap(read_checkpoint(path), "state_dict")
    sd = {k: v for k, v in sd.items() if "motion_modules." in k}
    model = _empty(MotionAdapter, **(config or configs.MOTION_ADAPTER_V3))
    sd = _animatediff_to_diffusers(sd, model, "motion module")
    return load_exactly(model, sd, f"motion module {Path(path).name}", ignore_missing=("pos_embed.pe",)).to(dtype).eval()


def load_sparsectrl(path: str | os.PathLike, config: dict | None = None, dtype: torch.dtype = torch.float32):
    """``v3_sd15_sparsectrl_rgb.ckpt`` (weights under ``"controlnet"``) -> diffusers ``SparseControlNetModel``."""
    from diffusers import SparseControlNetModel

    sd = unwrap(read_checkpoint(path), "controlnet", "state_dict")
    model = _empty(SparseControlNetModel, **(config or configs.SPARSECTRL_RGB))
    sd = _animatediff_to_diffusers(sd, model, "SparseCtrl")
    return load_exactly(model, sd, f"SparseCtrl {Path(path).name}", ignore_missing=("pos_embed.pe",)).to(dtype).eval()


_LORA_TARGETS = {"to_q_lora": "to_q", "to_k_lora": "to_k", "to_v_lora": "to_v", "to_out_lora": "to_out.0"}


def merge_domain_adapter(unet: torch.nn.Module, path: str | os.PathLike, scale: float = 1.0) -> int:
    """Merge ``v3_sd15_adapter.ckpt`` into a UNet's attention projections: W <- W + scale * up @ down, as the
    reference's ``load_diffusers_lora`` with ``adapter_lora_scale`` 1.0 (spec §5.1). Its keys are the old
    attention-processor LoRA format, ``<attention>.processor.to_q_lora.down.weight``. Returns the number of layers
    merged; a key that maps to no layer is an error."""
    sd = unwrap(read_checkpoint(path), "state_dict")
    downs = sorted(k for k in sd if k.endswith(".down.weight"))
    used = set()
    for down_key in downs:
        up_key = down_key[: -len(".down.weight")] + ".up.weight"
        attention, _, proj = down_key[: -len(".down.weight")].rpartition(".processor.")
        if up_key not in sd or proj not in _LORA_TARGETS:
            raise CheckpointMismatchError(f"domain adapter: unexpected LoRA key {down_key}")
        name = f"{attention}.{_LORA_TARGETS[proj]}"
        try:
            layer = unet.get_submodule(name)
        except AttributeError:
            raise CheckpointMismatchError(f"domain adapter: {down_key} targets {name}, which the UNet lacks") from None
        delta = sd[up_key].float() @ sd[down_key].float()
        if delta.shape != layer.weight.shape:
            raise CheckpointMismatchError(f"domain adapter: {name} is {tuple(layer.weight.shape)}, LoRA gives "
                                          f"{tuple(delta.shape)}")
        with torch.no_grad():
            layer.weight.copy_((layer.weight.float() + scale * delta.to(layer.weight.device)).to(layer.weight.dtype))
        used |= {down_key, up_key}
    leftover = sorted(set(sd) - used)
    if leftover:
        raise CheckpointMismatchError(f"domain adapter: {len(leftover)} keys not merged, e.g. {leftover[:3]}")
    return len(downs)


def load_base_model(path: str | os.PathLike, sd15_dir: str | os.PathLike, dtype: torch.dtype = torch.float32):
    """A single-file SD 1.5 checkpoint (Realistic Vision V6.0 B1, LDM layout) -> (unet, vae, text_encoder,
    tokenizer), with SD 1.5's configs and tokenizer from ``sd15_dir`` (spec §5.1: it replaces the VAE, the UNet's
    2-D weights and the text encoder)."""
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_single_file(
        str(path), config=str(sd15_dir), safety_checker=None, feature_extractor=None, requires_safety_checker=False,
        local_files_only=True, torch_dtype=dtype)
    return pipe.unet.eval(), pipe.vae.eval(), pipe.text_encoder.eval(), pipe.tokenizer


# ------------------------------------------------------------------------------------------------ MindEye2
def unclip6_diffusers_configs(original_config: dict | None = None, image_size: int = configs.UNCLIP6_SIZE
                              ) -> tuple[dict, dict]:
    """(UNet, VAE) diffusers configs of unclip6's architecture, as diffusers' single-file converters derive them,
    at ``image_size`` (diffusers would guess 512 px)."""
    from diffusers.loaders.single_file_utils import (create_unet_diffusers_config_from_ldm,
                                                     create_vae_diffusers_config_from_ldm)

    original_config = original_config or configs.UNCLIP6_ORIGINAL_CONFIG
    unet = create_unet_diffusers_config_from_ldm(original_config, {})
    vae = create_vae_diffusers_config_from_ldm(original_config, {})
    factor = 2 ** (len(vae["block_out_channels"]) - 1)
    return {**unet, "sample_size": image_size // factor}, {**vae, "sample_size": image_size, "force_upcast": True}


def load_unclip6(path_or_state_dict, original_config: dict | None = None, dtype: torch.dtype = torch.float32,
                 image_size: int = configs.UNCLIP6_SIZE):
    """MindEye2's ``unclip6`` (sgm ``DiffusionEngine`` checkpoint) -> (UNet2DConditionModel with 1664-d cross-
    attention and a 1024-d projection class embedding, SDXL ``AutoencoderKL``), via diffusers' single-file
    converters with unclip6's architecture (spec §4.2). The conditioner's bigG weights in the file are not needed:
    the Semantics Reconstructor supplies the tokens. ``image_size``: the output size (768 px, 96x96 latents)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel

    original_config = original_config or configs.UNCLIP6_ORIGINAL_CONFIG
    sd = path_or_state_dict
    if not isinstance(sd, dict):
        sd = unwrap(read_checkpoint(sd), "state_dict")
    parts = {}
    for prefix, cls, what in (("model.diffusion_model.", UNet2DConditionModel, "unclip6 UNet"),
                              ("first_stage_model.", AutoencoderKL, "unclip6 VAE")):
        part = {k: v for k, v in sd.items() if k.startswith(prefix)}
        try:
            model = cls.from_single_file(part, original_config=original_config, torch_dtype=dtype)
        except NotImplementedError as err:  # diffusers leaves unfilled parameters on the meta device
            raise CheckpointMismatchError(f"{what}: the checkpoint does not fill the model ({err})") from None
        n_own = len(model.state_dict())
        if len(part) != n_own:  # the converters map key for key; diffusers only logs leftovers
            raise CheckpointMismatchError(f"{what}: {len(part)} tensors under {prefix} for {n_own} in the model")
        parts[prefix] = model.eval()
    unet, vae = parts["model.diffusion_model."], parts["first_stage_model."]
    # diffusers guesses 512 px for a checkpoint it cannot classify; unclip6 samples 768 px
    unet.register_to_config(sample_size=image_size // 2 ** (len(vae.config.block_out_channels) - 1))
    vae.register_to_config(force_upcast=True)  # the SDXL VAE overflows in fp16
    return unet, vae


def load_image_variation_vae(path: str | os.PathLike, config: dict | None = None, dtype: torch.dtype = torch.float32):
    """MindEye2's ``sd_image_var_autoenc.pth`` (a diffusers ``AutoencoderKL`` state dict) -> ``AutoencoderKL``: it
    decodes PR's latents into the blurry video (spec §2.6). Old attention names (query/key/value/proj_attn) are
    mapped to today's."""
    from diffusers import AutoencoderKL

    sd = unwrap(read_checkpoint(path), "state_dict", "model_state_dict")
    renames = {".query.": ".to_q.", ".key.": ".to_k.", ".value.": ".to_v.", ".proj_attn.": ".to_out.0."}
    out = {}
    for k, v in sd.items():
        for old, new in renames.items():
            k = k.replace(old, new)
        out[k] = v
    model = _empty(AutoencoderKL, **(config or configs.IMAGE_VARIATION_VAE))
    return load_exactly(model, out, f"image-variation VAE {Path(path).name}").to(dtype).eval()


# ------------------------------------------------------------------------------------------------ captions, CLIP
def load_blip2(folder: str | os.PathLike, dtype: torch.dtype = torch.float32):
    """BLIP-2 from the folder the manifest downloads at the pinned revision (spec §4.3) -> (model, processor)."""
    from transformers import Blip2ForConditionalGeneration, Blip2Processor

    model = Blip2ForConditionalGeneration.from_pretrained(folder, dtype=dtype, local_files_only=True)
    return model.eval(), Blip2Processor.from_pretrained(folder, local_files_only=True)


def load_bigg(path: str | os.PathLike, model_name: str = configs.BIGG_MODEL, dtype: torch.dtype = torch.float32):
    """OpenCLIP bigG weights (``open_clip_pytorch_model.bin``) through open_clip -> :class:`OpenCLIPImageEncoder`
    (the vision tower; tokens as sgm's embedder returns them)."""
    import open_clip

    from .bigg import OpenCLIPImageEncoder

    model = open_clip.create_model(model_name, pretrained=str(path), load_weights=True)
    return OpenCLIPImageEncoder.from_open_clip(model, model_name).to(dtype).eval()
