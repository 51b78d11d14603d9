"""The mini zoo: small configs of the full zoo's library classes, trained on the simulated world (the embedded
default). Its components ship in ``demo_data/zoo/mini``."""

from ..registry import Zoo, register_zoo
from .loaders import (COMPONENTS, GUIDANCE_DEFAULTS, assemble_components, image_encoder, load_captioner_components,
                      load_clip, load_fusion_classifier, load_keyframe_components, load_tokenizer, load_vae,
                      load_video_components, mini_root, text_encoder)

register_zoo(Zoo(
    name="mini", description="the same library classes at small size, trained on the simulated cc2017 world",
    load=assemble_components, root=mini_root, reconstructors_root=lambda root=None: None,
    defaults=GUIDANCE_DEFAULTS, data_source="simulated"))

__all__ = ["COMPONENTS", "GUIDANCE_DEFAULTS", "assemble_components", "image_encoder", "load_captioner_components",
           "load_clip", "load_fusion_classifier", "load_keyframe_components", "load_tokenizer", "load_vae",
           "load_video_components", "mini_root", "text_encoder"]
