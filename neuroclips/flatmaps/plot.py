"""Interactive flatmaps (plotly) of per-vertex values on both hemispheres of the fs_LR 32k flat surface.

Conventions follow the paper's Fig. 5 (spec §8): per-voxel values min-max normalised to [0, 1] and
shown with colour limits 0.25-0.75; vertices without a value show sulcal depth in grey. Several maps
share one geometry: a figure holds the mesh once and buttons switch between maps, which keeps the
JSON small enough for a browser tab.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..cortex import N_CORTEX
from .surface import VISUAL_AREAS, flat_surface

PREVIEW_LABELS = ("V1", "V4", "MT", "FFC")  # the area labels that stay legible on the small preview
GREY_TOP = 0.45  # intensities in [0, GREY_TOP] encode sulcal depth, [0.5, 1] the map's colour range
_GREYS = [[0.0, "rgb(235,235,235)"], [GREY_TOP, "rgb(120,120,120)"]]


@dataclass(frozen=True)
class FlatmapStyle:
    normalize: bool = True  # min-max over voxels to [0, 1], as the paper
    vmin: float = 0.25  # the paper's colour range
    vmax: float = 0.75
    colorscale: str = "Inferno"
    outlines: bool = True
    labels: bool = True


def normalize_map(values: np.ndarray) -> np.ndarray:
    """Min-max normalise the finite entries to [0, 1] (NaN stays NaN)."""
    v = np.asarray(values, np.float64)
    finite = np.isfinite(v)
    if not finite.any():
        return v.copy()
    lo, hi = v[finite].min(), v[finite].max()
    out = np.full_like(v, np.nan)
    out[finite] = (v[finite] - lo) / (hi - lo) if hi > lo else 0.0
    return out


def _check_cortex(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, np.float64)
    if v.shape != (N_CORTEX,):
        raise ValueError(f"a flatmap needs one value per cortical grayordinate ({N_CORTEX},), got {v.shape}; "
                         "use neuroclips.flatmaps.to_cortex(values, vertex_indices) for voxel values")
    return v


def encode_intensity(values: np.ndarray, sulc: np.ndarray, style: FlatmapStyle) -> np.ndarray:
    """Mesh intensities in [0, 1]: values in the colour band [0.5, 1], missing vertices as grey sulcal depth."""
    v = normalize_map(values) if style.normalize else np.asarray(values, np.float64)
    finite = np.isfinite(v)
    s = (sulc - sulc.min()) / max(np.ptp(sulc), 1e-9)
    out = s * GREY_TOP
    scaled = np.clip((v[finite] - style.vmin) / max(style.vmax - style.vmin, 1e-12), 0, 1)
    out[finite] = 0.5 + 0.5 * scaled
    return out.astype(np.float32)


def face_values(values: np.ndarray, hemi) -> tuple[np.ndarray, np.ndarray]:
    """Per-triangle value (mean of its vertices that carry one, if at least two do) and sulcal depth."""
    from .surface import flat_surface

    fv = np.asarray(values, np.float64)[hemi.grayordinates][hemi.faces]
    n = np.isfinite(fv).sum(1)
    with np.errstate(invalid="ignore"):
        mean = np.where(n >= 2, np.nansum(fv, 1) / np.maximum(n, 1), np.nan)
    return mean, flat_surface().sulc[hemi.grayordinates][hemi.faces].mean(1)


def _typed(a: np.ndarray) -> dict:
    """A plotly.js typed-array spec: button arguments are not converted by plotly.py, and plain lists of
    numbers would triple the figure's JSON."""
    import base64

    return {"dtype": {np.dtype(np.uint8): "u1"}[a.dtype], "bdata": base64.b64encode(a.tobytes()).decode()}


def _colorscale(name: str) -> list:
    from plotly.colors import get_colorscale

    return _GREYS + [[0.5 + 0.5 * float(p), c] for p, c in get_colorscale(name)]


def plot_flatmap(maps: dict[str, np.ndarray] | np.ndarray, title: str = "", style: FlatmapStyle = FlatmapStyle(),
                 value_label: str = "normalised weight"):
    """A plotly figure of one or more per-grayordinate maps (59,412 values each; NaN = no voxel).

    With several maps, buttons switch between them on the shared geometry.
    """
    import plotly.graph_objects as go

    if not isinstance(maps, dict):
        maps = {title or "map": maps}
    if not maps:
        raise ValueError("no map to draw")
    maps = {k: _check_cortex(v) for k, v in maps.items()}
    surf = flat_surface(VISUAL_AREAS)
    colorscale = _colorscale(style.colorscale)
    names = list(maps)
    shown = {k: (normalize_map(v) if style.normalize else v) for k, v in maps.items()}
    # Compact payload: intensities as uint8 (the colour band keeps 128 levels), coordinates in 0.1 mm
    # int16, triangles uint16, and one hover text per vertex holding the area and every map's value.
    # One colour per triangle (intensitymode="cell"): interpolating between the grey and colour bands
    # across a selected/unselected edge would paint false colours.
    face_style = FlatmapStyle(normalize=False, vmin=style.vmin, vmax=style.vmax)  # `shown` is normalised already
    intensity = {k: [np.round(encode_intensity(*face_values(v, h), face_style) * 255).astype(np.uint8)
                     for h in surf.hemispheres] for k, v in shown.items()}
    text = surf.area.astype(object)
    stacked = np.stack([shown[k] for k in names], 1)
    has = np.isfinite(stacked).any(1)
    text[has] = [a + "<br>" + " / ".join("–" if np.isnan(x) else f"{x:.2f}" for x in row)
                 for a, row in zip(text[has], stacked[has])]
    extra = " / ".join(names) if len(names) > 1 else value_label  # says which value is which, once per figure
    fig = go.Figure()
    for hi, h in enumerate(surf.hemispheres):
        g = h.grayordinates
        fig.add_trace(go.Mesh3d(
            x=np.round(h.xy[:, 0] * 10).astype(np.int16), y=np.round(h.xy[:, 1] * 10).astype(np.int16),
            z=np.zeros(len(g), np.int8), i=h.faces[:, 0], j=h.faces[:, 1], k=h.faces[:, 2],
            intensity=intensity[names[0]][hi], intensitymode="cell", cmin=0, cmax=255, colorscale=colorscale, showscale=False,
            flatshading=True, lighting=dict(ambient=1.0, diffuse=0.0, specular=0.0, fresnel=0.0),
            text=list(text[g]), hovertemplate=f"%{{text}}<extra>{h.name}: {extra}</extra>",
            name=f"{h.name} hemisphere",
        ))
    if style.outlines and len(surf.outlines):
        fig.add_trace(go.Scatter3d(x=surf.outlines[:, 0] * 10, y=surf.outlines[:, 1] * 10,
                                   z=np.ones(len(surf.outlines), np.int8),
                                   mode="lines", line=dict(color="rgba(255,255,255,0.9)", width=1.5),
                                   hoverinfo="skip", showlegend=False, name="areas"))
    if style.labels:
        fig.add_trace(go.Scatter3d(x=[10 * x for _, x, _ in surf.labels], y=[10 * y for _, _, y in surf.labels],
                                   z=[2] * len(surf.labels), mode="text", text=[a for a, _, _ in surf.labels],
                                   textfont=dict(size=9, color="cyan"), hoverinfo="skip", showlegend=False))
    # The mesh's colour scale mixes grey and colour bands: an invisible marker carries the colour bar.
    fig.add_trace(go.Scatter3d(x=[10 * float(surf.hemispheres[0].xy[0, 0])], y=[10 * float(surf.hemispheres[0].xy[0, 1])],
                               z=[0],
                               mode="markers", hoverinfo="skip", showlegend=False,
                               marker=dict(size=0.1, opacity=0, color=[style.vmin], colorscale=style.colorscale,
                                           cmin=style.vmin, cmax=style.vmax, showscale=True,
                                           colorbar=dict(title=value_label, len=0.6))))
    buttons = []
    if len(names) > 1:
        for k in names:
            buttons.append(dict(label=k, method="update", args=[
                {"intensity": [_typed(a) for a in intensity[k]]},
                {"title.text": f"{title} — {k}" if title else k}, [0, 1]]))
    axis = dict(visible=False, showgrid=False, zeroline=False)
    xy_all = np.concatenate([h.xy for h in surf.hemispheres])
    fig.update_layout(
        title=dict(text=f"{title} — {names[0]}" if title and len(names) > 1 else (title or names[0]), x=0.5),
        margin=dict(l=0, r=0, t=40, b=0), height=520, paper_bgcolor="white", dragmode="pan",
        # A flat z: "data" aspect would zoom onto a sliver; the ratio keeps the map's proportions.
        scene=dict(xaxis=axis, yaxis=axis, zaxis=axis, aspectmode="manual", dragmode="pan",
                   aspectratio=dict(x=3.2, y=3.2 * float(np.ptp(xy_all[:, 1]) / np.ptp(xy_all[:, 0])), z=0.01),
                   camera=dict(eye=dict(x=0, y=0, z=2.0), up=dict(x=0, y=1, z=0),
                               projection=dict(type="orthographic"))),
        updatemenus=[dict(type="buttons", direction="right", buttons=buttons, x=0.0, y=1.08, xanchor="left")]
        if buttons else [],
    )
    return fig


def save_png(maps: dict[str, np.ndarray] | np.ndarray, path, title: str = "", style: FlatmapStyle = FlatmapStyle(),
             value_label: str = "normalised weight", dpi: int = 150) -> None:
    """A static PNG (matplotlib) of one map, or of several maps side by side (one row each), with the
    conventions of the interactive figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..io import atomic_path

    if not isinstance(maps, dict):
        maps = {title: maps}
    fig, axes = plt.subplots(len(maps), 1, figsize=(12, 4.2 * len(maps)), squeeze=False, layout="constrained")
    for ax, (name, values) in zip(axes[:, 0], maps.items()):
        im = _draw(ax, _check_cortex(values), style)
        fig.colorbar(im, ax=ax, fraction=0.025, label=value_label)
        ax.set_title(name if len(maps) > 1 else title)
    if len(maps) > 1 and title:
        fig.suptitle(title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
    plt.close(fig)


def selected_extent(maps: dict[str, np.ndarray], margin: float = 6.0) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) of the canvas around every grayordinate that has a value in some map (mm)."""
    surf = flat_surface(VISUAL_AREAS)
    has = np.zeros(N_CORTEX, bool)
    for v in maps.values():
        has |= np.isfinite(_check_cortex(v))
    xy = np.concatenate([h.xy[has[h.grayordinates]] for h in surf.hemispheres])
    if not len(xy):
        xy = np.concatenate([h.xy for h in surf.hemispheres])
    (x0, y0), (x1, y1) = xy.min(0) - margin, xy.max(0) + margin
    return float(x0), float(x1), float(y0), float(y1)


def save_preview(maps: dict[str, np.ndarray] | np.ndarray, path, title: str = "", style: FlatmapStyle = FlatmapStyle(),
                 value_label: str = "normalised weight", panel_height: float = 2.6, dpi: int = 72,
                 colors: int = 24, greys: int = 5) -> None:
    """A small PNG of all maps side by side (one column each), zoomed onto the selected voxels.

    Same conventions as :func:`save_png` (normalisation, colour range, grey sulcal depth, area outlines),
    with one shared colour bar and only a few area labels (:data:`PREVIEW_LABELS`). The PNG has a fixed
    palette (``colors`` levels of the colour map, ``greys`` bands of sulcal depth), which keeps five maps
    of a subject at about 50 KB, small enough to commit.
    """
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    from ..io import atomic_path

    if not isinstance(maps, dict):
        maps = {title or "map": maps}
    if not maps:
        raise ValueError("no map to draw")
    x0, x1, y0, y1 = selected_extent(maps)
    width = panel_height * (x1 - x0) / (y1 - y0)
    fig, axes = plt.subplots(1, len(maps), figsize=(width * len(maps) + 0.9, panel_height + 0.6), squeeze=False,
                             layout="constrained")
    for ax, (name, values) in zip(axes[0], maps.items()):
        im = _draw(ax, _check_cortex(values), style, label_size=7, label_areas=PREVIEW_LABELS)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_title(name, fontsize=9)
    fig.colorbar(im, ax=axes[0].tolist(), fraction=0.02, pad=0.01, aspect=25).set_label(value_label, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    buf = io.BytesIO()
    fig.savefig(buf, dpi=dpi, format="png", facecolor="white")
    plt.close(fig)
    buf.seek(0)
    img = Image.open(buf).convert("RGB").quantize(palette=_preview_palette(style.colorscale, colors, greys),
                                                  dither=Image.Dither.NONE)
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG", optimize=True)


def _preview_palette(colorscale: str, colors: int, greys: int):
    """A PIL palette image: ``colors`` levels of the colour map, ``greys`` levels of sulcal depth, black, white
    and the label colour."""
    import matplotlib.pyplot as plt
    from PIL import Image

    cmap = plt.get_cmap(colorscale.lower())
    rgb = [tuple(int(round(255 * c)) for c in cmap(t)[:3]) for t in np.linspace(0, 1, colors)]
    # Few greys: sulcal depth becomes flat bands, which compress far better than its smooth shading.
    rgb += [(int(g), int(g), int(g)) for g in (0, 64, *np.linspace(0.42 * 255, 0.92 * 255, greys).round(), 255)]
    rgb += [(0, 255, 255), (0, 128, 128)]  # area labels
    flat = [c for col in rgb[:256] for c in col]
    pal = Image.new("P", (1, 1))
    pal.putpalette(flat + flat[:3] * (256 - len(flat) // 3))
    return pal


def _draw(ax, values: np.ndarray, style: FlatmapStyle, label_size: float = 6,
          label_areas: tuple[str, ...] | None = None):
    import matplotlib.pyplot as plt
    from matplotlib.cm import ScalarMappable
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize

    surf = flat_surface(VISUAL_AREAS)
    shown = normalize_map(values) if style.normalize else values
    s = (surf.sulc - surf.sulc.min()) / max(np.ptp(surf.sulc), 1e-9)
    cmap = plt.get_cmap(style.colorscale.lower())
    for h in surf.hemispheres:
        g = h.grayordinates
        ax.tripcolor(h.xy[:, 0], h.xy[:, 1], h.faces.astype(np.int32), 0.92 - 0.5 * s[g], cmap="gray",
                     vmin=0, vmax=1, shading="gouraud")
        fv, _ = face_values(shown, h)
        keep = np.isfinite(fv)
        if keep.any():
            ax.tripcolor(h.xy[:, 0], h.xy[:, 1], h.faces[keep].astype(np.int32), facecolors=fv[keep], cmap=cmap,
                         vmin=style.vmin, vmax=style.vmax)
    if style.outlines and len(surf.outlines):
        breaks = np.flatnonzero(np.isnan(surf.outlines[:, 0]))
        ax.add_collection(LineCollection([surf.outlines[b - 2 : b] for b in breaks], colors="white", linewidths=0.6))
    if style.labels:
        for a, x, y in surf.labels:
            if label_areas is not None and a not in label_areas:
                continue
            ax.text(x, y, a, fontsize=label_size, color="cyan", ha="center", va="center", clip_on=True)
    ax.set_aspect("equal")
    ax.axis("off")
    return ScalarMappable(Normalize(style.vmin, style.vmax), cmap)
