"""Synthetic checkpoints in the *original* (non-diffusers) key layouts of the real files (tests: tiny; the load
bench, `python -m neuroclips bench-load`: full size, on the meta device, written tensor by tensor).

Each ``*_state_dict`` function takes a (tiny and random, or full-size on the meta device) diffusers/transformers model and returns a state dict in the
layout of the real checkpoint it mirrors, whose tensors are the model's own tensors (views of them at most): a loader
that converts the file back must reproduce the model exactly. The mappings are the inverses of diffusers' single-file
converters (``diffusers.loaders.single_file_utils``), written against diffusers 0.42:

- :func:`ldm_unet_state_dict`: ``model.diffusion_model.*`` of CompVis LDM / Stability sgm checkpoints (SD 1.x/2.x,
  SDXL, SD unCLIP, MindEye2's ``unclip6``); diffusers reads it with ``convert_ldm_unet_checkpoint``.
- :func:`ldm_vae_state_dict`: ``first_stage_model.*`` of the same files, or a bare VAE file (``prefix=""``);
  ``convert_ldm_vae_checkpoint``.
- :func:`ldm_clip_text_state_dict`: ``cond_stage_model.transformer.text_model.*`` of SD 1.x files (CLIP ViT-L text
  tower); ``convert_ldm_clip_checkpoint`` / ``create_diffusers_clip_model_from_ldm``.
- :func:`animatediff_motion_state_dict`: AnimateDiff's ``mm_sd_v15_v2.ckpt`` / ``v3_sd15_mm.ckpt``;
  ``convert_animatediff_checkpoint_to_diffusers``.
- :func:`sparsectrl_state_dict`: AnimateDiff's ``v3_sd15_sparsectrl_{rgb,scribble}.ckpt`` (the dict under their
  ``"controlnet"`` key); ``convert_animatediff_checkpoint_to_diffusers``.

:func:`ldm_original_config` and :func:`sgm_original_config` write the ``original_config`` dicts (the parsed
``v1-inference.yaml`` / sgm yaml) that ``from_single_file(..., original_config=...)`` turns back into the models'
diffusers configs.
"""

from __future__ import annotations

import math
import re

import torch

__all__ = [
    "animatediff_motion_state_dict",
    "ldm_clip_text_state_dict",
    "ldm_original_config",
    "ldm_unet_state_dict",
    "ldm_vae_state_dict",
    "sgm_original_config",
    "sinusoidal_positional_encoding",
    "sparsectrl_state_dict",
]

# ------------------------------------------------------------------------------------------------ shared renames
# diffusers ResnetBlock2D (UNet) -> LDM ResBlock
_UNET_RESNET = {"norm1": "in_layers.0", "conv1": "in_layers.2", "norm2": "out_layers.0", "conv2": "out_layers.3",
                "time_emb_proj": "emb_layers.1", "conv_shortcut": "skip_connection"}
# top-level UNet modules
_UNET_TOP = {"conv_in": "input_blocks.0.0", "time_embedding.linear_1": "time_embed.0",
             "time_embedding.linear_2": "time_embed.2", "conv_norm_out": "out.0", "conv_out": "out.2",
             "class_embedding.linear_1": "label_emb.0.0", "class_embedding.linear_2": "label_emb.0.2",
             "add_embedding.linear_1": "label_emb.0.0", "add_embedding.linear_2": "label_emb.0.2",
             "class_embedding": "label_emb"}  # the last one: an nn.Embedding (num_class_embeds, e.g. the x4 upscaler)
# diffusers VAE Attention -> LDM AttnBlock (1x1 convolutions)
_VAE_ATTN = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}
# diffusers motion-module BasicTransformerBlock -> AnimateDiff TemporalTransformerBlock
_MOTION_BLOCK = {"norm1": "norms.0", "norm2": "norms.1", "norm3": "ff_norm",
                 "attn1": "attention_blocks.0", "attn2": "attention_blocks.1"}


def _split_module(rest: str, names) -> tuple[str, str]:
    """``rest`` = ``<one of names>.<param path>``: the longest matching module name and the remainder."""
    for name in sorted(names, key=len, reverse=True):
        if rest.startswith(name + "."):
            return name, rest[len(name) + 1:]
    raise KeyError(rest)


def _int_layers(config, what: str) -> int:
    n = config.layers_per_block
    if not isinstance(n, int):
        raise ValueError(f"{what}: the LDM layout needs one int layers_per_block, got {n!r}")
    return n


# ------------------------------------------------------------------------------------------------ UNet
def _ldm_unet_key(key: str, n_layers: int, up_has_attention: dict[int, bool]) -> str:
    """One diffusers ``UNet2DConditionModel`` key -> its CompVis/sgm ``UNetModel`` key (no prefix)."""
    per_level = n_layers + 1  # input_blocks per down level (resnets + downsampler), output_blocks per up level
    m = re.fullmatch(r"down_blocks\.(\d+)\.(resnets|attentions|downsamplers)\.(\d+)\.(.+)", key)
    if m:
        level, kind, j, rest = int(m[1]), m[2], int(m[3]), m[4]
        if kind == "downsamplers":  # Downsample(use_conv) -> input_blocks.N.0.op
            return f"input_blocks.{1 + level * per_level + n_layers}.0.op.{rest.removeprefix('conv.')}"
        i = 1 + level * per_level + j
        if kind == "resnets":
            module, param = _split_module(rest, _UNET_RESNET)
            return f"input_blocks.{i}.0.{_UNET_RESNET[module]}.{param}"
        return f"input_blocks.{i}.1.{rest}"  # SpatialTransformer: same inner names as Transformer2DModel
    m = re.fullmatch(r"mid_block\.(resnets|attentions)\.(\d+)\.(.+)", key)
    if m:
        kind, j, rest = m[1], int(m[2]), m[3]
        if kind == "attentions":
            return f"middle_block.{2 * j + 1}.{rest}"
        module, param = _split_module(rest, _UNET_RESNET)
        return f"middle_block.{2 * j}.{_UNET_RESNET[module]}.{param}"
    m = re.fullmatch(r"up_blocks\.(\d+)\.(resnets|attentions|upsamplers)\.(\d+)\.(.+)", key)
    if m:
        level, kind, j, rest = int(m[1]), m[2], int(m[3]), m[4]
        if kind == "upsamplers":  # Upsample -> output_blocks.N.1.conv, or .2.conv after a SpatialTransformer
            return f"output_blocks.{level * per_level + n_layers}.{2 if up_has_attention[level] else 1}.{rest}"
        i = level * per_level + j
        if kind == "resnets":
            module, param = _split_module(rest, _UNET_RESNET)
            return f"output_blocks.{i}.0.{_UNET_RESNET[module]}.{param}"
        return f"output_blocks.{i}.1.{rest}"
    try:
        module, param = _split_module(key, _UNET_TOP)
    except KeyError:
        raise ValueError(f"no LDM/sgm UNet counterpart for diffusers key {key!r}") from None
    return f"{_UNET_TOP[module]}.{param}"


def ldm_unet_state_dict(unet, prefix: str = "model.diffusion_model.") -> dict[str, torch.Tensor]:
    """``unet`` (``diffusers.UNet2DConditionModel``) in the layout of the UNet inside a CompVis LDM checkpoint
    (SD 1.x/2.x ``v1-5-pruned-emaonly``-style files) or a Stability ``sgm`` ``DiffusionEngine`` checkpoint (SDXL,
    SD unCLIP, MindEye2's ``unclip6``): ``input_blocks``/``middle_block``/``output_blocks``, ``time_embed``, ``out``
    and ``label_emb`` (``class_embed_type="projection"``/``"timestep"``, SDXL's ``addition_embed_type="text_time"``,
    or ``num_class_embeds``). Inverse of diffusers' ``convert_ldm_unet_checkpoint``, which only reads keys under
    ``model.diffusion_model.``."""
    cfg = unet.config
    n_layers = _int_layers(cfg, "UNet")
    up_has_attention = {i: "CrossAttn" in t for i, t in enumerate(cfg.up_block_types)}
    return {prefix + _ldm_unet_key(k, n_layers, up_has_attention): v for k, v in unet.state_dict().items()}


# ------------------------------------------------------------------------------------------------ VAE
def _ldm_vae_key(key: str, n_up: int) -> tuple[str, bool]:
    """One diffusers ``AutoencoderKL`` key -> (its LDM ``AutoencoderKL`` key, whether it is a 1x1-conv attention
    weight)."""
    m = re.fullmatch(
        r"(encoder|decoder)\.(down_blocks|up_blocks)\.(\d+)\.(resnets|downsamplers|upsamplers)\.(\d+)\.(.+)", key)
    if m:
        part, blocks, level, kind, j, rest = m[1], m[2], int(m[3]), m[4], m[5], m[6]
        # LDM numbers the decoder's levels from the lowest resolution upwards: up.0 is diffusers' last up block.
        name, level = ("down", level) if blocks == "down_blocks" else ("up", n_up - 1 - level)
        if kind == "resnets":
            return f"{part}.{name}.{level}.block.{j}.{rest.replace('conv_shortcut.', 'nin_shortcut.')}", False
        return f"{part}.{name}.{level}.{'downsample' if kind == 'downsamplers' else 'upsample'}.{rest}", False
    m = re.fullmatch(r"(encoder|decoder)\.mid_block\.(resnets|attentions)\.(\d+)\.(.+)", key)
    if m:
        part, kind, j, rest = m[1], m[2], int(m[3]), m[4]
        if kind == "resnets":
            return f"{part}.mid.block_{j + 1}.{rest.replace('conv_shortcut.', 'nin_shortcut.')}", False
        module, param = _split_module(rest, _VAE_ATTN)
        return f"{part}.mid.attn_{j + 1}.{_VAE_ATTN[module]}.{param}", module != "group_norm" and param == "weight"
    m = re.fullmatch(r"(encoder|decoder)\.conv_norm_out\.(.+)", key)
    if m:
        return f"{m[1]}.norm_out.{m[2]}", False
    if re.fullmatch(r"(encoder|decoder)\.conv_(in|out)\.(.+)|(post_)?quant_conv\.(.+)", key):
        return key, False
    raise ValueError(f"no LDM VAE counterpart for diffusers key {key!r}")


def ldm_vae_state_dict(vae, prefix: str = "first_stage_model.") -> dict[str, torch.Tensor]:
    """``vae`` (``diffusers.AutoencoderKL``) in the layout of CompVis/sgm ``AutoencoderKL`` weights: the
    ``first_stage_model.`` part of an SD/SDXL/unclip6 checkpoint, or with ``prefix=""`` a bare VAE file such as
    ``vae-ft-mse-840000-ema-pruned.safetensors`` or ``sdxl_vae.safetensors``. ``encoder.down.i.block.j``,
    ``downsample``, ``mid.block_1/attn_1/block_2`` (q/k/v/proj_out as 1x1 conv weights ``(C, C, 1, 1)``),
    ``norm_out``, ``nin_shortcut``, ``decoder.up.i`` numbered from the lowest resolution, ``quant_conv`` and
    ``post_quant_conv``. Inverse of diffusers' ``convert_ldm_vae_checkpoint`` (which detects ``first_stage_model.``
    or ``vae.`` and otherwise takes every key as the VAE's)."""
    n_up = len(vae.config.up_block_types)
    out = {}
    for k, v in vae.state_dict().items():
        ldm_key, conv1x1 = _ldm_vae_key(k, n_up)
        out[prefix + ldm_key] = v.reshape(*v.shape, 1, 1) if conv1x1 and v.ndim == 2 else v
    return out


# ------------------------------------------------------------------------------------------------ CLIP text
def ldm_clip_text_state_dict(text_encoder, prefix: str = "cond_stage_model.transformer.text_model.",
                             include_position_ids: bool = False) -> dict[str, torch.Tensor]:
    """``text_encoder`` (``transformers.CLIPTextModel``) as SD 1.x single files store it: LDM's
    ``FrozenCLIPEmbedder`` wrapped a ``CLIPTextModel`` as ``cond_stage_model.transformer``, so the keys are the
    pre-5.6 transformers names (``text_model.embeddings...``, ``text_model.encoder.layers.N...``,
    ``text_model.final_layer_norm``) under ``cond_stage_model.transformer.``. SDXL's first text encoder uses
    ``prefix="conditioner.embedders.0.transformer.text_model."``.

    transformers 5.6+ flattened ``CLIPTextModel`` (no ``text_model.`` in its own keys); both forms are accepted.
    ``include_position_ids`` adds the ``embeddings.position_ids`` buffer (``int64 (1, max_position_embeddings)``)
    that older files carry and today's models do not keep in their state dict."""
    out = {}
    for k, v in text_encoder.state_dict().items():
        k = k.removeprefix("text_model.")
        if not k.startswith(("embeddings.", "encoder.", "final_layer_norm.")):
            raise ValueError(f"{k!r} is not part of the SD 1.x CLIP text tower layout")
        out[prefix + k] = v
    if include_position_ids:
        n = text_encoder.config.max_position_embeddings
        out[prefix + "embeddings.position_ids"] = torch.arange(n, dtype=torch.int64).unsqueeze(0)
    return out


# ------------------------------------------------------------------------------------------------ AnimateDiff
def sinusoidal_positional_encoding(dim: int, max_len: int) -> torch.Tensor:
    """AnimateDiff's ``PositionalEncoding.pe`` buffer, ``(1, max_len, dim)``: sin on even, cos on odd channels."""
    position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    pe = torch.zeros(1, max_len, dim)
    pe[0, :, 0::2] = torch.sin(position * div_term)
    pe[0, :, 1::2] = torch.cos(position * div_term)
    return pe


def _animatediff_original(state_dict: dict, max_len: int | None) -> dict[str, torch.Tensor]:
    """diffusers motion-module names -> AnimateDiff's ``VanillaTemporalModule`` names; other keys unchanged.

    diffusers keeps one ``transformer_blocks.N.pos_embed.pe`` per block (a buffer it recomputes); AnimateDiff has a
    ``pos_encoder.pe`` on every attention block. Those are written for ``max_len`` (``None``: left out)."""
    out, pe_dims = {}, {}
    for key, value in state_dict.items():
        m = re.fullmatch(r"(.*\bmotion_modules\.\d+)\.(.+)", key)
        if m is None:
            if re.search(r"\.(norms\.\d|ff_norm|attention_blocks\.\d|temporal_transformer)\b", key):
                raise ValueError(f"{key!r} would be renamed by diffusers' AnimateDiff converter")
            out[key] = value
            continue
        module, rest = m[1] + ".temporal_transformer", m[2]
        b = re.fullmatch(r"(transformer_blocks\.\d+)\.(.+)", rest)
        if b is None:  # norm, proj_in, proj_out
            out[f"{module}.{rest}"] = value
            continue
        block, inner = f"{module}.{b[1]}", b[2]
        if inner.startswith("pos_embed."):
            continue  # diffusers' own buffer; AnimateDiff's per-attention copies are added below
        try:
            name, param = _split_module(inner, list(_MOTION_BLOCK) + ["ff"])
        except KeyError:
            raise ValueError(f"no AnimateDiff counterpart for diffusers key {key!r}") from None
        new = _MOTION_BLOCK.get(name, name)
        out[f"{block}.{new}.{param}"] = value
        if name.startswith("attn") and param == "to_q.weight":
            pe_dims[f"{block}.{new}"] = value.shape[1]
    if max_len is not None:
        for attention, dim in pe_dims.items():
            out[f"{attention}.pos_encoder.pe"] = sinusoidal_positional_encoding(dim, max_len)
    return out


def animatediff_motion_state_dict(adapter, max_len: int | None = 32) -> dict[str, torch.Tensor]:
    """``adapter`` (``diffusers.MotionAdapter``) in the layout of AnimateDiff's motion-module checkpoints
    (``mm_sd_v15_v2.ckpt``, ``v3_sd15_mm.ckpt``; flat, no ``state_dict`` wrapper): ``.temporal_transformer.`` after
    ``motion_modules.N``, ``norms.0/norms.1/ff_norm`` for ``norm1/norm2/norm3``, ``attention_blocks.0/1`` for
    ``attn1/attn2``, and ``attention_blocks.K.pos_encoder.pe`` buffers ``(1, max_len, C)`` (24 in v1, 32 in v2/v3).
    Inverse of diffusers' ``convert_animatediff_checkpoint_to_diffusers``, which drops the ``pos_encoder`` keys."""
    return _animatediff_original(adapter.state_dict(), max_len)


def sparsectrl_state_dict(controlnet, max_len: int | None = 32) -> dict[str, torch.Tensor]:
    """``controlnet`` (``diffusers.SparseControlNetModel``) in the layout of AnimateDiff's SparseCtrl checkpoints
    (``v3_sd15_sparsectrl_rgb.ckpt``/``_scribble.ckpt``): the spatial part keeps diffusers' names (AnimateDiff built
    it on diffusers' UNet code: ``conv_in``, ``controlnet_cond_embedding``, ``down_blocks.N.attentions/resnets``,
    ``controlnet_down_blocks``, ``mid_block``), the motion modules are renamed as in
    :func:`animatediff_motion_state_dict` (SparseCtrl's temporal blocks have one self-attention, so only
    ``attention_blocks.0``/``norms.0``/``ff_norm``). The real files nest this dict under ``"controlnet"`` beside a
    non-tensor ``"animatediff_config"``; wrap it yourself to mirror that container."""
    return _animatediff_original(controlnet.state_dict(), max_len)


# ------------------------------------------------------------------------------------------------ original configs
_UNET_FIXED = {"norm_num_groups": 32, "norm_eps": 1e-5, "act_fn": "silu", "flip_sin_to_cos": True, "freq_shift": 0,
               "resnet_time_scale_shift": "default", "time_embedding_type": "positional",
               "mid_block_type": "UNetMidBlock2DCrossAttn", "center_input_sample": False, "encoder_hid_dim": None,
               "time_cond_proj_dim": None, "only_cross_attention": False, "dual_cross_attention": False}
_VAE_FIXED = {"norm_num_groups": 32, "act_fn": "silu", "use_quant_conv": True, "use_post_quant_conv": True,
              "mid_block_add_attention": True}


def _check_expressible(config, fixed: dict, what: str) -> None:
    """The original configs cannot set these: diffusers' config mapping leaves them at its defaults."""
    bad = {k: config.get(k, v) for k, v in fixed.items() if config.get(k, v) != v}
    if bad:
        raise ValueError(f"{what}: {bad} cannot be expressed in an LDM/sgm original_config (diffusers' "
                         f"create_*_diffusers_config_from_ldm always builds {({k: fixed[k] for k in bad})}); "
                         f"use the diffusers `config=` path for such a model")


def _unet_params(unet) -> dict:
    cfg = unet.config
    _check_expressible(cfg, _UNET_FIXED, "UNet")
    boc = list(cfg.block_out_channels)
    ch = boc[0]
    if any(c % ch for c in boc):
        raise ValueError(f"block_out_channels {boc} are not multiples of the first")
    attention = ["CrossAttn" in t for t in cfg.down_block_types]
    if [("CrossAttn" in t) for t in reversed(cfg.up_block_types)] != attention:
        raise ValueError("the up blocks must mirror the down blocks' attention")
    depth = cfg.transformer_layers_per_block
    params = {
        "in_channels": cfg.in_channels, "out_channels": cfg.out_channels, "model_channels": ch,
        "channel_mult": [c // ch for c in boc], "num_res_blocks": _int_layers(cfg, "UNet"),
        "attention_resolutions": [2**i for i, a in enumerate(attention) if a],
        "transformer_depth": depth if isinstance(depth, int) else list(depth),
        "context_dim": cfg.cross_attention_dim, "use_linear_in_transformer": bool(cfg.use_linear_projection),
        "use_spatial_transformer": True, "legacy": False,
    }
    heads = cfg.num_attention_heads or cfg.attention_head_dim  # diffusers' "attention_head_dim" is a head count
    if isinstance(heads, int):
        params.update(num_heads=heads, num_head_channels=-1)
    else:
        widths = {c // h for c, h, a in zip(boc, heads, attention) if a}
        if not cfg.use_linear_projection or len(widths) != 1 or [c // next(iter(widths)) for c in boc] != list(heads):
            raise ValueError(f"per-level heads {list(heads)} need use_linear_projection and one channel count per "
                             f"head on every level (diffusers derives them from num_head_channels)")
        params["num_head_channels"] = widths.pop()
    sdxl_context = cfg.cross_attention_dim in (2048, 1280)  # diffusers' test for SDXL's "text_time" embedding
    projection = cfg.class_embed_type == "projection" and not sdxl_context
    if projection or cfg.addition_embed_type == "text_time" and sdxl_context and cfg.addition_time_embed_dim == 256:
        params.update(num_classes="sequential", adm_in_channels=cfg.projection_class_embeddings_input_dim)
    elif cfg.num_class_embeds is not None and cfg.class_embed_type is None:
        params["num_classes"] = cfg.num_class_embeds
    elif cfg.class_embed_type is not None or cfg.addition_embed_type is not None:
        raise ValueError(f"class_embed_type={cfg.class_embed_type!r} / addition_embed_type="
                         f"{cfg.addition_embed_type!r} with cross_attention_dim {cfg.cross_attention_dim} "
                         f"cannot be expressed in an original_config")
    return params


def _first_stage_config(vae, target: str) -> dict:
    cfg = vae.config
    _check_expressible(cfg, _VAE_FIXED, "VAE")
    boc = list(cfg.block_out_channels)
    if any(c % boc[0] for c in boc):
        raise ValueError(f"block_out_channels {boc} are not multiples of the first")
    ddconfig = {"double_z": True, "z_channels": cfg.latent_channels, "resolution": cfg.sample_size,
                "in_channels": cfg.in_channels, "out_ch": cfg.out_channels, "ch": boc[0],
                "ch_mult": [c // boc[0] for c in boc], "num_res_blocks": _int_layers(cfg, "VAE"),
                "attn_resolutions": [], "dropout": 0.0}
    return {"target": target, "params": {"embed_dim": cfg.latent_channels, "ddconfig": ddconfig}}


def ldm_original_config(unet, vae) -> dict:
    """The parsed CompVis ``v1-inference.yaml``-style config of an SD 1.x-like ``unet`` + ``vae`` pair:
    ``model.params.unet_config.params`` (``num_heads``, ``attention_resolutions``, ...),
    ``model.params.first_stage_config.params.ddconfig`` and ``model.params.scale_factor``. Pass it as
    ``original_config=`` to ``UNet2DConditionModel``/``AutoencoderKL.from_single_file``.

    Raises ``ValueError`` for models the format cannot describe; notably LDM's GroupNorms always have 32 groups, so
    ``norm_num_groups`` must be 32 (and every channel count a multiple of 32)."""
    latent = unet.config.sample_size
    return {"model": {"target": "ldm.models.diffusion.ddpm.LatentDiffusion", "params": {
        "linear_start": 0.00085, "linear_end": 0.012, "num_timesteps_cond": 1, "log_every_t": 200, "timesteps": 1000,
        "first_stage_key": "jpg", "cond_stage_key": "txt", "image_size": latent, "channels": unet.config.in_channels,
        "cond_stage_trainable": False, "conditioning_key": "crossattn", "monitor": "val/loss_simple_ema",
        "scale_factor": vae.config.scaling_factor, "use_ema": False,
        "unet_config": {"target": "ldm.modules.diffusionmodules.openaimodel.UNetModel",
                        "params": {"image_size": latent, **_unet_params(unet)}},
        "first_stage_config": _first_stage_config(vae, "ldm.models.autoencoder.AutoencoderKL"),
        "cond_stage_config": {"target": "ldm.modules.encoders.modules.FrozenCLIPEmbedder"},
    }}}


def sgm_original_config(unet, vae) -> dict:
    """The parsed Stability ``sgm`` yaml of a ``DiffusionEngine`` with this ``unet`` + ``vae`` (the format of SDXL's
    and MindEye2's ``unclip6`` configs): ``model.params.network_config.params`` (``model_channels``,
    ``channel_mult``, ``attention_resolutions``, ``num_res_blocks``, ``transformer_depth`` (int or per-level list),
    ``num_head_channels`` or ``num_heads``, ``use_linear_in_transformer``, ``context_dim``, and ``num_classes:
    "sequential"`` + ``adm_in_channels`` for a projection class embedding), ``model.params.first_stage_config
    .params.ddconfig`` and ``model.params.scale_factor``. Same restrictions as :func:`ldm_original_config`."""
    return {"model": {"target": "sgm.models.diffusion.DiffusionEngine", "params": {
        "scale_factor": vae.config.scaling_factor, "disable_first_stage_autocast": True,
        "network_config": {"target": "sgm.modules.diffusionmodules.openaimodel.UNetModel",
                           "params": _unet_params(unet)},
        "first_stage_config": _first_stage_config(vae, "sgm.models.autoencoder.AutoencoderKLInferenceWrapper"),
    }}}
