"""NeuroClips' own trainable models: the Perception and Semantics Reconstructors, the diffusion prior, losses."""

from .configs import reconstructor_configs
from .perception import PerceptionOutput, PerceptionReconstructor
from .semantics import SemanticsOutput, SemanticsReconstructor, load_mindeye2_state_dict

__all__ = ["PerceptionOutput", "PerceptionReconstructor", "SemanticsOutput", "SemanticsReconstructor",
           "load_mindeye2_state_dict", "reconstructor_configs"]
