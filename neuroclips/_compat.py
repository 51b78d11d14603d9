"""Import-time shims that keep the CPU development environment importable.

PyPI has no CPU build of torchvision: the 0.28.0 wheel that pins ``torch==2.13.0`` is a CUDA build whose
compiled extension cannot load next to the CPU torch wheel. torchvision then registers fake kernels for
``torchvision::nms`` anyway and ``import torchvision`` (and, through it, timm, open_clip, some transformers
processors and diffusers pipelines) fails with ``operator torchvision::nms does not exist``
(shared/docs/library-notes.md §0). Defining the two op schemas first lets the pure-Python parts of
torchvision import; its compiled ops (nms, roi_align, ...) stay unavailable, and this project uses none.

The shim runs only where the trap exists: Linux, CPU-only torch, torchvision not imported yet. On a CUDA
host (a GPU Space) torchvision's own extension loads and nothing here happens.
"""

from __future__ import annotations

import sys

_APPLIED = False


def apply_torchvision_shim() -> bool:
    """Define ``torchvision::nms``/``qnms`` schemas when torchvision's CUDA-only extension cannot load.

    Returns True when the shim was applied in this process.
    """
    global _APPLIED
    if _APPLIED or "torchvision" in sys.modules or not sys.platform.startswith("linux"):
        return _APPLIED
    try:
        import torch
    except ImportError:  # the data layer works without torch; nothing to patch
        return False
    if torch.version.cuda is not None:
        return False
    try:
        lib = torch.library.Library("torchvision", "DEF")
        lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    except RuntimeError:  # already defined (by torchvision itself or an earlier shim)
        return False
    # Keep the library object alive: dropping it would unregister the schemas.
    globals()["_TORCHVISION_LIB"] = lib
    _APPLIED = True
    return True


def shim_applied() -> bool:
    """Whether :func:`apply_torchvision_shim` defined the schemas in this process (``doctor`` reports it)."""
    return _APPLIED
