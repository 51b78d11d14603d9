"""Memory plan of the full zoo: exact parameter counts of the real architectures (built on the meta device, so
nothing is allocated), their weight memory per precision, and where each stage lives: on a 24 GB GPU with stage
offload (``NeuroClipsPipeline.enable_stage_offload``: one stage's components on the GPU at a time), on ZeroGPU's
48 GB all resident (``python -m neuroclips memory-plan``).

Weights are counted; activation peaks are estimates (spec §9.2) until measured on a GPU (docs/benchmarks.md).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from . import configs

CC2017_VOXELS = 13447  # subject 1 (spec §1.2); subjects 2 and 3 differ by a few hundred voxels
GiB = 2**30


@dataclass(frozen=True)
class Stage:
    name: str
    components: tuple[str, ...]
    activation_gib: float  # estimated peak activations at fp16, one clip, CFG batch 2 (spec §9.2, [INFER])
    note: str


STAGES = (
    Stage("blurry video (PR + VAE decode)", ("perception", "blurry_vae"), 0.5, "6 frames at 224 px"),
    Stage("keyframe (SR + prior + unclip6)", ("semantics", "keyframe_unet", "keyframe_vae"), 3.0,
          "768x768, CFG batch 2, 38 Euler steps; SDXL VAE decode in fp32"),
    Stage("caption (BLIP-2)", ("caption_model",), 0.5, "one 224-px image, <= 20 tokens"),
    Stage("video (AnimateDiff + SparseCtrl)", ("text_encoder", "unet", "controlnet", "vae"), 4.0,
          "16 frames x 256 px, CFG batch 2, 25 DDIM steps"),
    Stage("fusion / retrieval embeddings (bigG)", ("image_encoder",), 0.3, "only for long videos and retrieval"),
)


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@functools.lru_cache(maxsize=4)
def parameter_counts(n_voxels: int = CC2017_VOXELS) -> dict[str, int]:
    """Exact parameter counts of each component of the full pipeline, from the architectures alone."""
    return {k: v for k, v in _counts(n_voxels).items() if not k.startswith("_")}


def checkpoint_parameter_counts() -> dict[str, int]:
    """Parameters the architectures put in each real checkpoint file, to compare with the files' sizes: the motion
    module alone; unclip6 with its conditioner (bigG minus the text transformer sgm deletes, spec §4.2)."""
    c = _counts(CC2017_VOXELS)
    return {"v3_sd15_mm.ckpt": c["_motion_adapter"], "v3_sd15_sparsectrl_rgb.ckpt": c["controlnet"],
            "sd_image_var_autoenc.pth": c["blurry_vae"],
            "unclip6_epoch0_step110000.ckpt": c["keyframe_unet"] + c["keyframe_vae"] + c["image_encoder"]
            + c["_bigg_text_leftovers"]}


@functools.lru_cache(maxsize=4)
def _counts(n_voxels: int) -> dict[str, int]:
    import open_clip
    from diffusers import AutoencoderKL, MotionAdapter, SparseControlNetModel, UNet2DConditionModel
    from transformers import Blip2Config, Blip2ForConditionalGeneration, CLIPTextConfig, CLIPTextModel

    from ...models import PerceptionReconstructor, SemanticsReconstructor
    from .loaders import unclip6_diffusers_configs

    sd15_unet = dict(block_out_channels=(320, 640, 1280, 1280), cross_attention_dim=768, attention_head_dim=8,
                     layers_per_block=2, sample_size=32)
    counts = {}
    with torch.device("meta"):
        counts["perception"] = _count(PerceptionReconstructor(n_voxels=n_voxels))
        counts["semantics"] = _count(SemanticsReconstructor(n_voxels=n_voxels))
        counts["blurry_vae"] = counts["vae"] = _count(AutoencoderKL(**configs.IMAGE_VARIATION_VAE))
        unet_cfg, vae_cfg = unclip6_diffusers_configs()
        counts["keyframe_unet"] = _count(UNet2DConditionModel(**unet_cfg))
        counts["keyframe_vae"] = _count(AutoencoderKL(**vae_cfg))
        counts["caption_model"] = _count(Blip2ForConditionalGeneration(Blip2Config(text_config=configs.BLIP2_OPT_2_7B_TEXT)))
        counts["text_encoder"] = _count(CLIPTextModel(CLIPTextConfig(hidden_size=768, intermediate_size=3072,
                                                                     num_hidden_layers=12, num_attention_heads=12,
                                                                     projection_dim=768)))
        counts["_motion_adapter"] = _count(MotionAdapter(**configs.MOTION_ADAPTER_V3))
        counts["unet"] = _count(UNet2DConditionModel(**sd15_unet)) + counts["_motion_adapter"]
        counts["controlnet"] = _count(SparseControlNetModel(**configs.SPARSECTRL_RGB))
        bigg = open_clip.CLIP(**open_clip.get_model_config(configs.BIGG_MODEL))
        counts["image_encoder"] = _count(bigg.visual)
        counts["_bigg_text_leftovers"] = _count(bigg) - _count(bigg.visual) - _count(bigg.transformer)
    return counts


def plan(counts: dict[str, int] | None = None, bytes_per_param: int = 2) -> dict:
    """Per-stage weights and estimated peaks, the whole pipeline resident (ZeroGPU), and with stage offload (each
    stage's components moved to the GPU only while it runs)."""
    counts = counts or parameter_counts()

    def gib(n):
        return n * bytes_per_param / GiB

    def weights(c):  # the SDXL VAE stays in fp32 (it overflows in fp16)
        return gib(counts[c]) * (4 / bytes_per_param if c == "keyframe_vae" else 1)

    stages = []
    for s in STAGES:
        w = sum(weights(c) for c in s.components)
        act = s.activation_gib * bytes_per_param / 2
        stages.append({"stage": s.name, "components": list(s.components), "weights_gib": round(w, 2),
                       "activations_gib_estimate": act, "peak_gib_estimate": round(w + act, 2),
                       "note": s.note})
    everything = sum(weights(k) for k in counts)  # the full zoo's three VAEs are three different models
    resident_peak = everything + max(st["activations_gib_estimate"] for st in stages)
    offload_peak = max(st["peak_gib_estimate"] for st in stages)
    return {"bytes_per_param": bytes_per_param, "parameters": counts, "stages": stages,
            "resident_weights_gib": round(everything, 2), "resident_peak_gib_estimate": round(resident_peak, 2),
            "offload_peak_gib_estimate": round(offload_peak, 2),
            "fits_24gb_with_offload": offload_peak < 22.0, "fits_48gb_resident": resident_peak < 45.0}


def format_plan(p: dict) -> str:
    lines = [f"| stage | components | weights (GiB, {8 * p['bytes_per_param']}-bit) | + activations (estimate) | "
             "peak (estimate) |", "|---|---|---|---|---|"]
    for s in p["stages"]:
        lines.append(f"| {s['stage']} | {', '.join(s['components'])} | {s['weights_gib']:.2f} | "
                     f"{s['activations_gib_estimate']:.1f} | {s['peak_gib_estimate']:.2f} |")
    lines.append("")
    lines.append("| component | parameters |")
    lines.append("|---|---|")
    for k, n in p["parameters"].items():
        lines.append(f"| {k} | {n / 1e6:,.1f} M |")
    lines.append("")
    lines.append(f"All resident: {p['resident_weights_gib']:.2f} GiB of weights, peak ≈ {p['resident_peak_gib_estimate']:.1f}"
                 f" GiB (fits 48 GB: {p['fits_48gb_resident']}). With stage offload: peak ≈ "
                 f"{p['offload_peak_gib_estimate']:.1f} GiB (fits 24 GB: {p['fits_24gb_with_offload']}).")
    return "\n".join(lines)
