"""Voxel-weight maps from reconstructor checkpoints, ground-truth maps, per-area summaries, CIFTI export.

The paper's Fig. 5 (spec §8) shows the first ridge layer's weights: per voxel, |w| averaged over the
output units, min-max normalised. PR's ridge input is the Inception Extension's pseudo-fMRI (still
indexed by voxel); its first layer on raw voxels is the Inception Extension's ``lin0``. Key names follow
the reference (spec §10.3), so MindEye2-layout checkpoints load too.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..cortex import N_CORTEX
from .surface import EARLY_AREAS, VISUAL_AREAS, flat_surface

N_VERTICES = 32492  # vertices of each fs_LR 32k hemisphere mesh (medial wall included)

# (model, layer) -> state-dict key of the first layer that touches voxels; weights are (out, n_voxels).
WEIGHT_KEYS = {
    ("perception", "ridge"): "ridge1.linears.0.weight",
    ("perception", "inception"): "fmri.lin0.0.weight",
    ("semantics", "ridge"): "ridge.linears.0.weight",
}


def load_state_dict(path: str | os.PathLike) -> dict:
    """Tensors of a checkpoint: a ``.safetensors`` file, a folder holding one, or a ``.pth``/``.pt`` file."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.safetensors"))
        if not files:
            raise FileNotFoundError(f"no .safetensors file in {path}")
        out = {}
        for f in files:
            out.update(load_state_dict(f))
        return out
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    if path.suffix == ".safetensors":
        from safetensors.numpy import load_file

        return load_file(str(path))
    import torch

    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises anything from IndexError to UnpicklingError on a file that is no checkpoint
        raise ValueError(f"{path} is not a readable PyTorch checkpoint ({type(err).__name__}: {err}); pass the model's "
                         "folder (sub-NN/perception or sub-NN/semantics, with a .safetensors file) or the .pth that "
                         "train-pr/train-sr wrote") from None
    for key in ("model_state_dict", "state_dict", "model"):  # common wrappers (the reference saves the first)
        if isinstance(sd, dict) and isinstance(sd.get(key), dict):
            sd = sd[key]
    return {k: v.float().numpy() for k, v in sd.items() if hasattr(v, "numpy")}


def voxel_weights(state_dict: dict, model: str = "semantics", layer: str = "ridge",
                  n_voxels: int | None = None) -> np.ndarray:
    """Per-voxel mean |w| over the output units of the first voxel layer, shape (n_voxels,)."""
    if (model, layer) not in WEIGHT_KEYS:
        raise ValueError(f"no voxel layer {layer!r} for model {model!r}; choose one of {sorted(WEIGHT_KEYS)}")
    key = WEIGHT_KEYS[(model, layer)]
    matches = [k for k in state_dict if k == key or k.endswith("." + key)]  # accelerate/DDP prefixes
    if not matches:
        raise KeyError(f"the checkpoint has no {key!r} ({model} {layer} layer)")
    w = np.asarray(state_dict[matches[0]], np.float64)
    if w.ndim != 2:
        raise ValueError(f"{key} has shape {w.shape}, expected (out_features, n_voxels)")
    if n_voxels is not None and w.shape[1] != n_voxels:
        raise ValueError(f"{key} has {w.shape[1]} voxel columns but the subject has {n_voxels} voxels: "
                         "the checkpoint belongs to another subject or dataset")
    return np.abs(w).mean(0)


def ground_truth_maps(ground_truth: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per voxel, the share of a single-repetition sample's variance that a family of features explains.

    Perception: contrast + local motion (the pixel-level content PR decodes); semantics: category tuning
    (SR's CLIP target). Explained share = family share x SNR / (1 + SNR), bounded in [0, 1].
    """
    snr, shares = ground_truth["snr"].astype(np.float64), ground_truth["shares"].astype(np.float64)
    signal = snr / (1.0 + snr)
    return {"GT perception": signal * (shares[:, 0] + shares[:, 1]), "GT semantics": signal * shares[:, 3]}


def map_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r over the voxels where both maps have a value."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    m = np.isfinite(a) & np.isfinite(b)
    if m.sum() < 3 or a[m].std() == 0 or b[m].std() == 0:
        return float("nan")
    return float(np.corrcoef(a[m], b[m])[0, 1])


def area_summary(values: np.ndarray, areas: tuple[str, ...] = VISUAL_AREAS) -> list[dict]:
    """Mean of a per-grayordinate map (NaN = no voxel) per area, then early (V1-V4) vs higher visual areas."""
    from .plot import normalize_map

    v = normalize_map(np.asarray(values, np.float64))
    if v.shape != (N_CORTEX,):
        raise ValueError(f"expected one value per cortical grayordinate ({N_CORTEX},), got {v.shape}")
    area = flat_surface().area
    rows = []
    for a in areas:
        m = (area == a) & np.isfinite(v)
        rows.append({"area": a, "n_voxels": int(m.sum()), "mean": float(v[m].mean()) if m.any() else float("nan")})
    for name, group in (("early (V1-V4)", EARLY_AREAS), ("higher visual", tuple(a for a in areas if a not in EARLY_AREAS))):
        m = np.isin(area, group) & np.isfinite(v)
        rows.append({"area": name, "n_voxels": int(m.sum()), "mean": float(v[m].mean()) if m.any() else float("nan")})
    return rows


def plot_area_summary(maps: dict[str, np.ndarray], title: str = "Mean normalised weight per visual area"):
    """Grouped bars of ``area_summary`` for several maps."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, values in maps.items():
        rows = area_summary(values)
        fig.add_trace(go.Bar(x=[r["area"] for r in rows], y=[r["mean"] for r in rows], name=name,
                             customdata=[r["n_voxels"] for r in rows],
                             hovertemplate="%{x}: %{y:.3f} (%{customdata} voxels)<extra>%{fullData.name}</extra>"))
    fig.update_layout(barmode="group", title=title, yaxis_title="mean normalised weight", height=360,
                      margin=dict(l=50, r=10, t=50, b=80), legend=dict(orientation="h", y=1.12))
    return fig


def _surface_lookup() -> np.ndarray:
    """(2, 32492) grayordinate index of each fs_LR 32k vertex per hemisphere (-1 on the medial wall)."""
    from ..cortex import grayordinates

    geo = grayordinates()
    lookup = np.full((2, N_VERTICES), -1, np.int64)
    lookup[geo.hemisphere, geo.vertex] = np.arange(N_CORTEX)
    return lookup


def save_dscalar(maps: dict[str, np.ndarray], path: str | os.PathLike,
                 grayordinate_indices: np.ndarray | None = None) -> None:
    """Write per-grayordinate maps as one sparse CIFTI-2 dense scalar file (fs_LR 32k, cortex left + right).

    ``maps`` hold one value per cortical grayordinate (59,412; NaN = no voxel). Only the grayordinates
    that carry a voxel are stored: ``grayordinate_indices`` (the subject's voxel indices), by default those
    where any map is finite. The brain-model axis lists them as CortexLeft / CortexRight surface models
    (their fs_LR vertex indices, 32,492 vertices per hemisphere), as CIFTI-2 allows; Connectome Workbench
    shows the file on the HCP S1200 (or Q1-Q6 R440) 32k flat surfaces, with no value elsewhere.
    Values are float32; :func:`load_dscalar` maps them back onto the 59,412 grayordinates.
    """
    import nibabel as nib
    from nibabel.cifti2 import cifti2_axes

    from ..cortex import grayordinates
    from ..io import atomic_path

    data = np.stack([np.asarray(v, np.float32) for v in maps.values()])
    if data.shape[1] != N_CORTEX:
        raise ValueError(f"each map needs {N_CORTEX} values, got {data.shape[1]}")
    if grayordinate_indices is None:
        keep = np.flatnonzero(np.isfinite(data).any(0))
    else:
        keep = np.unique(np.asarray(grayordinate_indices, np.int64))  # ascending: left cortex, then right
        if len(keep) != len(grayordinate_indices) or keep[0] < 0 or keep[-1] >= N_CORTEX:
            raise ValueError(f"grayordinate indices must be distinct and index the {N_CORTEX} cortical grayordinates")
        outside = np.ones(N_CORTEX, bool)
        outside[keep] = False
        if np.isfinite(data[:, outside]).any():
            raise ValueError("a map has values outside the given grayordinates; they would be dropped")
    if not len(keep):
        raise ValueError("no map has a value: nothing to write")
    geo = grayordinates()
    hemi, vertex = geo.hemisphere[keep], geo.vertex[keep]
    brain = None
    for h, structure in ((0, "CortexLeft"), (1, "CortexRight")):
        if (hemi == h).any():
            model = cifti2_axes.BrainModelAxis.from_surface(vertex[hemi == h], N_VERTICES, structure)
            brain = model if brain is None else brain + model
    scalars = cifti2_axes.ScalarAxis(list(maps))
    img = nib.Cifti2Image(np.ascontiguousarray(data[:, keep]), header=(scalars, brain))
    img.nifti_header.set_intent("NIFTI_INTENT_CONNECTIVITY_DENSE_SCALARS")
    with atomic_path(path) as tmp:
        nib.save(img, str(tmp.with_suffix(".dscalar.nii")))
        os.replace(tmp.with_suffix(".dscalar.nii"), tmp)


def dscalar_grayordinates(path_or_img) -> np.ndarray:
    """The cortical grayordinate index (0..59,411) of each column of a dscalar file (sparse or dense)."""
    import nibabel as nib

    img = nib.load(str(path_or_img)) if isinstance(path_or_img, (str, os.PathLike)) else path_or_img
    brain = img.header.get_axis(1)
    hemis = {"CIFTI_STRUCTURE_CORTEX_LEFT": 0, "CIFTI_STRUCTURE_CORTEX_RIGHT": 1}
    lookup = _surface_lookup()
    out = np.empty(len(brain), np.int64)
    for structure, sl, model in brain.iter_structures():
        if structure not in hemis or model.volume_mask.any():
            raise ValueError(f"{structure}: only cortical surface models map onto the {N_CORTEX} grayordinates")
        if brain.nvertices[structure] != N_VERTICES:
            raise ValueError(f"{structure} has {brain.nvertices[structure]} vertices, "
                             f"expected fs_LR 32k ({N_VERTICES})")
        out[sl] = lookup[hemis[structure], model.vertex]
    if (out < 0).any():
        raise ValueError("the file has values on medial-wall vertices, which are not cortical grayordinates")
    return out


def load_dscalar(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read maps written by :func:`save_dscalar` back into per-grayordinate arrays (59,412 values each,
    NaN where the file has no grayordinate)."""
    import nibabel as nib

    img = nib.load(str(path))
    names = list(img.header.get_axis(0).name)
    columns = dscalar_grayordinates(img)
    values = np.asarray(img.get_fdata(), np.float64)
    out = np.full((len(names), N_CORTEX), np.nan)
    out[:, columns] = values
    return dict(zip(names, out))
