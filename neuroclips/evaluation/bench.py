"""``python -m neuroclips bench``: per-stage latency of the whole pipeline on one test clip, cold and warm."""

from __future__ import annotations

import platform
import time

import numpy as np


def bench_pipeline(zoo: str = "mini", subject: int = 1, clip: int = 42, repeats: int = 3, threads: int | None = None,
                   **settings) -> dict:
    """Load time, the first call's stage times (cold), and the median over ``repeats`` further calls (warm)."""
    import os

    import torch

    from ..data import load_subject
    from ..pipeline import NeuroClipsPipeline

    if threads:
        torch.set_num_threads(threads)
    t0 = time.perf_counter()
    pipe = NeuroClipsPipeline.from_pretrained(zoo, subject=subject)
    load_s = time.perf_counter() - t0
    fmri = load_subject("simulated", subject).clip("test", clip).fmri
    cold = pipe(fmri, **settings).timings
    warm: dict[str, list[float]] = {}
    for _ in range(repeats):
        for k, v in pipe(fmri, **settings).timings.items():
            warm.setdefault(k, []).append(v)
    return {"zoo": zoo, "subject": subject, "clip": clip, "device": str(pipe.device), "dtype": str(pipe.unet.dtype),
            "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(), "machine": platform.processor() or platform.machine(),
            "settings": settings, "load_seconds": round(load_s, 2), "cold_seconds": cold,
            "warm_seconds_median": {k: round(float(np.median(v)), 3) for k, v in warm.items()}, "repeats": repeats}
