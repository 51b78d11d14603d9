"""Per-stage latency and peak device memory, shared by the benches and ``doctor``."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch


def time_stages(stages: dict[str, Callable[[], object]], device: torch.device, repeats: int = 1,
                on_output: Callable[[str, object], None] | None = None) -> dict:
    """Run ``stages`` in order ``repeats + 1`` times: the first pass is cold, the others warm. Returns seconds
    (``cold``, ``warm`` median or None without repeats) and, on CUDA, each stage's peak allocated GiB (``peak_gib``;
    None elsewhere). ``on_output(name, output)`` sees every stage's output (later stages may need it)."""
    cuda = torch.device(device).type == "cuda"
    times: dict[str, list[float]] = {k: [] for k in stages}
    peaks: dict[str, float] = {}
    with torch.no_grad():
        for _ in range(repeats + 1):
            for name, fn in stages.items():
                if cuda:
                    torch.cuda.synchronize(device)
                    torch.cuda.reset_peak_memory_stats(device)
                t = time.perf_counter()
                out = fn()
                if cuda:
                    torch.cuda.synchronize(device)
                    peaks[name] = max(peaks.get(name, 0.0), torch.cuda.max_memory_allocated(device) / 2**30)
                times[name].append(time.perf_counter() - t)
                if on_output is not None:
                    on_output(name, out)
    return {"cold": {k: round(v[0], 4) for k, v in times.items()},
            "warm": {k: round(float(np.median(v[1:])), 4) if len(v) > 1 else None for k, v in times.items()},
            "peak_gib": {k: round(v, 3) for k, v in peaks.items()} or None}
