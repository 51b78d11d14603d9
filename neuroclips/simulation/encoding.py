"""Voxel-wise encoding model of the simulated subjects.

Four feature families drive the simulated vertices, with area-specific shares:

* ``contrast``: local luminance-gradient energy seen through a population receptive field (pRF) with a
  compressive exponent (CSS model, Kay et al. 2013);
* ``motion``: local temporal-difference (motion) energy through the same pRF;
* ``global_motion``: direction-tuned and speed-tuned responses to camera and object motion (MT/MST);
* ``semantic``: tuning to the clip's categories through their semantic attributes (animate, places,
  objects, ...), biased per area (ventral temporal areas prefer animate content, parahippocampal areas
  places and textures, lateral occipital areas objects).

Early areas (V1-V4) get pRF positions from their place on the flat cortex (eccentricity along the
calcarine axis from the occipital pole, polar angle across it, dorsal = lower field, V2/V3 mirror
reversals), and pRF size grows with eccentricity and up the hierarchy (Dumoulin & Wandell 2008).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import sobel
from scipy.spatial import cKDTree

from ..cortex import Grayordinates
from ..frames import FPS_VIDEO
from .categories import ATTRIBUTES, CATEGORY_NAMES, attribute_matrix
from .stimuli import MovieRenderer, category_fractions

FAMILIES = ("contrast", "motion", "global_motion", "semantic")
FIELD_OF_VIEW_DEG = 20.0  # cc2017 movies subtended 20.3 x 20.3 degrees


@dataclass(frozen=True)
class AreaTuning:
    shares: tuple[float, float, float, float]  # variance shares of FAMILIES
    snr: float  # median signal-to-noise variance ratio of one repetition
    prf_slope: float  # pRF sigma = slope * eccentricity + intercept (degrees)
    prf_intercept: float
    exponent: float = 0.5
    bias: tuple[str, ...] = ()  # preferred semantic attributes
    retinotopic: bool = False  # pRF position from cortical geometry (V1-V4)


_EARLY = dict(exponent=0.5, retinotopic=True)
AREAS: dict[str, AreaTuning] = {
    "V1": AreaTuning((0.75, 0.25, 0.0, 0.0), 0.55, 0.10, 0.30, **_EARLY),
    "V2": AreaTuning((0.70, 0.25, 0.0, 0.05), 0.50, 0.15, 0.40, **_EARLY),
    "V3": AreaTuning((0.60, 0.30, 0.0, 0.10), 0.45, 0.22, 0.50, **_EARLY),
    "V4": AreaTuning((0.45, 0.10, 0.0, 0.45), 0.35, 0.35, 0.80, exponent=0.4, retinotopic=True,
                     bias=("object", "face")),
}
for _name in ("V3A", "V3B", "V6", "V6A", "V7", "IPS1", "V3CD"):
    AREAS[_name] = AreaTuning((0.35, 0.30, 0.25, 0.10), 0.30, 0.40, 1.0, exponent=0.4, bias=("place",))
for _name in ("LO1", "LO2"):
    AREAS[_name] = AreaTuning((0.40, 0.10, 0.10, 0.40), 0.30, 0.45, 1.0, exponent=0.4, bias=("object", "vehicle"))
for _name in ("LO3", "PIT", "V8", "VVC"):
    AREAS[_name] = AreaTuning((0.25, 0.05, 0.05, 0.65), 0.25, 0.60, 1.5, exponent=0.3, bias=("object", "face"))
for _name in ("MT", "MST", "FST", "V4t"):
    AREAS[_name] = AreaTuning((0.15, 0.25, 0.50, 0.10), 0.30, 0.50, 1.5, exponent=0.3, bias=("animate",))
for _name in ("FFC", "TE2p", "VMV2", "VMV3"):
    AREAS[_name] = AreaTuning((0.10, 0.0, 0.0, 0.90), 0.20, 0.70, 2.0, exponent=0.3, bias=("face", "animate", "person"))
for _name in ("PH", "PHA1", "PHA2", "PHA3", "VMV1", "ProS", "POS1", "DVT"):
    AREAS[_name] = AreaTuning((0.15, 0.0, 0.0, 0.85), 0.18, 0.70, 2.0, exponent=0.3, bias=("place", "texture", "natural"))
for _name in ("TPOJ1", "TPOJ2", "TPOJ3", "STV", "PGp"):
    AREAS[_name] = AreaTuning((0.05, 0.0, 0.35, 0.60), 0.12, 0.80, 3.0, exponent=0.3, bias=("person", "animate", "text"))
del _name


def feature_grid(resolution: int) -> int:
    return min(16, resolution)


def clip_features(renderer: MovieRenderer, split: str, index: int) -> dict[str, np.ndarray]:
    """Stimulus features of one clip from its 16 frames at 8 FPS."""
    frames = renderer.render_clip(split, index, fps=FPS_VIDEO).astype(np.float32) / 255.0
    lum = frames @ np.array([0.299, 0.587, 0.114], np.float32)  # (F, H, W)
    grad = np.hypot(sobel(lum, axis=1), sobel(lum, axis=2))
    diff = np.abs(np.diff(lum, axis=0))
    g = feature_grid(renderer.config.resolution)
    pool = lambda x: x.reshape(x.shape[0], g, x.shape[1] // g, g, x.shape[2] // g).mean((2, 4)).mean(0)
    return {
        "contrast": pool(grad).ravel(),
        "motion": pool(diff).ravel(),
        "global_motion": renderer.motion_features(split, index),
        "semantic": category_fractions(renderer, split, index),
    }


def stimulus_features(renderer: MovieRenderer, split: str) -> dict[str, np.ndarray]:
    """Features of every clip of a split, stacked per family."""
    rows = [clip_features(renderer, split, i) for i in range(renderer.config.n_clips(split))]
    return {k: np.stack([r[k] for r in rows]).astype(np.float32) for k in rows[0]}


@dataclass
class VoxelModel:
    """Encoding parameters of the candidate vertices of one subject (the simulation's ground truth)."""

    vertices: np.ndarray  # grayordinate indices of vertices that carry signal
    area: np.ndarray
    shares: np.ndarray  # (n, 4) variance shares of FAMILIES
    snr: np.ndarray  # signal / noise variance of one repetition
    prf: np.ndarray  # (n, 3): x, y, sigma in degrees (x > 0 = right visual field)
    exponent: np.ndarray
    direction: np.ndarray  # preferred motion direction (radians)
    semantic_weights: np.ndarray  # (n, n_categories)

    def __len__(self) -> int:
        return len(self.vertices)

    def subset(self, rows: np.ndarray) -> "VoxelModel":
        return VoxelModel(*(getattr(self, f)[rows] for f in self.__dataclass_fields__))

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


def _retinotopy(geo: Grayordinates, hemi: int) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Eccentricity and polar angle (degrees, + = upper field) of V1-V4 vertices of one hemisphere.

    On the HCP flat map the calcarine cut runs along V1's horizontal meridian: V1 is a band along the
    cut edge with the foveal confluence in its middle (next to LO1/V4), dorsal V1 (lower visual field)
    towards V3A/V6 and ventral V1 (upper field) towards V4/VMV. Eccentricity grows along the band away
    from the fovea; polar angle goes from the horizontal meridian at the cut to the vertical meridian at
    the V1/V2 border, back to the horizontal meridian at V2/V3 and to the vertical one at V3's outer edge.
    """
    in_hemi = geo.hemisphere == hemi
    sel = {a: np.flatnonzero(in_hemi & (geo.area == a)) for a in ("V1", "V2", "V3", "V4")}
    pts = {a: geo.flat[i] for a, i in sel.items()}
    centre = pts["V1"].mean(0)
    _, _, vt = np.linalg.svd(pts["V1"] - centre, full_matrices=False)
    axis = vt[0]  # along the band
    lateral = geo.flat[in_hemi & np.isin(geo.area, ["LO1", "LO2", "V4"])].mean(0)
    fovea = pts["V1"][np.argmin(np.linalg.norm(pts["V1"] - lateral, axis=1))]
    dorsal = geo.flat[in_hemi & np.isin(geo.area, ["V3A", "V6", "V7"])].mean(0)
    if (dorsal - fovea) @ axis < 0:
        axis = -axis  # positive along-band coordinate = dorsal = lower visual field
    s1 = (pts["V1"] - fovea) @ axis
    extent = {1: s1.max(), -1: -s1.min()}

    def along(p, emax=60.0, k=4.0):
        s = (p - fovea) @ axis
        half = np.where(s >= 0, 1, -1)
        u = np.clip(np.abs(s) / np.where(half > 0, extent[1], extent[-1]), 0, 1)
        return emax * np.expm1(k * u) / np.expm1(k), half

    def rank_by_bins(d, s, bins=10):
        """Distance normalised to [0, 1] within slices along the band (areas are not equally wide)."""
        edges = np.quantile(s, np.linspace(0, 1, bins + 1))
        idx = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, bins - 1)
        out = np.empty(len(d))
        for b in range(bins):
            m = idx == b
            if m.any():
                lo, hi = np.percentile(d[m], [2, 98])
                out[m] = np.clip((d[m] - lo) / max(hi - lo, 1e-6), 0, 1)
        return out

    out = {}
    tree = {a: cKDTree(p) for a, p in pts.items()}
    for area, ref, towards_ref_is_vertical in (("V1", "V2", True), ("V2", "V1", True), ("V3", "V2", False)):
        p = pts[area]
        d, _ = tree[ref].query(p)
        ecc, half = along(p)
        rank = rank_by_bins(d, (p - fovea) @ axis)
        magnitude = 90.0 * (1 - rank if towards_ref_is_vertical else rank)
        if area == "V3":  # V3 starts at V2's horizontal meridian and ends at a vertical one
            magnitude = 90.0 * rank_by_bins(tree["V1"].query(p)[0], (p - fovea) @ axis)
        out[area] = (ecc, -half * magnitude)
    p = pts["V4"]
    ecc, _ = along(p, emax=30.0)
    rank = rank_by_bins(tree["V3"].query(p)[0], (p - fovea) @ axis)
    out["V4"] = (ecc, 90.0 - 180.0 * rank)  # hV4 covers the contralateral hemifield
    return {a: (sel[a], *out[a]) for a in out}


def build_voxel_model(geo: Grayordinates, seed: int, snr_scale: float, snr_spread: float = 0.8,
                      prf_scale: float = 1.0, jitter_deg: float = 0.5) -> VoxelModel:
    """Draw the encoding parameters of one subject; every vertex outside AREAS carries noise only."""
    rng = np.random.default_rng(seed)
    vertices = np.flatnonzero(np.isin(geo.area, list(AREAS)))
    n = len(vertices)
    area = geo.area[vertices]
    tuning = [AREAS[a] for a in area]
    shares = np.array([t.shares for t in tuning], np.float64)
    shares = rng.dirichlet(np.ones(4), size=n) * 0.15 + shares * 0.85 * (shares > 0)  # voxel-level mixing
    shares /= shares.sum(1, keepdims=True)
    snr = np.array([t.snr for t in tuning]) * snr_scale * np.exp(rng.normal(0, snr_spread, n))
    # Default pRFs (non-retinotopic areas): near the fovea, random contralateral polar angle.
    ecc = rng.exponential(4.0, n)
    angle = rng.uniform(-90, 90, n)
    row_of = {v: i for i, v in enumerate(vertices)}
    for hemi in (0, 1):
        for a, (idx, e, th) in _retinotopy(geo, hemi).items():
            rows = np.array([row_of[v] for v in idx])
            ecc[rows], angle[rows] = e, th
    hemi = geo.hemisphere[vertices]
    x = ecc * np.cos(np.deg2rad(angle)) * np.where(hemi == 0, 1.0, -1.0)  # left hemisphere sees the right field
    y = ecc * np.sin(np.deg2rad(angle))
    jitter = jitter_deg * (1 + 0.1 * ecc)
    x, y = x + rng.normal(0, 1, n) * jitter, y + rng.normal(0, 1, n) * jitter
    sigma = prf_scale * np.array([t.prf_slope for t in tuning]) * ecc + np.array([t.prf_intercept for t in tuning])
    exponent = np.array([t.exponent for t in tuning])
    amat = attribute_matrix()  # (K, A)
    bias = np.array([[1.0 if a in t.bias else 0.0 for a in ATTRIBUTES] for t in tuning])
    attr_w = bias * 1.5 + rng.normal(0, 0.7, (n, len(ATTRIBUTES)))
    semantic = attr_w @ amat.T + rng.normal(0, 0.6, (n, len(CATEGORY_NAMES)))
    return VoxelModel(
        vertices=vertices.astype(np.int32), area=area, shares=shares.astype(np.float32), snr=snr.astype(np.float32),
        prf=np.stack([x, y, sigma], 1).astype(np.float32), exponent=exponent.astype(np.float32),
        direction=rng.uniform(0, 2 * np.pi, n).astype(np.float32), semantic_weights=semantic.astype(np.float32),
    )


def prf_weights(model: VoxelModel, grid: int) -> np.ndarray:
    """(grid*grid, n) Gaussian pRF weights over the feature grid; rows are image cells (row-major, y down)."""
    centres = (np.arange(grid) + 0.5) / grid * FIELD_OF_VIEW_DEG - FIELD_OF_VIEW_DEG / 2
    gx, gy = np.meshgrid(centres, -centres)  # image row 0 is the top of the visual field
    cells = np.stack([gx.ravel(), gy.ravel()], 1)
    x, y, s = model.prf.T.astype(np.float64)
    cell = FIELD_OF_VIEW_DEG / grid
    s = np.maximum(s, cell / 2)
    d2 = (cells[:, :1] - x) ** 2 + (cells[:, 1:] - y) ** 2
    # Integral of the unit-volume Gaussian over the cell area: pRFs off the screen receive little input.
    return (np.exp(-d2 / (2 * s**2)) * cell**2 / (2 * np.pi * s**2)).astype(np.float32)


def _zscore(x: np.ndarray, ref: slice) -> np.ndarray:
    mu, sd = x[ref].mean(0), x[ref].std(0)
    return (x - mu) / np.where(sd > 1e-8, sd, 1.0)


def neural_drive(model: VoxelModel, features: dict[str, np.ndarray], ref: slice) -> tuple[np.ndarray, np.ndarray]:
    """Drive (n_clips, n_voxels) with unit variance over the reference clips ``ref``, and each voxel's gain.

    Normalisation statistics come from the reference rows only (training clips).
    The gain (0-1) is the share of the voxel's potential signal that the screen can evoke: pRF families
    count only with the fraction of the pRF that falls on the 20° screen, so a peripheral V1 vertex
    stays silent however its drive is normalised.
    """
    grid = int(round(np.sqrt(features["contrast"].shape[1])))
    w = prf_weights(model, grid)
    coverage = np.clip(w.sum(0), 0, 1)
    contrast = np.maximum(features["contrast"] @ w, 0) ** model.exponent
    motion = np.maximum(features["motion"] @ w, 0) ** model.exponent
    gm = features["global_motion"]
    d = np.stack([np.cos(model.direction), np.sin(model.direction)])
    speed = np.abs(gm[:, :2]).sum(1, keepdims=True) + np.abs(gm[:, 2:4]).sum(1, keepdims=True)
    global_motion = np.maximum(gm[:, :2] @ d, 0) + 0.5 * speed + 0.3 * gm[:, 4:5]
    semantic = features["semantic"] @ model.semantic_weights.T
    parts = [contrast, motion, global_motion, semantic]
    gains = [coverage, coverage, 1.0, 1.0]
    drive = sum(np.sqrt(model.shares[:, i] * gains[i]) * _zscore(p, ref) for i, p in enumerate(parts))
    gain = sum(model.shares[:, i] * gains[i] for i in range(len(parts)))
    return _zscore(drive, ref).astype(np.float32), np.asarray(gain, np.float32)
