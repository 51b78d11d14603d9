"""Where shipped artefacts and regenerated caches live.

``demo_data/`` (committed, small) sits at the repository root; big deterministic arrays are regenerated
from seeds into a cache directory. Both can be moved with environment variables so that tests, CI and a
Space can point them elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def demo_data_dir() -> Path:
    """The shipped demo data (``$NEUROCLIPS_DEMO_DATA`` or ``<repo>/demo_data``)."""
    return Path(os.environ.get("NEUROCLIPS_DEMO_DATA", REPO_ROOT / "demo_data"))


def cache_dir() -> Path:
    """Cache for regenerated or converted arrays (``$NEUROCLIPS_CACHE`` or ``~/.cache/neuroclips``)."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "neuroclips"
    return Path(os.environ.get("NEUROCLIPS_CACHE", default))


def reconstructor_dir(subject: int, model: str, root: str | os.PathLike | None = None) -> Path:
    """``<root>/sub-0N/<model>`` (``model``: "perception" or "semantics"); the default root is the shipped
    ``demo_data/reconstructors``."""
    base = Path(root) if root is not None else demo_data_dir() / "reconstructors"
    return base / f"sub-{subject:02d}" / model
