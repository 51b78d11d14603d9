"""The mini zoo: small configs of the full zoo's library classes, trained on the simulated world (the embedded
default). Its components ship in ``demo_data/zoo/mini``."""

from ..registry import Zoo, register_zoo
from .loaders import (COMPONENTS, GUIDANCE_DEFAULTS, assemble_components, image_encoder, load_captioner_components,
                      load_clip, load_fusion_classifier, load_keyframe_components, load_tokenizer, load_vae,
                      load_video_components, mini_root, text_encoder)

register_zoo(Zoo(
    name="mini", description="the same library classes at small size, trained on the simulated cc2017 world",
    load=assemble_components, root=mini_root, reconstructors_root=lambda root=None: None,
    defaults=GUIDANCE_DEFAULTS, data_source="simulated",
    # measured on an H200 in fp32, warm, at 25 video / 25 unCLIP / 20 prior steps (docs/benchmarks.md, 2026-11-29):
    # video 1.06 s, keyframe 0.73 s, caption 0.09 s, blurry 0.03 s; the retrieval fold is an estimate
    gpu_rates={"video_step": 1.06 / 25, "keyframe_step": 0.73 / (25 + 20), "per_clip": 0.12, "retrieval": 1.0}))

__all__ = ["COMPONENTS", "GUIDANCE_DEFAULTS", "assemble_components", "image_encoder", "load_captioner_components",
           "load_clip", "load_fusion_classifier", "load_keyframe_components", "load_tokenizer", "load_vae",
           "load_video_components", "mini_root", "text_encoder"]
