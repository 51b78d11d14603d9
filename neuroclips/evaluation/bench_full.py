"""``python -m neuroclips bench-full``: one clip through the full-size architectures with random weights (fp16 on a
GPU), per stage: latency (cold and warm median) and peak GPU memory. It needs no downloaded weights, so it measures
the memory plan on any GPU host; the numbers go to docs/benchmarks.md with the device's name.
"""

from __future__ import annotations

import time

import torch

from ..zoo.full import configs
from ..zoo.full.memory import CC2017_VOXELS
from .timing import time_stages

SD15_UNET = dict(block_out_channels=(320, 640, 1280, 1280), cross_attention_dim=768, attention_head_dim=8,
                 layers_per_block=2, sample_size=32)  # 256-px video (spec §5.1)
VIT_L_TEXT = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                  max_position_embeddings=77)


def full_architectures() -> dict:
    """Constructor arguments of every component at the real sizes."""
    from ..zoo.full.loaders import unclip6_diffusers_configs

    keyframe_unet, keyframe_vae = unclip6_diffusers_configs()
    return {"perception": {}, "semantics": {}, "blurry_vae": configs.IMAGE_VARIATION_VAE,
            "keyframe_unet": keyframe_unet, "keyframe_vae": keyframe_vae, "blip2_text": configs.BLIP2_OPT_2_7B_TEXT,
            "blip2_vision": {}, "blip2_qformer": {}, "text_encoder": VIT_L_TEXT, "unet": SD15_UNET,
            "motion_adapter": configs.MOTION_ADAPTER_V3, "sparsectrl": configs.SPARSECTRL_RGB,
            "bigg_model": configs.BIGG_MODEL, "n_voxels": CC2017_VOXELS}


def random_components(architectures: dict, device: torch.device, dtype: torch.dtype) -> dict:
    """``NeuroClipsPipeline`` components with random weights, built one by one on ``device`` then cast, so the
    fp32 construction peak is one component."""
    from diffusers import (AutoencoderKL, DDIMScheduler, EulerDiscreteScheduler, MotionAdapter, SparseControlNetModel,
                           UNet2DConditionModel, UNetMotionModel)
    from transformers import Blip2Config, Blip2ForConditionalGeneration, CLIPTextConfig, CLIPTextModel

    from ..models import PerceptionReconstructor, SemanticsReconstructor
    from ..zoo.mini import load_tokenizer
    from ..zoo.full.bigg import OpenCLIPImageEncoder

    a = architectures

    def build(fn, keep_fp32=False):
        with torch.device(device):
            m = fn()
        return m.to(device=device, dtype=torch.float32 if keep_fp32 else dtype).eval()

    def unet():
        return UNetMotionModel.from_unet2d(UNet2DConditionModel(**a["unet"]), MotionAdapter(**a["motion_adapter"]))

    def blip2():
        # the image placeholder token only has to exist: take the vocabulary's last id
        cfg = Blip2Config(vision_config=a["blip2_vision"] or None, qformer_config=a["blip2_qformer"] or None,
                          text_config=a["blip2_text"], image_token_index=a["blip2_text"]["vocab_size"] - 1)
        return Blip2ForConditionalGeneration(cfg)

    def bigg():
        enc = OpenCLIPImageEncoder(a["bigg_model"])
        for p in enc.parameters():  # built empty (uninitialised); give it finite values
            torch.nn.init.normal_(p, std=0.02)
        return enc

    return {
        "perception": build(lambda: PerceptionReconstructor(n_voxels=a["n_voxels"], **a["perception"])),
        "semantics": build(lambda: SemanticsReconstructor(n_voxels=a["n_voxels"], **a["semantics"])),
        "blurry_vae": build(lambda: AutoencoderKL(**a["blurry_vae"])),
        "keyframe_unet": build(lambda: UNet2DConditionModel(**a["keyframe_unet"])),
        "keyframe_vae": build(lambda: AutoencoderKL(**a["keyframe_vae"]), keep_fp32=True),
        "keyframe_scheduler": EulerDiscreteScheduler(**configs.UNCLIP6_SCHEDULER),
        "caption_model": build(blip2), "caption_processor": None,
        "vae": build(lambda: AutoencoderKL(**a["blurry_vae"])),
        "text_encoder": build(lambda: CLIPTextModel(CLIPTextConfig(**a["text_encoder"]))),
        "tokenizer": load_tokenizer(), "unet": build(unet),
        "controlnet": build(lambda: SparseControlNetModel(**a["sparsectrl"])),
        "scheduler": DDIMScheduler(**configs.VIDEO_SCHEDULER), "image_encoder": build(bigg), "fusion_classifier": None,
        "keyframe_colour_mapping": "mindeye2", "keyframe_offset_noise": configs.UNCLIP6_OFFSET_NOISE,
        "keyframe_discretization": "sgm"}


def bench_random(device: str | None = None, dtype: torch.dtype | None = None, repeats: int = 2,
                 architectures: dict | None = None, **settings) -> dict:
    """Per-stage seconds (cold, warm median) and peak memory of one clip through random-weight full-size models.
    ``settings`` are ``NeuroClipsPipeline.__call__``'s (e.g. fewer steps for a smoke run)."""
    from ..pipeline import NeuroClipsPipeline, StageConditions
    from ..zoo.full import GUIDANCE_DEFAULTS

    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = dtype or (torch.float16 if device.type == "cuda" else torch.float32)
    cuda = device.type == "cuda"
    arch = architectures or full_architectures()
    t0 = time.perf_counter()
    pipe = NeuroClipsPipeline(**random_components(arch, device, dtype), guidance_defaults=GUIDANCE_DEFAULTS)
    pipe.set_progress_bar_config(disable=True)
    build_s = time.perf_counter() - t0
    resident = torch.cuda.memory_allocated(device) if cuda else None
    s = pipe.settings(seed=0, **settings)
    x = torch.randn(1, arch["n_voxels"])
    size = pipe.keyframe_pipeline.image_size
    pixels = torch.randn(1, 3, pipe.caption_model.config.vision_config.image_size,
                         pipe.caption_model.config.vision_config.image_size, device=device, dtype=dtype)
    state: dict = {}

    def video():
        c = StageConditions(blurry_frames=state["blurry"], blurry_video=pipe.blurry_to_video(state["blurry"]),
                            keyframe=state["keyframe"], caption="a random caption")
        return pipe.generate_video(c, s).video

    stages = {
        "blurry": lambda: pipe.reconstruct_blurry(x),
        "keyframe": lambda: pipe.reconstruct_keyframe(x, s),
        # BLIP-2's own generation (random weights: the text is meaningless, the cost is not); 20 tokens as §4.3
        "caption": lambda: pipe.caption_model.generate(pixel_values=pixels, max_new_tokens=20, min_new_tokens=20),
        "video": video,
    }

    def keep(name, out):
        if name in ("blurry", "keyframe"):
            state[name] = out

    measured = time_stages(stages, device, repeats, on_output=keep)
    cold, warm = measured["cold"], measured["warm"]
    return {"device": torch.cuda.get_device_name(device) if cuda else "cpu", "dtype": str(dtype).replace("torch.", ""),
            "torch": torch.__version__, "build_seconds": round(build_s, 1),
            "resident_weights_gib": round(resident / 2**30, 2) if resident is not None else None,
            "keyframe_size": size, "steps": {"video": s.num_inference_steps, "keyframe": s.keyframe_steps,
                                             "prior": s.prior_steps},
            "cold_seconds": cold, "warm_seconds_median": warm,
            "warm_total_seconds": round(sum(v for v in warm.values() if v), 2) if repeats else None,
            "peak_gib_per_stage": measured["peak_gib"], "repeats": repeats}
