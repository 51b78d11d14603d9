"""NeuroClips' own trainable models: the Perception and Semantics Reconstructors, the diffusion prior, losses, and the keyframe-similarity classifier of multi-fMRI fusion."""

from .configs import reconstructor_configs
from .fusion import KeyframeSimilarityClassifier
from .perception import PerceptionOutput, PerceptionReconstructor
from .semantics import SemanticsOutput, SemanticsReconstructor, load_mindeye2_state_dict

__all__ = ["KeyframeSimilarityClassifier", "PerceptionOutput", "PerceptionReconstructor", "SemanticsOutput", "SemanticsReconstructor",
           "load_mindeye2_state_dict", "reconstructor_configs"]
