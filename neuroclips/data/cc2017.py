"""Reader for the cc2017 dataset as NeuroClips' authors preprocessed it (HF ``gongzx/cc2017_dataset``).

Layout (spec §1.2): ``subj0N_{train,test}_fmri.pt`` float32 (clips, repetitions, voxels);
``GT_{train,test}_3fps.pt`` float32 (clips, 6, 3, 224, 224) in [0, 1]; ``GT_{train,test}_caption.pt`` a
pickled numpy array of strings. The frame tensors are 15.6 + 4.3 GB, so the files are converted once,
chunk by chunk, into a memory-mappable cache (``.npy``; frames as uint8 HWC by default), and every clip
is then read without loading the rest.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..io import atomic_path, atomic_write_json
from .base import SPLITS, DataError, SubjectData

logger = logging.getLogger(__name__)
CACHE_VERSION = 1


@dataclass(frozen=True)
class CC2017Layout:
    """Expected counts and shapes; the defaults are the real dataset's (spec §1.1-1.2)."""

    n_clips: dict = field(default_factory=lambda: {"train": 4320, "test": 1200})
    repetitions: dict = field(default_factory=lambda: {"train": 2, "test": 10})
    voxels: dict = field(default_factory=lambda: {1: 13447, 2: 14828, 3: 9114})
    frames_per_clip: int = 6
    frame_size: int = 224

    def fmri_file(self, subject: int, split: str) -> str:
        return f"subj{subject:02d}_{split}_fmri.pt"

    def frames_file(self, split: str) -> str:
        return f"GT_{split}_3fps.pt"

    def caption_file(self, split: str) -> str:
        return f"GT_{split}_caption.pt"

    def fmri_shape(self, subject: int, split: str) -> tuple[int, ...]:
        return (self.n_clips[split], self.repetitions[split], self.voxels[subject])

    def frames_shape(self, split: str) -> tuple[int, ...]:
        return (self.n_clips[split], self.frames_per_clip, 3, self.frame_size, self.frame_size)


def _load_pt(path: Path, expected: str, weights_only: bool = True):
    """torch.load with memory mapping where the file allows it, and errors that name the file."""
    import torch

    if not path.is_file():
        raise DataError(f"cc2017: {path} not found; expected {expected} (spec §1.2)")
    try:
        return torch.load(path, map_location="cpu", mmap=True, weights_only=weights_only)
    except RuntimeError as err:
        if "mmap" not in str(err):  # legacy (non-zip) files cannot be memory-mapped: load them whole
            raise DataError(f"cc2017: cannot read {path} (truncated or not a torch file: {err}); "
                            f"expected {expected}") from err
    except Exception as err:
        raise DataError(f"cc2017: cannot read {path} (truncated or not a torch file: {err}); "
                        f"expected {expected}") from err
    try:
        return torch.load(path, map_location="cpu", weights_only=weights_only)
    except Exception as err:
        raise DataError(f"cc2017: cannot read {path} ({err}); expected {expected}") from err


def _check_tensor(x, path: Path, shape: tuple[int, ...], what: str):
    import torch

    if not isinstance(x, torch.Tensor):
        raise DataError(f"cc2017: {path} holds a {type(x).__name__}, expected {what}")
    if tuple(x.shape) != shape:
        raise DataError(f"cc2017: {path} has shape {tuple(x.shape)}, expected {what}")
    if not x.is_floating_point():
        raise DataError(f"cc2017: {path} has dtype {x.dtype}, expected {what}")
    return x


def _stamp(path: Path) -> dict:
    st = path.stat()
    return {"file": path.name, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _convert_fmri(src: Path, dst: Path, shape: tuple[int, ...], chunk: int = 256) -> None:
    what = f"a float32 tensor of shape {shape} (clips, repetitions, voxels)"
    x = _check_tensor(_load_pt(src, what), src, shape, what)
    with atomic_path(dst) as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
        for i in range(0, shape[0], chunk):
            out[i : i + chunk] = x[i : i + chunk].float().numpy()
        out.flush()
        del out


def _convert_frames(src: Path, dst: Path, shape: tuple[int, ...], dtype: str, chunk: int = 32) -> float:
    """Frames -> (clips, frames, H, W, 3); returns the largest quantisation error (0 for float32)."""
    what = f"a float tensor of shape {shape} (clips, frames, 3, H, W) in [0, 1]"
    x = _check_tensor(_load_pt(src, what), src, shape, what)
    n, f, c, h, w = shape
    worst = 0.0
    with atomic_path(dst) as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.dtype(dtype), shape=(n, f, h, w, c))
        for i in range(0, n, chunk):
            block = x[i : i + chunk].float().numpy().transpose(0, 1, 3, 4, 2)
            if dtype == "uint8":
                q = np.clip(np.round(block * 255), 0, 255)
                worst = max(worst, float(np.abs(q / 255 - np.clip(block, 0, 1)).max()))
                out[i : i + chunk] = q.astype(np.uint8)
            else:
                out[i : i + chunk] = block
        out.flush()
        del out
    return worst


def _convert_captions(src: Path, dst: Path, n: int) -> None:
    what = f"a pickled array of {n} caption strings"
    x = _load_pt(src, what, weights_only=False)  # numpy array of str: a trusted dataset file
    captions = [str(c).strip() for c in np.asarray(x).reshape(-1)]
    if len(captions) != n:
        raise DataError(f"cc2017: {src} holds {len(captions)} captions, expected {n}")
    atomic_write_json(dst, captions)


def convert_cc2017(root: str | os.PathLike, cache: str | os.PathLike, subjects=None,
                   layout: CC2017Layout = CC2017Layout(), frame_dtype: str = "uint8") -> Path:
    """Convert the cc2017 ``.pt`` files under ``root`` into a memory-mappable cache; skip what is current.

    ``frame_dtype="uint8"`` stores frames 4x smaller; the conversion records the largest quantisation
    error (≤ 1/510 for frames that came from 8-bit video). Use ``"float32"`` to keep them exact. ``subjects``:
    default all of the layout's.
    """
    subjects = tuple(sorted(layout.voxels)) if subjects is None else tuple(subjects)
    if frame_dtype not in ("uint8", "float32"):
        raise ValueError(f"frame_dtype must be 'uint8' or 'float32', got {frame_dtype!r}")
    root, out = Path(root), Path(cache) / "cc2017"
    meta_path = out / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if meta.get("version") != CACHE_VERSION or meta.get("layout") != _layout_key(layout):
        meta = {"version": CACHE_VERSION, "layout": _layout_key(layout), "entries": {}}
    entries = meta["entries"]

    def todo(key: str, src: Path, dst: Path) -> bool:
        if not src.is_file():
            raise DataError(f"cc2017: {src} not found (looked for the dataset under {root})")
        return entries.get(key, {}).get("source") != _stamp(src) or not dst.exists()

    for split in SPLITS:
        src, dst = root / layout.frames_file(split), out / f"frames_{split}.npy"
        if todo(f"frames_{split}", src, dst) or entries[f"frames_{split}"].get("dtype") != frame_dtype:
            logger.info("converting %s -> %s", src, dst)
            err = _convert_frames(src, dst, layout.frames_shape(split), frame_dtype)
            entries[f"frames_{split}"] = {"source": _stamp(src), "dtype": frame_dtype, "max_quantisation_error": err}
            atomic_write_json(meta_path, meta)
        src, dst = root / layout.caption_file(split), out / f"captions_{split}.json"
        if todo(f"captions_{split}", src, dst):
            _convert_captions(src, dst, layout.n_clips[split])
            entries[f"captions_{split}"] = {"source": _stamp(src)}
            atomic_write_json(meta_path, meta)
        for s in subjects:
            if s not in layout.voxels:
                raise DataError(f"cc2017 has subjects {sorted(layout.voxels)}, not {s}")
            src, dst = root / layout.fmri_file(s, split), out / f"sub-{s:02d}" / f"{split}_fmri.npy"
            if todo(f"sub-{s:02d}_{split}", src, dst):
                logger.info("converting %s -> %s", src, dst)
                _convert_fmri(src, dst, layout.fmri_shape(s, split))
                entries[f"sub-{s:02d}_{split}"] = {"source": _stamp(src)}
                atomic_write_json(meta_path, meta)
    return out


def _layout_key(layout: CC2017Layout) -> dict:
    return json.loads(json.dumps(asdict(layout)))


class CC2017Subject(SubjectData):
    """One cc2017 subject, read from the converted cache (converting on first use)."""

    source = "cc2017"

    def __init__(self, root: str | os.PathLike, subject: int, cache: str | os.PathLike,
                 layout: CC2017Layout = CC2017Layout(), convert: bool = True):
        if subject not in layout.voxels:
            raise DataError(f"cc2017 has subjects {sorted(layout.voxels)}, not {subject}")
        self.subject, self.layout = subject, layout
        self.n_voxels = layout.voxels[subject]
        self.root = Path(root)
        self._dir = Path(cache) / "cc2017"
        if convert:
            convert_cc2017(root, cache, subjects=(subject,), layout=layout)
        self._fmri_mm = {s: self._open(self._dir / f"sub-{subject:02d}" / f"{s}_fmri.npy",
                                       layout.fmri_shape(subject, s)) for s in SPLITS}
        self._frames_mm = {s: self._open(self._dir / f"frames_{s}.npy", None) for s in SPLITS}
        self._captions = {s: json.loads((self._dir / f"captions_{s}.json").read_text()) for s in SPLITS}

    @staticmethod
    def _open(path: Path, shape) -> np.ndarray:
        if not path.exists():
            raise DataError(f"cc2017 cache file {path} is missing; run `python -m neuroclips convert-cc2017`")
        x = np.load(path, mmap_mode="r")
        if shape is not None and x.shape != tuple(shape):
            raise DataError(f"cc2017 cache file {path} has shape {x.shape}, expected {tuple(shape)}")
        return x

    def num_clips(self, split: str) -> int:
        return self.layout.n_clips[self._check_split(split)]

    def repetitions(self, split: str) -> int:
        return self.layout.repetitions[self._check_split(split)]

    def _fmri(self, split: str, indices: np.ndarray) -> np.ndarray:
        return np.asarray(self._fmri_mm[split][indices])

    def _frames(self, split: str, index: int, fps: int) -> np.ndarray:
        x = np.asarray(self._frames_mm[split][index])
        return x if x.dtype == np.uint8 else np.clip(np.round(x * 255), 0, 255).astype(np.uint8)

    def caption(self, split: str, index: int) -> str:
        self._check_index(split, index)
        return self._captions[split][index]
