"""Model zoos behind one interface (:mod:`.registry`): ``mini`` (:mod:`.mini`, trained here on the simulated
world, the embedded default) and ``full`` (:mod:`.full`, the real checkpoints of spec §9 on a GPU host).
Components are the real library classes; only configs and weights differ between zoos. Only this package knows
checkpoint formats."""

from __future__ import annotations

from .reconstructors import MODELS, load_reconstructor, load_reconstructors, weights_digest
from .registry import Zoo, get_zoo, is_zoo, register_zoo, zoo_dir, zoo_names

# the built-in zoos register themselves when imported: the mini zoo first, the default
from . import mini  # noqa: E402,F401,I001
from . import full  # noqa: E402,F401

__all__ = ["MODELS", "Zoo", "get_zoo", "is_zoo", "load_reconstructor", "load_reconstructors", "register_zoo",
           "weights_digest", "zoo_dir", "zoo_names"]
