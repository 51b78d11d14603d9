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


def persistent_dir() -> Path | None:
    """Persistent storage, when there is some: ``$NEUROCLIPS_PERSISTENT_DIR``, else ``/data`` on a Hugging Face
    Space (``$SPACE_ID`` set), if it is a writable folder; otherwise None. Off a Space ``/data`` is not used, so a
    dev box or CI runner that happens to have one keeps its caches where they were."""
    given = os.environ.get("NEUROCLIPS_PERSISTENT_DIR")
    if given:
        path = Path(given)
    elif os.environ.get("SPACE_ID"):
        path = Path("/data")
    else:
        return None
    return path if path.is_dir() and os.access(path, os.W_OK | os.X_OK) else None


def cache_dir() -> Path:
    """Cache for regenerated or converted arrays, the results store and the full zoo's weights:
    ``$NEUROCLIPS_CACHE``, else ``<persistent storage>/neuroclips`` (see :func:`persistent_dir`), else
    ``~/.cache/neuroclips``."""
    if os.environ.get("NEUROCLIPS_CACHE"):
        return Path(os.environ["NEUROCLIPS_CACHE"])
    persistent = persistent_dir()
    if persistent is not None:
        return persistent / "neuroclips"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "neuroclips"


def reconstructor_dir(subject: int, model: str, root: str | os.PathLike | None = None) -> Path:
    """``<root>/sub-0N/<model>`` (``model``: "perception" or "semantics"); the default root is the shipped
    ``demo_data/reconstructors``."""
    base = Path(root) if root is not None else demo_data_dir() / "reconstructors"
    return base / f"sub-{subject:02d}" / model
