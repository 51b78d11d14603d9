"""The original-layout writers now live in :mod:`neuroclips.zoo.full.layouts` (the load bench writes full-size
synthetic checkpoints with them); the tests keep importing them from here."""

from neuroclips.zoo.full.layouts import *  # noqa: F401,F403
from neuroclips.zoo.full.layouts import __all__  # noqa: F401
