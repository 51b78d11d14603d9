"""Batch evaluation (paper Tables 1-2): every (subject, clip, variant) is reconstructed once, its metrics
written as one JSON record (atomic; existing records are skipped, so a run resumes), and a summary in the
paper's layout (mean ± SD over clips) is written as Markdown, CSV and a plotly chart.

Clips are sharded across processes: under ``accelerate launch`` (GPUs) or ``torch.distributed.run`` (CPUs)
each process takes every k-th clip; the main process writes the summary once all are done. Outputs are
bit-identical for a seed on one host and thread count; other thread counts round differently, and the
sampler amplifies that. The variants share each clip's blurry video, keyframe
and caption (computed once), as they differ only in what reaches the video model.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

VARIANTS = {"full": {}, "no-keyframe": {"use_keyframe": False}, "no-blurry": {"use_blurry": False},
            "no-caption": {"use_caption": False}}
METRICS = ("ssim", "ssim_mindvideo", "psnr", "clip_pcc", "frame_2way", "frame_nway", "video_2way", "video_nway")


def evaluate_clip(pipe, classifier, data, clip: int, variants: list[str], base, n_way: int) -> dict[str, dict]:
    """Metrics of one clip under each variant of the settings ``base`` (a ``GuidanceSettings``): SSIM (both), PSNR,
    CLIP-pcc at 3 FPS; frame and video N-way top-1 (2-way and ``n_way``) with ``classifier``."""
    from ..frames import FPS_GT
    from ..metrics.video import frames_for_evaluation, video_metrics
    from ..metrics.classification import n_way_top1

    gt = data.frames("test", clip, FPS_GT)
    c = data.clip("test", clip)
    conditions = pipe.prepare_conditions(c.fmri, base, all_stages=True)
    gt_frame_logits, gt_video_logits = classifier.frames(gt), classifier.videos(gt[None])

    def embed(frames):
        return pipe.embed_images(frames).cpu().numpy()

    out = {}
    for variant in variants:
        video = pipe.generate_video(conditions, base.replace(**VARIANTS[variant]), reference_caption=c.caption).video
        m = video_metrics(video, gt, embed)
        pred = frames_for_evaluation(video, gt.shape[1])
        pf, pv = classifier.frames(pred), classifier.videos(pred[None])
        for name, n in (("2way", 2), ("nway", n_way)):
            m[f"frame_{name}"] = n_way_top1(gt_frame_logits, pf, n, seed=clip)["accuracy"]
            m[f"video_{name}"] = n_way_top1(gt_video_logits, pv, n, seed=clip)["accuracy"]
        out[variant] = {k: round(float(v), 6) for k, v in m.items()}  # 6 decimals: the records stay small
    return out


def run_evaluation(subjects: list[int], clips: list[int], variants: list[str], out_dir: str | Path,
                   settings: dict | None = None, n_way: int = 10, seed: int | None = None, progress: bool = True,
                   zoo: str = "mini", classifier=None) -> dict | None:
    """Evaluate ``zoo``'s reconstructions of simulated subjects; returns the summary on the main process (None on the
    others). ``settings``: :class:`~neuroclips.pipeline.GuidanceSettings` fields over the zoo's defaults;
    ``classifier(pipe)`` makes the N-way classifier (default: the zoo's trained category classifier)."""
    from accelerate import PartialState

    from ..data import load_subject
    from ..io import atomic_write_json
    from ..pipeline import NeuroClipsPipeline
    from ..zoo import zoo_dir
    from .classification import CategoryClassifier

    unknown = set(variants) - set(VARIANTS)
    if unknown:
        raise ValueError(f"unknown variants {sorted(unknown)}; choose from {list(VARIANTS)}")
    import torch

    state = PartialState(cpu=not torch.cuda.is_available())  # cpu=True lets gloo run several CPU processes
    out = Path(out_dir)
    settings = dict(settings or {})
    pipe = None
    for subject in subjects:
        data = load_subject("simulated", subject)
        n = data.num_clips("test")
        bad = [c for c in clips if not 0 <= c < n]
        if bad:
            raise IndexError(f"clips {bad[:5]} are out of range: subject {subject} has test clips 0 to {n - 1}")
        mine = [c for k, c in enumerate(clips) if k % state.num_processes == state.process_index]
        todo = [c for c in mine if not (out / "records" / f"sub-{subject:02d}" / f"clip-{c:04d}.json").exists()]
        if not todo:
            continue
        if pipe is None:
            pipe = NeuroClipsPipeline.from_pretrained(zoo, subject=subject, device=state.device)
            base = pipe.settings(seed=seed, **settings)  # bad settings fail here, before any clip
            if classifier is None:
                classify = CategoryClassifier.load(zoo_dir(zoo) / "classifier",
                                                   lambda f: pipe.embed_images(f).cpu().numpy())
            else:
                classify = classifier(pipe)
        else:
            pipe = pipe.for_subject(subject)
        for i, c in enumerate(todo):
            record = {"subject": subject, "clip": c, "settings": base.to_dict(), "seed": seed, "versions": pipe.versions,
                      "metrics": evaluate_clip(pipe, classify, data, c, variants, base, n_way)}
            atomic_write_json(out / "records" / f"sub-{subject:02d}" / f"clip-{c:04d}.json", record, indent=None)
            if progress:
                print(f"[{state.process_index}] subject {subject} clip {c} ({i + 1}/{len(todo)})", flush=True)
    state.wait_for_everyone()
    if not state.is_main_process:
        return None
    summary = summarise(out, subjects, variants, n_way)
    atomic_write_json(out / "summary.json", summary)
    return summary


def summarise(out_dir: str | Path, subjects: list[int], variants: list[str], n_way: int) -> dict:
    """Mean ± SD over clips per subject and variant, and the mean over subjects; Markdown, CSV, plotly HTML."""
    from ..io import atomic_path

    out = Path(out_dir)
    rows = []
    for subject in subjects:
        records = [json.loads(p.read_text()) for p in sorted((out / "records" / f"sub-{subject:02d}").glob("clip-*.json"))]
        for variant in variants:
            vals = {m: [r["metrics"][variant][m] for r in records if variant in r["metrics"]] for m in METRICS}
            if vals["ssim"]:
                rows.append({"subject": subject, "variant": variant, "clips": len(vals["ssim"]),
                             **{m: float(np.mean(v)) for m, v in vals.items()},
                             **{f"{m}_sd": float(np.std(v)) for m, v in vals.items()}})
    for variant in variants:
        sub = [r for r in rows if r["variant"] == variant and r["subject"] != "mean"]
        if sub:
            rows.append({"subject": "mean", "variant": variant, "clips": sum(r["clips"] for r in sub),
                         **{m: float(np.mean([r[m] for r in sub])) for m in METRICS},
                         **{f"{m}_sd": float(np.mean([r[f"{m}_sd"] for r in sub])) for m in METRICS}})
    with atomic_path(out / "summary.csv") as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["subject"])
        w.writeheader()
        w.writerows(rows)
    names = {"frame_2way": "frame 2-way", "frame_nway": f"frame {n_way}-way", "video_2way": "video 2-way",
             "video_nway": f"video {n_way}-way", "clip_pcc": "CLIP-pcc", "ssim": "SSIM", "ssim_mindvideo": "SSIM (MinD-Video)",
             "psnr": "PSNR"}
    order = ("video_2way", "video_nway", "clip_pcc", "frame_2way", "frame_nway", "ssim", "ssim_mindvideo", "psnr")
    lines = ["| subject | variant | clips | " + " | ".join(names[m] for m in order) + " |",
             "|---|---|---|" + "---|" * len(order)]
    for r in rows:
        lines.append(f"| {r['subject']} | {r['variant']} | {r['clips']} | "
                     + " | ".join(f"{r[m]:.3f} ± {r[m + '_sd']:.3f}" for m in order) + " |")
    with atomic_path(out / "summary.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    import plotly.graph_objects as go

    fig = go.Figure()
    for variant in variants:
        r = next((r for r in rows if r["subject"] == "mean" and r["variant"] == variant), None)
        if r:
            fig.add_trace(go.Bar(name=variant, x=[names[m] for m in order if m != "psnr"],
                                 y=[r[m] for m in order if m != "psnr"],
                                 error_y=dict(type="data", array=[r[m + "_sd"] for m in order if m != "psnr"])))
    fig.update_layout(barmode="group", title="Mean over subjects (± SD over clips)", height=420)
    with atomic_path(out / "summary.html") as tmp:
        fig.write_html(str(tmp), include_plotlyjs="cdn")
    return {"rows": rows, "markdown": "\n".join(lines), "n_way": n_way}
