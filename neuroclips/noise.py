"""Every random draw of the models and stages goes through here: drawn where the generator lives, then moved.

CUDA refuses a CPU generator for a tensor created on the GPU ("Expected a 'cuda' device type for generator"), and a
CUDA generator for a CPU tensor; diffusers' ``randn_tensor`` solves this by drawing on the generator's device and
moving the result (diffusers issue #6501). These helpers do the same for normal, uniform and integer draws, and
always draw in fp32 before casting, so that one seed gives the same noise on every device and in every dtype (fp32
results are those of ``torch.randn`` with the same generator, bit for bit). The global RNG is used only when no
generator is given.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def _devices(generator: torch.Generator | None, device) -> tuple[torch.device, torch.device]:
    """(where to draw, where the result goes): the generator's device, and ``device`` (default: the generator's)."""
    source = generator.device if generator is not None else torch.device(device if device is not None else "cpu")
    return source, torch.device(device) if device is not None else source


def randn(shape: Sequence[int], generator: torch.Generator | None = None, device=None,
          dtype: torch.dtype | None = None) -> torch.Tensor:
    """N(0, 1) noise of ``shape`` on ``device`` in ``dtype`` (default fp32), drawn in fp32 on the generator's device."""
    source, target = _devices(generator, device)
    x = torch.randn(tuple(shape), generator=generator, device=source, dtype=torch.float32)
    return x.to(device=target, dtype=dtype or torch.float32)


def rand(shape: Sequence[int], generator: torch.Generator | None = None, device=None,
         dtype: torch.dtype | None = None) -> torch.Tensor:
    """U[0, 1) draws of ``shape``, as :func:`randn`."""
    source, target = _devices(generator, device)
    x = torch.rand(tuple(shape), generator=generator, device=source, dtype=torch.float32)
    return x.to(device=target, dtype=dtype or torch.float32)


def randint(low: int, high: int, shape: Sequence[int], generator: torch.Generator | None = None,
            device=None) -> torch.Tensor:
    """Integers in [low, high) of ``shape`` (int64), drawn on the generator's device and moved to ``device``."""
    source, target = _devices(generator, device)
    return torch.randint(low, high, tuple(shape), generator=generator, device=source).to(target)


__all__ = ["rand", "randint", "randn"]
