"""``export-flatmaps``: every map of a subject as PNG + one CIFTI-2 dscalar + a per-area summary."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np

from ..data import SubjectData
from ..io import atomic_path, atomic_write_json
from .plot import plot_flatmap, save_png
from .surface import to_cortex
from .weights import area_summary, ground_truth_maps, load_state_dict, map_correlation, save_dscalar, voxel_weights


def default_checkpoint(subject: int, model: str) -> Path:
    """Where the reconstructors' trained checkpoints of a simulated subject are shipped."""
    from ..zoo import reconstructor_dir

    return reconstructor_dir(subject, model)


def subject_maps(data: SubjectData, checkpoints: dict[str, Path | None],
                 vertex_indices: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-grayordinate maps of a subject: learned weights of the given checkpoints, and ground truth."""
    vertices = vertex_indices if vertex_indices is not None else data.vertex_indices
    if vertices is None:
        raise ValueError(
            f"{data.source} subject {data.subject} has no vertex indices: cc2017's tensors hold only the selected "
            "vertices, in an undocumented order. Recompute the selection mask (spec §8: Wen preprocessing, "
            "per-segment repetition r, Fisher z, t-test, Bonferroni 0.05/59,412; check the counts 13,447 / 14,828 / "
            "9,114) and pass the ascending grayordinate indices with --vertex-indices.")
    vertices = np.asarray(vertices)
    if len(vertices) != data.n_voxels:
        raise ValueError(f"{len(vertices)} vertex indices for {data.n_voxels} voxels")
    maps = {}
    for model, path in checkpoints.items():
        if path is None:
            continue
        sd = load_state_dict(path)
        layers = ("ridge", "inception") if model == "perception" else ("ridge",)
        for layer in layers:
            maps[f"{model} ({layer})"] = to_cortex(voxel_weights(sd, model, layer, data.n_voxels), vertices)
    if hasattr(data, "ground_truth"):
        for name, v in ground_truth_maps(data.ground_truth).items():
            maps[name] = to_cortex(v, vertices)
    return maps


def export_subject(data: SubjectData, out_dir: Path, checkpoints: dict[str, Path | None],
                   vertex_indices: np.ndarray | None = None) -> dict:
    """Write PNGs, ``maps.dscalar.nii``, ``area_summary.csv`` and ``summary.json``; returns the summary."""
    maps = subject_maps(data, checkpoints, vertex_indices)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, v in maps.items():
        stem = name.lower().replace(" ", "_").replace("(", "").replace(")", "")
        save_png(v, out_dir / f"{stem}.png", title=f"{data.source} subject {data.subject}: {name}")
    if len(maps) > 1:
        save_png(maps, out_dir / "comparison.png", title=f"{data.source} subject {data.subject}")
    save_dscalar(maps, out_dir / "maps.dscalar.nii")
    rows = {name: area_summary(v) for name, v in maps.items()}
    with atomic_path(out_dir / "area_summary.csv") as tmp, open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["map", "area", "n_voxels", "mean_normalised_weight"])
        for name, rs in rows.items():
            for r in rs:
                w.writerow([name, r["area"], r["n_voxels"], f"{r['mean']:.4f}"])
    # The app's Brain tab shows PR vs SR side by side (GT maps where there are no checkpoints); time 3 renders.
    shown = [n for n in ("perception (ridge)", "semantics (ridge)") if n in maps] or list(maps)[:2]
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        fig_json = plot_flatmap({n: maps[n] for n in shown}, title=f"subject {data.subject}").to_json()
        times.append(time.perf_counter() - t0)
    summary = {
        "subject": data.subject, "source": data.source, "maps": list(maps),
        "early_vs_higher": {name: {r["area"]: round(r["mean"], 4) for r in rs[-2:]} for name, rs in rows.items()},
        "correlations": {f"{a} ~ {b}": round(map_correlation(maps[a], maps[b]), 4)
                         for i, a in enumerate(maps) for b in list(maps)[i + 1:]},
        "interactive_figure": {"render_and_json_seconds_median_of_3": round(float(np.median(times)), 3),
                               "json_megabytes": round(len(fig_json) / 1e6, 3), "maps_in_figure": shown},
    }
    atomic_write_json(out_dir / "summary.json", summary)
    return summary


def print_summary(summary: dict) -> None:
    print(json.dumps(summary, indent=2))
