"""Results store: reconstructions on disk, keyed by subject, clip, settings and model versions."""

from .store import ResultsStore, result_key

__all__ = ["ResultsStore", "result_key"]
