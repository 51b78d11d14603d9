"""Reading checkpoints straight into their target dtype, one tensor at a time (issue 19, "lean loading").

Checkpoints are opened memory-mapped (``torch.load(mmap=True)``, safetensors' ``safe_open``), so opening one reads
nothing. Mapping alone does not bound the host memory, though: every page read to cast a tensor stays mapped, and
counted in the process's resident set, until the whole file is closed. :func:`cast_state_dict` therefore copies each
tensor into its target dtype and then hands that tensor's pages of the file back to the kernel (``madvise``), so a
load holds the model in its target dtype plus about one tensor of the file.
"""

from __future__ import annotations

import ctypes
import logging
import mmap
import os
import pickle
import sys
from pathlib import Path

import torch

logger = logging.getLogger(__name__)

_MADV_DONTNEED = 4  # Linux; on a clean private file mapping it drops the pages, a later read maps the file again
_CHUNK_BYTES = 256 << 20  # larger tensors are copied (and their pages released) in slices of this size


def read_lazy(path: str | os.PathLike) -> dict:
    """The checkpoint's object (a state dict, or the dict around it) with memory-mapped tensors: nothing is read.

    ``.safetensors`` through ``safe_open``; ``.ckpt``/``.pth``/``.bin`` through ``torch.load(mmap=True)``, with
    ``weights_only=True`` unless the file pickles config objects (AnimateDiff's ``animatediff_config``, MindEye2's
    training args), which then load as a trusted pickle: only do this for the manifest's pinned files. A legacy
    (pre-zip) torch file cannot be mapped and is read whole."""
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(path), framework="pt", device="cpu") as f:  # views of one mapping of the file
            return {k: f.get_tensor(k) for k in f.keys()}
    for mapped in (True, False):
        try:
            try:
                return torch.load(path, map_location="cpu", mmap=mapped, weights_only=True)
            except pickle.UnpicklingError as err:  # weights_only refuses the file's non-tensor objects
                logger.warning("%s holds non-tensor objects (%s); loading it as a trusted pickle", path.name, err)
                return torch.load(path, map_location="cpu", mmap=mapped, weights_only=False)
        except RuntimeError as err:
            if not mapped or "mmap" not in str(err):
                raise
            logger.warning("%s is a legacy (non-zip) torch file and cannot be memory-mapped: it is read whole (%s)",
                           path.name, err)
    raise AssertionError("unreachable")


def _mapped_ranges(path: str | os.PathLike) -> list[tuple[int, int]]:
    """Address ranges where this process maps ``path`` (Linux: ``/proc/self/maps``; elsewhere none)."""
    if not sys.platform.startswith("linux"):
        return []
    st = os.stat(path)
    ranges = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            if len(fields) < 6 or int(fields[4]) != st.st_ino:
                continue
            major, minor = (int(x, 16) for x in fields[3].split(":"))
            if os.makedev(major, minor) != st.st_dev:
                continue
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            ranges.append((lo, hi))
    return ranges


_libc = None


def _madvise(lo: int, hi: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    if _libc.madvise(lo, hi - lo, _MADV_DONTNEED) != 0:  # harmless: the pages just stay until the file is closed
        logger.debug("madvise failed (errno %d)", ctypes.get_errno())


def release_pages(tensor: torch.Tensor, ranges: list[tuple[int, int]]) -> None:
    """Hand the whole pages under ``tensor`` back to the kernel, where they belong to one of ``ranges`` (a file's
    private, read-only-used mapping: the data stays as in the file; the next read maps it again)."""
    if not ranges or tensor.numel() == 0:
        return
    start = tensor.data_ptr()
    span = 1 + sum((n - 1) * s for n, s in zip(tensor.shape, tensor.stride()))
    end = start + span * tensor.element_size()
    page = mmap.PAGESIZE
    for lo, hi in ranges:
        a, b = max(lo, -(-start // page) * page), min(hi, end // page * page)
        if b > a:
            _madvise(a, b)


def cast_state_dict(state_dict: dict, dtype: torch.dtype | None, source: str | os.PathLike | None = None) -> dict:
    """``state_dict`` copied tensor by tensor into ``dtype`` (floating tensors only; ``None``: each keeps its own),
    each tensor's pages of ``source`` released as soon as it is copied. The result never references the file."""
    ranges = _mapped_ranges(source) if source is not None else []
    out = {}
    for key, tensor in state_dict.items():
        target = dtype if dtype is not None and tensor.is_floating_point() else tensor.dtype
        if ranges and tensor.is_contiguous() and tensor.numel() * tensor.element_size() > _CHUNK_BYTES:
            # one tensor can be GBs (SR's token projection is 7 GB in fp32): copy and release it in slices
            copy = torch.empty(tensor.shape, dtype=target)
            src, dst = tensor.view(-1), copy.view(-1)
            step = max(1, _CHUNK_BYTES // tensor.element_size())
            for i in range(0, src.numel(), step):
                dst[i:i + step].copy_(src[i:i + step])
                release_pages(src[i:i + step], ranges)
            out[key] = copy
        else:
            out[key] = tensor.to(dtype=target, copy=True)
            release_pages(tensor, ranges)
    return out


def read_state_dict(path: str | os.PathLike, dtype: torch.dtype | None = None, unwrap_keys: tuple[str, ...] = (),
                    keep=None) -> dict:
    """The tensors of a checkpoint (under the first of ``unwrap_keys`` present, repeatedly), those for which
    ``keep(key)`` holds, in ``dtype``; read one at a time (see :func:`cast_state_dict`)."""
    sd = unwrap(read_lazy(path), *unwrap_keys)
    if keep is not None:
        sd = {k: v for k, v in sd.items() if keep(k)}
    return cast_state_dict(sd, dtype, path)


def unwrap(checkpoint: dict, *keys: str) -> dict:
    """Descend into the first of ``keys`` present (e.g. ``"controlnet"``, ``"state_dict"``), repeatedly, and drop
    non-tensor entries such as ``animatediff_config``."""
    sd = checkpoint
    changed = True
    while changed:
        changed = False
        for k in keys:
            if isinstance(sd.get(k), dict):
                sd, changed = sd[k], True
                break
    return {k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}
