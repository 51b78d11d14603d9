"""Loaders for the real checkpoints' own formats into the classes the pipeline uses (spec §4-5, §9.1).

Each loader checks that the checkpoint fills the model exactly: a missing or unexpected key is an error that names
the keys, never a silently random weight. Key renames come from diffusers' converters where it has them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

from . import configs
from .lean import cast_state_dict, read_lazy, read_state_dict, unwrap  # noqa: F401 (unwrap: API)

logger = logging.getLogger(__name__)


class CheckpointMismatchError(ValueError):
    """A checkpoint's keys do not match the model they are loaded into."""


# ------------------------------------------------------------------------------------------------ reading
def read_checkpoint(path: str | os.PathLike) -> dict:
    """The checkpoint's object with memory-mapped tensors, nothing read yet (see :func:`.lean.read_lazy`): cast it
    with :func:`.lean.cast_state_dict`, which reads each tensor once, straight into its target dtype."""
    return read_lazy(path)


def check_keys(model: torch.nn.Module, state_dict: dict, what: str, ignore_missing=()) -> None:
    """Fail, naming the keys, unless ``state_dict`` fills ``model`` exactly (``ignore_missing``: key suffixes the
    model may keep from its own init)."""
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


def load_exactly(model: torch.nn.Module, state_dict: dict, what: str, ignore_missing=()) -> torch.nn.Module:
    """Load ``state_dict`` into ``model`` (whose parameters may be on the meta device) and fail on any mismatch.
    The tensors are assigned, not copied: the model takes their dtype."""
    check_keys(model, state_dict, what, ignore_missing)
    model.load_state_dict(state_dict, strict=False, assign=True)
    return model


def _empty(cls, **config):
    """``cls(**config)`` with parameters on the meta device (buffers real), filled later by :func:`load_exactly`."""
    from accelerate import init_empty_weights

    with init_empty_weights(include_buffers=False):
        return cls(**config)


def _empty_from_config(cls, config: dict):
    """``cls.from_config(config)`` (a diffusers config as read from ``config.json``) on the meta device."""
    from accelerate import init_empty_weights

    with init_empty_weights(include_buffers=False):
        return cls.from_config(config)


# ------------------------------------------------------------------------------------------------ AnimateDiff
def _check_positional_encodings(sd: dict, model: torch.nn.Module, what: str) -> None:
    """The checkpoint's sinusoidal positional encodings must equal the model's (diffusers computes them instead of
    loading them; a mismatch means a different maximum length)."""
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


def _load_animatediff(path, cls, config: dict, dtype: torch.dtype, what: str, unwrap_keys: tuple[str, ...],
                      keep=None) -> torch.nn.Module:
    """An AnimateDiff checkpoint (original names, ``pos_encoder.pe`` buffers) into an empty ``cls(**config)``,
    each tensor read once, in ``dtype``."""
    from diffusers.loaders.single_file_utils import convert_animatediff_checkpoint_to_diffusers

    sd = unwrap(read_checkpoint(path), *unwrap_keys)
    if keep is not None:
        sd = {k: v for k, v in sd.items() if keep(k)}
    model = _empty(cls, **config)
    what = f"{what} {Path(path).name}"
    _check_positional_encodings(sd, model, what)  # in the file's precision, before the cast
    sd = cast_state_dict(convert_animatediff_checkpoint_to_diffusers(sd), dtype, path)
    # .to: the positional encodings diffusers computed in fp32 (the parameters are in dtype already)
    return load_exactly(model, sd, what, ignore_missing=("pos_embed.pe",)).to(dtype).eval()


def load_motion_adapter(path: str | os.PathLike, config: dict | None = None, dtype: torch.dtype = torch.float32):
    """``v3_sd15_mm.ckpt`` -> diffusers ``MotionAdapter``. As the reference's ``load_weights``, only the
    ``motion_modules.`` keys are read (spec §5.1)."""
    from diffusers import MotionAdapter

    return _load_animatediff(path, MotionAdapter, config or configs.MOTION_ADAPTER_V3, dtype, "motion module",
                             ("state_dict",), keep=lambda k: "motion_modules." in k)


def load_sparsectrl(path: str | os.PathLike, config: dict | None = None, dtype: torch.dtype = torch.float32):
    """``v3_sd15_sparsectrl_rgb.ckpt`` (weights under ``"controlnet"``) -> diffusers ``SparseControlNetModel``."""
    from diffusers import SparseControlNetModel

    return _load_animatediff(path, SparseControlNetModel, config or configs.SPARSECTRL_RGB, dtype, "SparseCtrl",
                             ("controlnet", "state_dict"))


_LORA_TARGETS = {"to_q_lora": "to_q", "to_k_lora": "to_k", "to_v_lora": "to_v", "to_out_lora": "to_out.0"}


def _domain_adapter_deltas(path: str | os.PathLike):
    """``(layer name, up @ down in fp32)`` of each LoRA pair in ``v3_sd15_adapter.ckpt``; a key that is not part of
    a pair of the old attention-processor format is an error."""
    sd = unwrap(read_checkpoint(path), "state_dict")
    downs = sorted(k for k in sd if k.endswith(".down.weight"))
    used = set()
    for down_key in downs:
        up_key = down_key[: -len(".down.weight")] + ".up.weight"
        attention, _, proj = down_key[: -len(".down.weight")].rpartition(".processor.")
        if up_key not in sd or proj not in _LORA_TARGETS:
            raise CheckpointMismatchError(f"domain adapter: unexpected LoRA key {down_key}")
        used |= {down_key, up_key}
        yield down_key, f"{attention}.{_LORA_TARGETS[proj]}", sd[up_key].float() @ sd[down_key].float()
    leftover = sorted(set(sd) - used)
    if leftover:
        raise CheckpointMismatchError(f"domain adapter: {len(leftover)} keys not merged, e.g. {leftover[:3]}")


def merge_domain_adapter(unet: torch.nn.Module, path: str | os.PathLike, scale: float = 1.0) -> int:
    """Merge ``v3_sd15_adapter.ckpt`` into a UNet's attention projections: W <- W + scale * up @ down, as the
    reference's ``load_diffusers_lora`` with ``adapter_lora_scale`` 1.0 (spec §5.1). Its keys are the old
    attention-processor LoRA format, ``<attention>.processor.to_q_lora.down.weight``. Returns the number of layers
    merged; a key that maps to no layer is an error."""
    n = 0
    for down_key, name, delta in _domain_adapter_deltas(path):
        try:
            layer = unet.get_submodule(name)
        except AttributeError:
            raise CheckpointMismatchError(f"domain adapter: {down_key} targets {name}, which the UNet lacks") from None
        if delta.shape != layer.weight.shape:
            raise CheckpointMismatchError(f"domain adapter: {name} is {tuple(layer.weight.shape)}, LoRA gives "
                                          f"{tuple(delta.shape)}")
        with torch.no_grad():
            layer.weight.copy_((layer.weight.float() + scale * delta.to(layer.weight.device)).to(layer.weight.dtype))
        n += 1
    return n


def merge_domain_adapter_into_state_dict(state_dict: dict, path: str | os.PathLike, scale: float = 1.0,
                                         dtype: torch.dtype | None = None) -> int:
    """:func:`merge_domain_adapter` on a UNet's diffusers state dict before it is cast: each merged weight is
    ``W + scale * up @ down`` computed in fp32 (W at the file's precision), then cast to ``dtype`` (default fp32):
    exactly what merging into an fp32 UNet and casting it gave. Returns the number of layers merged."""
    n = 0
    for down_key, name, delta in _domain_adapter_deltas(path):
        weight = state_dict.get(f"{name}.weight")
        if weight is None:
            raise CheckpointMismatchError(f"domain adapter: {down_key} targets {name}, which the UNet lacks")
        if delta.shape != weight.shape:
            raise CheckpointMismatchError(f"domain adapter: {name} is {tuple(weight.shape)}, LoRA gives "
                                          f"{tuple(delta.shape)}")
        state_dict[f"{name}.weight"] = (weight.float() + scale * delta).to(dtype or torch.float32)
        n += 1
    return n


def load_base_model(path: str | os.PathLike, sd15_dir: str | os.PathLike, dtype: torch.dtype = torch.float32,
                    domain_adapter: str | os.PathLike | None = None, adapter_scale: float = 1.0):
    """A single-file SD 1.5 checkpoint (Realistic Vision V6.0 B1, LDM layout) -> (unet, vae, text_encoder,
    tokenizer), with SD 1.5's configs and tokenizer from ``sd15_dir`` (spec §5.1: it replaces the VAE, the UNet's
    2-D weights and the text encoder). ``domain_adapter`` (``v3_sd15_adapter.ckpt``) is merged into the UNet before
    it is cast, in fp32 as the reference does (:func:`merge_domain_adapter_into_state_dict`).

    The components are built as ``StableDiffusionPipeline.from_single_file(config=sd15_dir)`` builds them, with
    diffusers' own converters, but from one memory-mapped read of the file whose tensors are cast one at a time."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint, create_diffusers_clip_model_from_ldm
    from transformers import CLIPTextModel, CLIPTokenizer

    name = Path(path).name
    checkpoint = read_checkpoint(path)
    parts = {p: {k: v for k, v in checkpoint.items() if k.startswith(p)}
             for p in ("model.diffusion_model.", "first_stage_model.", "cond_stage_model.")}
    for prefix, part in parts.items():
        if not part:
            raise CheckpointMismatchError(f"base model {name}: no tensors under {prefix}; is it an SD 1.5 checkpoint?")

    unet_config = UNet2DConditionModel.load_config(str(sd15_dir), subfolder="unet", local_files_only=True)
    unet_sd = convert_ldm_unet_checkpoint(parts["model.diffusion_model."], unet_config)  # renames only
    if domain_adapter is not None:
        merge_domain_adapter_into_state_dict(unet_sd, domain_adapter, adapter_scale, dtype)
    unet = load_exactly(_empty_from_config(UNet2DConditionModel, unet_config), cast_state_dict(unet_sd, dtype, path),
                        f"base model UNet {name}").to(dtype)
    vae = AutoencoderKL.from_single_file(cast_state_dict(parts["first_stage_model."], dtype, path),
                                         config=str(sd15_dir), subfolder="vae", torch_dtype=dtype, local_files_only=True)
    text_encoder = create_diffusers_clip_model_from_ldm(
        CLIPTextModel, cast_state_dict(parts["cond_stage_model."], dtype, path), config=str(sd15_dir),
        subfolder="text_encoder", torch_dtype=dtype, local_files_only=True)
    tokenizer = CLIPTokenizer.from_pretrained(str(sd15_dir), subfolder="tokenizer", local_files_only=True)
    return unet.eval(), vae.eval(), text_encoder.eval(), tokenizer


def motion_unet(unet2d: torch.nn.Module, motion_adapter: torch.nn.Module) -> torch.nn.Module:
    """``UNetMotionModel.from_unet2d(unet2d, motion_adapter)`` built on the meta device and filled with the two
    models' own tensors (shared, not copied): diffusers' version first initialises a full fp32 UNet."""
    from diffusers import UNetMotionModel

    if motion_adapter.config.get("conv_in_channels"):  # PIA's adapters replace conv_in: diffusers' way
        return UNetMotionModel.from_unet2d(unet2d, motion_adapter)
    from accelerate import init_empty_weights

    with init_empty_weights(include_buffers=False):
        model = UNetMotionModel.from_unet2d(unet2d, motion_adapter, load_weights=False)
    sd = dict(unet2d.state_dict())
    sd.update((k, v) for k, v in motion_adapter.state_dict().items() if ".motion_modules." in k)
    return load_exactly(model, sd, "video UNet (base model + motion module)").to(unet2d.dtype).eval()


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
                 image_size: int = configs.UNCLIP6_SIZE, vae_dtype: torch.dtype | None = None):
    """MindEye2's ``unclip6`` (sgm ``DiffusionEngine`` checkpoint) -> (UNet2DConditionModel with 1664-d cross-
    attention and a 1024-d projection class embedding, SDXL ``AutoencoderKL``), via diffusers' single-file
    converters with unclip6's architecture (spec §4.2). The conditioner's bigG weights in the file are not read:
    the Semantics Reconstructor supplies the tokens. ``image_size``: the output size (768 px, 96x96 latents);
    ``vae_dtype``: the VAE's (default ``dtype``; the full zoo keeps it fp32, it overflows in fp16)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel

    original_config = original_config or configs.UNCLIP6_ORIGINAL_CONFIG
    sd, source = path_or_state_dict, None
    if not isinstance(sd, dict):
        sd, source = unwrap(read_checkpoint(sd), "state_dict"), sd
    parts = {}
    for prefix, cls, what, part_dtype in (("model.diffusion_model.", UNet2DConditionModel, "unclip6 UNet", dtype),
                                          ("first_stage_model.", AutoencoderKL, "unclip6 VAE", vae_dtype or dtype)):
        part = cast_state_dict({k: v for k, v in sd.items() if k.startswith(prefix)}, part_dtype, source)
        try:
            model = cls.from_single_file(part, original_config=original_config, torch_dtype=part_dtype)
        except NotImplementedError as err:  # diffusers leaves unfilled parameters on the meta device
            raise CheckpointMismatchError(f"{what}: the checkpoint does not fill the model ({err})") from None
        n_own = len(model.state_dict())
        if len(part) != n_own:  # the converters map key for key; diffusers only logs leftovers
            raise CheckpointMismatchError(f"{what}: {len(part)} tensors under {prefix} for {n_own} in the model")
        parts[prefix] = model.eval()
        del part
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

    sd = read_state_dict(path, dtype, ("state_dict", "model_state_dict"))
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
    """BLIP-2 from the folder the manifest downloads at the pinned revision (spec §4.3) -> (model, processor).

    Its safetensors shards are read here, one tensor at a time, in ``dtype`` (the modules transformers keeps in
    fp32, the Q-Former and query tokens, at the file's precision), and handed to ``from_pretrained(state_dict=)``:
    transformers' own loader keeps every page it has read of the 15 GB of fp32 shards mapped until it returns."""
    import json

    from transformers import Blip2Config, Blip2ForConditionalGeneration, Blip2Processor, GenerationConfig

    folder = Path(folder)
    processor = Blip2Processor.from_pretrained(folder, local_files_only=True)
    index = folder / "model.safetensors.index.json"
    shards = ([folder / f for f in sorted(set(json.loads(index.read_text())["weight_map"].values()))] if index.exists()
              else [folder / "model.safetensors"] if (folder / "model.safetensors").exists() else [])
    if not shards:  # another format (pytorch_model.bin): transformers reads it
        model = Blip2ForConditionalGeneration.from_pretrained(folder, dtype=dtype, local_files_only=True)
        return model.eval(), processor
    fp32_modules = tuple(Blip2ForConditionalGeneration._keep_in_fp32_modules or ())
    state_dict = {}
    for shard in shards:
        lazy = read_checkpoint(shard)
        kept = {k: v for k, v in lazy.items() if any(m in k.split(".") for m in fp32_modules)}
        state_dict.update(cast_state_dict(kept, None, shard))
        state_dict.update(cast_state_dict({k: v for k, v in lazy.items() if k not in kept}, dtype, shard))
        del lazy, kept
    model = Blip2ForConditionalGeneration.from_pretrained(
        None, config=Blip2Config.from_pretrained(folder, local_files_only=True), state_dict=state_dict, dtype=dtype)
    if (folder / "generation_config.json").exists():
        model.generation_config = GenerationConfig.from_pretrained(folder, local_files_only=True)
    return model.eval(), processor


def load_bigg(path: str | os.PathLike, model_name: str = configs.BIGG_MODEL, dtype: torch.dtype = torch.float32):
    """OpenCLIP bigG weights (``open_clip_pytorch_model.bin``) -> :class:`OpenCLIPImageEncoder` (the vision tower;
    tokens as sgm's embedder returns them). The file must fill open_clip's whole ``model_name`` (as
    ``open_clip.create_model(pretrained=...)`` requires), but only the vision tower is read, in ``dtype``."""
    import open_clip
    from accelerate import init_empty_weights

    from .bigg import OpenCLIPImageEncoder

    cfg = open_clip.get_model_config(model_name)
    if cfg is None:
        raise ValueError(f"open_clip has no model config {model_name!r}")
    with init_empty_weights(include_buffers=False):
        model = open_clip.CLIP(**cfg)
    sd = unwrap(read_checkpoint(path), "state_dict")
    sd = {k.removeprefix("module."): v for k, v in sd.items()}  # as open_clip's load_state_dict
    check_keys(model, sd, f"OpenCLIP {model_name} {Path(path).name}")
    visual = {k.removeprefix("visual."): v for k, v in sd.items() if k.startswith("visual.")}
    load_exactly(model.visual, cast_state_dict(visual, dtype, path), f"OpenCLIP {model_name} vision tower")
    return OpenCLIPImageEncoder.from_open_clip(model, model_name).to(dtype).eval()
