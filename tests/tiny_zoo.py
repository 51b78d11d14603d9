"""The tiny random zoo for the tests (it lives in :mod:`neuroclips.zoo.tiny`, where ``doctor`` uses it too)."""

from neuroclips.zoo.tiny import register_tiny_zoo, tiny_components, tiny_reconstructors, write_reconstructors

__all__ = ["register_tiny_zoo", "tiny_components", "tiny_reconstructors", "write_reconstructors"]

if __name__ == "__main__":  # python -m tests.tiny_zoo app.py: serve the app on the tiny zoo (the served-app tests)
    import os
    import runpy
    import sys
    from pathlib import Path

    register_tiny_zoo(Path(os.environ["NEUROCLIPS_TINY_RECONSTRUCTORS"]))
    runpy.run_path(sys.argv[1], run_name="__main__")
