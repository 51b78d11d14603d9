"""The simulated cc2017 world: stimuli + three simulated subjects, built from seeds.

``build_world`` writes the small, committed part into ``demo_data/simulated`` (configs, the selected
vertex indices, the ground truth of every selected voxel, reliability statistics, checksums) and the
big, regenerable part (fMRI samples, stimulus features) into the cache. ``regenerate_fmri`` rebuilds a
subject's fMRI from the committed files alone, in seconds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..cortex import N_CORTEX, grayordinates
from ..io import atomic_save_npy, atomic_write_json, atomic_write_npz
from .encoding import FAMILIES, VoxelModel, build_voxel_model, neural_drive, stimulus_features
from .fmri import REPETITIONS, NoiseModel, align, bold, hrf_kernel, reproducibility, select_voxels, simulate_split
from .stimuli import SPLITS, MovieRenderer, StimulusConfig

logger = logging.getLogger(__name__)
FORMAT_VERSION = 1


@dataclass(frozen=True)
class SubjectConfig:
    """Parameters that make the simulated subjects differ."""

    subject: int
    seed: int
    snr_scale: float  # multiplies every area's median SNR
    snr_spread: float = 0.8  # log-normal spread of voxel SNR
    prf_scale: float = 1.0
    hrf_peak: float = 4.5  # seconds; the response to a clip peaks two samples later
    noise_ar: float = 0.3


@dataclass(frozen=True)
class WorldConfig:
    stimuli: StimulusConfig = field(default_factory=StimulusConfig)
    subjects: tuple[SubjectConfig, ...] = (
        SubjectConfig(1, seed=101, snr_scale=1.0, hrf_peak=4.5),
        SubjectConfig(2, seed=202, snr_scale=1.25, prf_scale=0.9, hrf_peak=4.3),
        SubjectConfig(3, seed=303, snr_scale=0.7, prf_scale=1.15, hrf_peak=4.7),
    )
    alpha: float = 0.05  # Bonferroni-corrected P threshold of the voxel selection

    def to_dict(self) -> dict:
        return {"format_version": FORMAT_VERSION, "stimuli": asdict(self.stimuli),
                "subjects": [asdict(s) for s in self.subjects], "alpha": self.alpha}

    @classmethod
    def from_dict(cls, d: dict) -> "WorldConfig":
        if d.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"simulated world format {d.get('format_version')} != {FORMAT_VERSION}; rebuild it "
                             "with `python -m neuroclips build-demo-data`")
        return cls(StimulusConfig(**d["stimuli"]), tuple(SubjectConfig(**s) for s in d["subjects"]), d["alpha"])

    def subject(self, n: int) -> SubjectConfig:
        for s in self.subjects:
            if s.subject == n:
                return s
        raise KeyError(f"no simulated subject {n}; available: {[s.subject for s in self.subjects]}")

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


def world_cache(cache: Path, config: WorldConfig) -> Path:
    return Path(cache) / "simulated" / config.digest()


def load_features(config: WorldConfig, cache: Path, shipped: Path | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Stimulus features of both splits: shipped with the demo data, else cached, else computed.

    Rendering and analysing every clip takes about a minute, so the features (float16, a few MB) ship
    in ``demo_data`` beside the world config; the build uses exactly the float16-rounded values.
    """
    out = {}
    renderer = MovieRenderer(config.stimuli)
    for split in SPLITS:
        candidates = ([Path(shipped) / f"features_{split}.npz"] if shipped is not None else []) + [
            world_cache(cache, config) / f"features_{split}.npz"]
        path = next((p for p in candidates if p.exists()), None)
        if path is None:
            computed = stimulus_features(renderer, split)
            atomic_write_npz(candidates[-1], **{k: v.astype(np.float16) for k, v in computed.items()})
            path = candidates[-1]
        with np.load(path) as f:
            out[split] = {k: f[k].astype(np.float32) for k in f.files}
    return out


NORM_MOVIES = 4  # signal statistics come from the first training movies (so regeneration needs no others)


def subject_signal(config: WorldConfig, sub: SubjectConfig, model: VoxelModel,
                   features: dict[str, dict[str, np.ndarray]], splits: tuple[str, ...] = SPLITS,
                   effective_snr: np.ndarray | None = None) -> tuple[dict[str, list[np.ndarray]], np.ndarray]:
    """Aligned BOLD signal per requested split and movie, and each voxel's gain (see ``neural_drive``).

    The signal is scaled so that its variance over the first ``NORM_MOVIES`` training movies is the
    voxel's effective SNR: ``model.snr * gain`` unless ``effective_snr`` is given (as the ground truth
    stores it). Every step is per voxel, so any subset of voxels gives the same signal.
    """
    per = config.stimuli.clips_per_movie
    n_ref = min(NORM_MOVIES, config.stimuli.n_train_movies) * per
    blocks, offsets, n = [], {}, 0
    for split in SPLITS:
        rows = config.stimuli.n_clips(split) if split in splits else (n_ref if split == "train" else 0)
        offsets[split] = n
        blocks.append({k: v[:rows] for k, v in features[split].items()})
        n += rows
    stacked = {k: np.concatenate([b[k] for b in blocks]) for k in features["train"]}
    drive, gain = neural_drive(model, stacked, ref=slice(0, n_ref))
    kernel = hrf_kernel(sub.hrf_peak)
    runs = lambda split, movies: [align(bold(drive[offsets[split] + m * per : offsets[split] + (m + 1) * per], kernel))
                                  for m in movies]
    sd = np.concatenate(runs("train", range(n_ref // per))).std(0)
    snr = model.snr * gain if effective_snr is None else effective_snr
    scale = np.sqrt(snr) / np.where(sd > 1e-8, sd, 1.0)
    return {split: [r * scale for r in runs(split, range(config.stimuli.n_movies(split)))] for split in splits}, gain


def _assemble(config: WorldConfig, signal: list[np.ndarray], model: VoxelModel, noise: NoiseModel, split: str,
              vertices: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """(n_clips, n_reps, n_vertices) float16 samples of the given vertices."""
    out = np.empty((config.stimuli.n_clips(split), REPETITIONS[split], len(vertices)), np.float16)
    for j in range(0, len(vertices), chunk):
        x = simulate_split(signal, model.vertices, noise, split, vertices[j : j + chunk])
        # (movies, reps, samples, cols) -> (movies * samples, reps, cols): clip index = movie * 240 + sample
        out[:, :, j : j + chunk] = x.transpose(0, 2, 1, 3).reshape(-1, x.shape[1], x.shape[3])
    return out


def _select(config: WorldConfig, signal: list[np.ndarray], model: VoxelModel, noise: NoiseModel,
            chunk: int = 4096):
    r = np.concatenate([reproducibility(simulate_split(signal, model.vertices, noise, "train",
                                                       np.arange(j, min(j + chunk, N_CORTEX))))
                        for j in range(0, N_CORTEX, chunk)], axis=1)
    return select_voxels(r, alpha=config.alpha)


def _voxel_model(config: WorldConfig, sub: SubjectConfig) -> VoxelModel:
    return build_voxel_model(grayordinates(), seed=sub.seed, snr_scale=sub.snr_scale,
                             snr_spread=sub.snr_spread, prf_scale=sub.prf_scale)


def _noise(sub: SubjectConfig) -> NoiseModel:
    return NoiseModel(seed=sub.seed, ar=sub.noise_ar)


def fmri_cache_paths(cache: Path, config: WorldConfig, subject: int) -> dict[str, Path]:
    d = world_cache(cache, config) / f"sub-{subject:02d}"
    return {split: d / f"{split}_fmri.npy" for split in SPLITS}


def model_from_ground_truth(gt: dict[str, np.ndarray]) -> VoxelModel:
    """The encoding model of the selected voxels, as the build stored it (``snr`` is the effective SNR)."""
    return VoxelModel(**{f: gt[f] for f in VoxelModel.__dataclass_fields__})


def regenerate_fmri(config: WorldConfig, subject: int, ground_truth: dict[str, np.ndarray], cache: Path,
                    splits: tuple[str, ...] = SPLITS, shipped: Path | None = None) -> dict[str, Path]:
    """Rebuild a subject's fMRI from its shipped ground truth into the cache (only the requested splits)."""
    sub = config.subject(subject)
    model = model_from_ground_truth(ground_truth)
    signal, _ = subject_signal(config, sub, model, load_features(config, cache, shipped), splits=splits,
                               effective_snr=model.snr)
    paths = fmri_cache_paths(cache, config, subject)
    for split in splits:
        atomic_save_npy(paths[split], _assemble(config, signal[split], model, _noise(sub), split, model.vertices))
    return paths


def fmri_fingerprint(x: np.ndarray) -> list[float]:
    """Tolerance-checkable summary of an fMRI array (float sums differ in the last bits across BLAS builds)."""
    x = np.asarray(x, np.float64)
    flat = x.reshape(len(x), -1)
    return [float(flat.mean()), float(flat.std()), float(flat[:, ::97].sum() / flat[:, ::97].size),
            float(flat[::7].mean(1).std())]


def sha256_array(x: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()


def build_world(out_dir: Path, cache: Path, config: WorldConfig = WorldConfig(),
                subjects: tuple[int, ...] | None = None) -> dict:
    """Build the simulated world: stimuli features, subjects' voxel selection and fMRI; returns the manifest."""
    out_dir, cache = Path(out_dir), Path(cache)
    t0 = time.perf_counter()
    features = load_features(config, cache)
    t_features = time.perf_counter() - t0
    geo = grayordinates()
    manifest = {"world": config.to_dict(), "digest": config.digest(), "subjects": {},
                "timings_s": {"stimulus_features": round(t_features, 1)}}
    renderer = MovieRenderer(config.stimuli)
    manifest["stimuli"] = {
        split: {"n_clips": config.stimuli.n_clips(split),
                "sha256_first_clips": sha256_array(np.stack([renderer.render_clip(split, i) for i in range(8)]))}
        for split in SPLITS
    }
    for sub in config.subjects:
        if subjects is not None and sub.subject not in subjects:
            continue
        ts = time.perf_counter()
        model = _voxel_model(config, sub)
        signal, gain = subject_signal(config, sub, model, features)
        model.snr = (model.snr * gain).astype(np.float32)  # the ground truth records the SNR the stimulus evokes
        noise = _noise(sub)
        selected, stats_ = _select(config, signal["train"], model, noise)
        fmri = {split: _assemble(config, signal[split], model, noise, split, selected) for split in SPLITS}
        paths = fmri_cache_paths(cache, config, sub.subject)
        for split in SPLITS:
            atomic_save_npy(paths[split], fmri[split])
        info = _write_subject(out_dir / f"sub-{sub.subject:02d}", model, selected, stats_, fmri, geo)
        info["fingerprint"] = {split: fmri_fingerprint(fmri[split][:64]) for split in SPLITS}
        info["build_seconds"] = round(time.perf_counter() - ts, 1)
        manifest["subjects"][str(sub.subject)] = info
        logger.info("subject %d: %d voxels selected in %.1f s", sub.subject, len(selected), info["build_seconds"])
    for split in SPLITS:
        atomic_write_npz(out_dir / f"features_{split}.npz", **{k: v.astype(np.float16) for k, v in features[split].items()})
    manifest["timings_s"]["total"] = round(time.perf_counter() - t0, 1)
    atomic_write_json(out_dir / "world.json", config.to_dict())
    atomic_write_json(out_dir / "manifest.json", manifest)
    return manifest


def _write_subject(d: Path, model: VoxelModel, selected: np.ndarray, stats_: dict, fmri: dict, geo) -> dict:
    row = np.full(N_CORTEX, -1, np.int64)
    row[model.vertices] = np.arange(len(model))
    rows = row[selected]
    has_signal = rows >= 0
    if not has_signal.all():  # a noise-only false positive: a zero-SNR voxel of its own area
        model = _with_noise_only_rows(model, selected[~has_signal], geo)
        row = np.full(N_CORTEX, -1, np.int64)
        row[model.vertices] = np.arange(len(model))
        rows = row[selected]
    gt = model.subset(rows).to_arrays()  # float32: regeneration runs from these exact parameters
    gt["has_signal"] = has_signal
    gt["family"] = np.where(has_signal, np.argmax(gt["shares"], 1), -1).astype(np.int8)
    test = fmri["test"].astype(np.float32)
    half = REPETITIONS["test"] // 2
    a, b = test[:, :half].mean(1), test[:, half:].mean(1)
    a, b = (a - a.mean(0)) / a.std(0), (b - b.mean(0)) / b.std(0)
    split_half = (a * b).mean(0)
    r_train = stats_["r_mean"][selected]
    atomic_write_npz(d / "ground_truth.npz", families=np.array(FAMILIES), **gt)
    atomic_write_npz(d / "reliability.npz", r_train=r_train.astype(np.float32),
                     test_split_half=split_half.astype(np.float32), t=stats_["t"][selected])
    q = lambda x: [round(float(v), 3) for v in np.percentile(x, [5, 25, 50, 75, 95])]
    areas, counts = np.unique(geo.area[selected], return_counts=True)
    early = np.isin(geo.area[selected], ["V1", "V2", "V3", "V4"]).mean()
    info = {
        "n_voxels": int(len(selected)),
        "n_candidates_with_signal": int(len(model)),
        "false_positives": int((~has_signal).sum()),
        "train_rep_r_percentiles_5_25_50_75_95": q(r_train),
        "test_split_half_r_percentiles_5_25_50_75_95": q(split_half),
        "early_visual_fraction": round(float(early), 3),
        "voxels_per_area": {str(a): int(c) for a, c in sorted(zip(areas, counts), key=lambda x: -x[1])},
    }
    atomic_write_json(d / "subject.json", info)
    return info


def world_report(manifest: dict, demo_size_mib: float, command: str) -> str:
    """Markdown table of the measured properties of a built world (docs/simulation.md)."""
    lines = [
        "# The simulated cc2017 world: measured properties",
        "",
        f"Reproduce with `{command}` (world digest `{manifest['digest']}`).",
        "",
        "| subject | voxels selected | vertices with signal | false positives | early visual (V1-V4) share | "
        "single-repetition r (train), 5/25/50/75/95 % | test split-half r (5 vs 5 repetitions), 5/25/50/75/95 % | build (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s, i in manifest["subjects"].items():
        fmt = lambda q: " / ".join(f"{v:.2f}" for v in q)
        lines.append(
            f"| {s} | {i['n_voxels']:,} | {i['n_candidates_with_signal']:,} | {i['false_positives']} | "
            f"{i['early_visual_fraction']:.2f} | {fmt(i['train_rep_r_percentiles_5_25_50_75_95'])} | "
            f"{fmt(i['test_split_half_r_percentiles_5_25_50_75_95'])} | {i['build_seconds']} |"
        )
    t = manifest["timings_s"]
    lines += [
        "",
        f"Stimulus features: {t['stimulus_features']} s"
        + (" (read from the cache; rendering them from scratch adds about a minute)" if t["stimulus_features"] < 1 else "")
        + f"; whole build: {t['total']} s; "
        f"`demo_data/` after the build: {demo_size_mib:.1f} MiB.",
        "",
        "Voxels per area (subject 1, top 12): "
        + ", ".join(f"{a} {n}" for a, n in list(manifest["subjects"].get("1", {}).get("voxels_per_area", {}).items())[:12]),
    ]
    return "\n".join(lines) + "\n"


def _with_noise_only_rows(model: VoxelModel, vertices: np.ndarray, geo) -> VoxelModel:
    n = len(vertices)
    extra = VoxelModel(vertices=vertices.astype(np.int32), area=geo.area[vertices],
                       shares=np.full((n, len(FAMILIES)), 1 / len(FAMILIES), np.float32), snr=np.zeros(n, np.float32),
                       prf=np.zeros((n, 3), np.float32) + [0, 0, 1], exponent=np.ones(n, np.float32),
                       direction=np.zeros(n, np.float32),
                       semantic_weights=np.zeros((n, model.semantic_weights.shape[1]), np.float32))
    order = np.argsort(np.concatenate([model.vertices, extra.vertices]), kind="stable")
    return VoxelModel(**{f: np.concatenate([getattr(model, f), getattr(extra, f)])[order]
                         for f in VoxelModel.__dataclass_fields__})
