"""NeuroClips Studio: fMRI-to-video reconstruction (NeuroClips, NeurIPS 2024) and its simulated test bench."""

from ._compat import apply_torchvision_shim

apply_torchvision_shim()

__version__ = "0.1.0"
