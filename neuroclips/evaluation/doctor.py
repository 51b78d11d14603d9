"""``python -m neuroclips doctor``: what a new host (a GPU Space, a lab's workstation) runs first.

It reports the versions, the device, which dtypes its kernels support and the state of the torchvision shim, then runs
the tiny random zoo (:mod:`neuroclips.zoo.tiny`: every component of the pipeline, a few channels wide) on the device
in fp32 and in each asked dtype: per-stage latency and peak memory, finite outputs, and the distance to fp32. Last it
checks stage offload: the pipeline on the CPU, each stage's components on the device only while the stage runs, and
the same video as with everything resident. Every check is recorded, passed or failed, with its error, never raised.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import resource
import tempfile
from pathlib import Path

import numpy as np
import torch

from .timing import time_stages

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
PACKAGES = ("torch", "torchvision", "diffusers", "transformers", "accelerate", "safetensors", "huggingface_hub",
            "open_clip_torch", "timm", "gradio", "spaces", "numpy")
N_VOXELS = 64  # the tiny zoo's subject: random fMRI, no data needed
# the mean absolute difference to fp32 that a dtype's output may show, as a fraction of the fp32 output's own spread
# (its std over pixels, 40-45 grey levels for the video): on the CPU with torch 2.13 bf16 is ~1.3 grey levels off
# and fp16 ~0.2; with torch 2.8's coarser half-precision CPU kernels both videos ~6 (0.15 of the spread). A stage
# broken by a dtype (a random text encoder, a control branch fed garbage) moves an output by about its spread
MAX_RELATIVE_DIFF = 0.25
OUTPUTS = ("blurry_frames", "keyframe", "video")


def _error(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}".strip()[:500]


def versions() -> dict:
    from ..pipeline.neuroclips import PIPELINE_REVISION

    out = {"python": platform.python_version(), "platform": platform.platform(), "neuroclips_code": PIPELINE_REVISION,
           "torch_cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def device_info(device: torch.device) -> dict:
    info = {"device": str(device), "cuda_available": torch.cuda.is_available(),
            "cuda_devices": torch.cuda.device_count(), "cpu_count": os.cpu_count(), "threads": torch.get_num_threads()}
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        info.update(name=p.name, capability=f"{p.major}.{p.minor}", memory_gib=round(p.total_memory / 2**30, 2),
                    bf16_supported=torch.cuda.is_bf16_supported())
    else:
        info["name"] = platform.processor() or platform.machine()
    return info


def dtype_support(device: torch.device) -> dict:
    """Whether the kernels the pipeline leans on run in each dtype on ``device``: matmul, conv, group/layer norm,
    attention, interpolation."""
    import torch.nn.functional as F

    out = {}
    for name, dtype in DTYPES.items():
        try:
            x = torch.ones(1, 8, 8, 8, device=device, dtype=dtype)
            F.conv2d(x, torch.ones(8, 8, 3, 3, device=device, dtype=dtype), padding=1)
            F.group_norm(x, 4)
            F.interpolate(x, scale_factor=2.0, mode="bilinear")
            q = torch.ones(1, 2, 16, 8, device=device, dtype=dtype)
            F.scaled_dot_product_attention(q, q, q)
            F.layer_norm(q, (8,)) @ q.transpose(-1, -2)
            out[name] = {"ok": True}
        except Exception as err:  # noqa: BLE001 - recorded, the report is the point
            out[name] = {"ok": False, "error": _error(err)}
    return out


def shim_state() -> dict:
    """The torchvision shim of CPU-only torch (neuroclips/_compat.py) and whether torchvision's compiled ops load."""
    from .._compat import shim_applied

    state = {"applied": shim_applied(), "torch_cuda_build": torch.version.cuda is not None}
    try:
        import torchvision

        boxes = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
        try:
            torchvision.ops.nms(boxes, torch.ones(1), 0.5)
            state["torchvision_ops"] = "compiled ops load"
        except Exception as err:  # noqa: BLE001
            state["torchvision_ops"] = f"unavailable ({type(err).__name__}); the pipeline uses none"
        state["torchvision"] = "imports"
    except Exception as err:  # noqa: BLE001
        state["torchvision"] = _error(err)
    try:
        import open_clip  # noqa: F401  (the full zoo's bigG)

        state["open_clip"] = "imports"
    except Exception as err:  # noqa: BLE001
        state["open_clip"] = _error(err)
    return state


@contextlib.contextmanager
def watch_nonfinite(pipe):
    """Names of the modules (every submodule of every component) whose outputs held NaN or inf while active."""
    found: list[str] = []
    handles = []

    def tensors(output) -> list:
        if isinstance(output, torch.Tensor):
            return [output]
        values = output.values() if isinstance(output, dict) else output if isinstance(output, (tuple, list)) else ()
        return [t for t in values if isinstance(t, torch.Tensor)]  # diffusers' outputs are dicts

    def hook(name):
        def check(module, args, output):
            if name not in found and any(t.is_floating_point() and not torch.isfinite(t).all() for t in tensors(output)):
                found.append(name)
        return check

    for comp, module in pipe.components.items():
        if isinstance(module, torch.nn.Module):
            handles += [m.register_forward_hook(hook(f"{comp}.{n}".rstrip("."))) for n, m in module.named_modules()]
    try:
        yield found
    finally:
        for h in handles:
            h.remove()


def stage_calls(pipe, fmri: np.ndarray, settings) -> tuple[dict, dict]:
    """The four stages of one clip as calls of the pipeline's public stage methods, and the dict their outputs fill."""
    from ..pipeline import StageConditions

    x = pipe.check_inputs(fmri)
    state: dict = {}

    def video():
        c = StageConditions(blurry_frames=state["blurry"], blurry_video=pipe.blurry_to_video(state["blurry"]),
                            keyframe=state["keyframe"], caption=state["caption"])
        return pipe.generate_video(c, settings)

    return {"blurry": lambda: pipe.reconstruct_blurry(x), "keyframe": lambda: pipe.reconstruct_keyframe(x, settings),
            "caption": lambda: pipe.caption_keyframe(state["keyframe"]), "video": video}, state


def run_dtype(zoo: str, device: torch.device, dtype: torch.dtype, fmri: np.ndarray, steps: int, repeats: int) -> dict:
    """One clip of the tiny zoo in ``dtype`` on ``device``: stage timings and peaks, non-finite modules, outputs."""
    from ..pipeline import NeuroClipsPipeline

    pipe = NeuroClipsPipeline.from_pretrained(zoo, subject=1, device=device, dtype=dtype)
    s = pipe.settings(seed=0, num_inference_steps=steps, keyframe_steps=steps, prior_steps=steps)
    stages, state = stage_calls(pipe, fmri, s)
    with watch_nonfinite(pipe) as nonfinite:
        measured = time_stages(stages, device, repeats, on_output=state.__setitem__)
    out = state["video"]
    cast_together = {n: str(m.dtype).replace("torch.", "") for n, m in pipe.components.items()
                     if isinstance(m, torch.nn.Module)}
    return {"seconds_cold": measured["cold"], "seconds_warm": measured["warm"], "peak_gib": measured["peak_gib"],
            "nonfinite_modules": nonfinite, "component_dtypes": cast_together,
            "outputs": {k: getattr(out, k) for k in OUTPUTS}, "caption": out.caption}


def check_offload(zoo: str, device: torch.device, dtype: torch.dtype, fmri: np.ndarray, steps: int,
                  resident_video: np.ndarray | None) -> dict:
    """Stage offload: every module runs with its weights on ``device``, everything is back on the CPU afterwards, and
    the video equals the resident run's (to a grey level: the same kernels on other memory)."""
    from ..pipeline import NeuroClipsPipeline

    pipe = NeuroClipsPipeline.from_pretrained(zoo, subject=1, device="cpu", dtype=dtype).enable_stage_offload(device)
    misplaced: list[str] = []

    def hook(name):
        def check(module, args):
            p = next(module.parameters(recurse=False), None)
            if p is not None and p.device.type != device.type and name not in misplaced:
                misplaced.append(name)
        return check

    handles = [m.register_forward_pre_hook(hook(f"{c}.{n}".rstrip(".")))
               for c, module in pipe.components.items() if isinstance(module, torch.nn.Module)
               for n, m in module.named_modules()]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    try:
        out = pipe(fmri, seed=0, num_inference_steps=steps, keyframe_steps=steps, prior_steps=steps)
    finally:
        for h in handles:
            h.remove()
    left = sorted({n for n, m in pipe.components.items() if isinstance(m, torch.nn.Module)
                   and any(p.device.type != "cpu" for p in m.parameters())})
    diff = None if resident_video is None else int(np.abs(out.video.astype(int) - resident_video.astype(int)).max())
    ok = not misplaced and not left and diff is not None and diff <= 1
    return {"ok": ok, "modules_run_off_device": misplaced[:20], "left_on_device": left, "max_diff_to_resident": diff,
            "peak_gib": round(torch.cuda.max_memory_allocated(device) / 2**30, 3) if device.type == "cuda" else None}


def run_doctor(device: str | torch.device | None = None, dtypes: tuple[str, ...] = ("fp16", "bf16"), steps: int = 2,
               repeats: int = 1) -> dict:
    """The whole report (see the module's docstring); ``report["ok"]`` is whether every check passed."""
    from ..zoo.tiny import register_tiny_zoo, write_reconstructors

    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: CUDA is not available here (torch {torch.__version__}, built "
                         f"{'with CUDA ' + torch.version.cuda if torch.version.cuda else 'for the CPU only'}); "
                         "run doctor without --device, or on a GPU host")
    report = {"versions": versions(), "device": device_info(device), "dtype_support": dtype_support(device),
              "shim": shim_state(), "environment": {k: v for k, v in sorted(os.environ.items())
                                                   if k.startswith(("NEUROCLIPS_", "SPACES_", "HF_HUB_OFFLINE"))},
              "pipeline": {}, "steps": steps, "repeats": repeats}
    fmri = np.random.default_rng(0).standard_normal(N_VOXELS).astype(np.float32)
    with tempfile.TemporaryDirectory(prefix="neuroclips-doctor-") as tmp:
        zoo = register_tiny_zoo(write_reconstructors(Path(tmp), {1: N_VOXELS}), name="doctor-tiny").name
        runs = {}
        for name in ("fp32", *[d for d in dtypes if d != "fp32"]):
            try:
                runs[name] = run_dtype(zoo, device, DTYPES[name], fmri, steps, repeats)
            except Exception as err:  # noqa: BLE001
                report["pipeline"][name] = {"ok": False, "error": _error(err)}
        ref = runs.get("fp32")
        for name, run in runs.items():
            diff = None if ref is None else {k: round(float(np.abs(run["outputs"][k].astype(float)
                                                                   - ref["outputs"][k].astype(float)).mean()), 4)
                                             for k in OUTPUTS}
            ok = (not run["nonfinite_modules"] and diff is not None
                  and all(diff[k] <= MAX_RELATIVE_DIFF * float(ref["outputs"][k].std()) for k in OUTPUTS))
            report["pipeline"][name] = {"ok": ok, "mean_grey_diff_to_fp32": diff, "caption_as_fp32": (
                ref is not None and run["caption"] == ref["caption"]), **{k: v for k, v in run.items()
                                                                          if k not in ("outputs", "caption")}}
        offload_dtype = next((d for d in dtypes if report["pipeline"].get(d, {}).get("ok")), "fp32")
        try:
            resident = runs[offload_dtype]["outputs"]["video"] if offload_dtype in runs else None
            report["stage_offload"] = {"dtype": offload_dtype, **check_offload(zoo, device, DTYPES[offload_dtype], fmri,
                                                                                steps, resident)}
        except Exception as err:  # noqa: BLE001
            report["stage_offload"] = {"dtype": offload_dtype, "ok": False, "error": _error(err)}
    report["peak_rss_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)  # KiB on Linux
    report["ok"] = (all(r["ok"] for r in report["pipeline"].values()) and report["stage_offload"]["ok"]
                    and all(report["dtype_support"][d]["ok"] for d in ("fp32", *dtypes)))
    return report


def format_report(report: dict) -> str:
    """The report as the lines ``doctor`` prints."""
    v, d = report["versions"], report["device"]
    lines = [f"python {v['python']}  torch {v['torch']} (CUDA {v['torch_cuda'] or 'none'})  diffusers {v['diffusers']}  "
             f"transformers {v['transformers']}  gradio {v['gradio']}",
             f"device {d['device']}: {d.get('name')}" + (f", {d['memory_gib']} GiB, capability {d['capability']}"
                                                          if "memory_gib" in d else f", {d['threads']} threads"),
             "kernels: " + ", ".join(f"{k} {'ok' if r['ok'] else 'FAILS (' + r['error'] + ')'}"
                                     for k, r in report["dtype_support"].items()),
             f"torchvision shim: {'applied' if report['shim']['applied'] else 'not applied'}; torchvision "
             f"{report['shim']['torchvision']}, {report['shim'].get('torchvision_ops', '')}; open_clip "
             f"{report['shim']['open_clip']}"]
    for name, r in report["pipeline"].items():
        if "error" in r:
            lines.append(f"tiny pipeline {name}: FAILS: {r['error']}")
            continue
        warm = r["seconds_warm"] if r["seconds_warm"]["video"] is not None else r["seconds_cold"]
        peak = f"; peak GiB {r['peak_gib']}" if r["peak_gib"] else ""
        lines.append(f"tiny pipeline {name}: {'ok' if r['ok'] else 'FAILS'}; seconds {warm}{peak}; "
                     f"mean grey-level diff to fp32 {r['mean_grey_diff_to_fp32']}"
                     + (f"; non-finite in {r['nonfinite_modules'][:5]}" if r["nonfinite_modules"] else ""))
    o = report["stage_offload"]
    lines.append(f"stage offload ({o['dtype']}): {'ok' if o['ok'] else 'FAILS'}"
                 + (f": {o['error']}" if "error" in o else f"; max diff to resident {o['max_diff_to_resident']}, "
                    f"ran off the device {o['modules_run_off_device'] or 'none'}, left on the device "
                    f"{o['left_on_device'] or 'none'}" + (f", peak {o['peak_gib']} GiB" if o["peak_gib"] else "")))
    lines.append(f"peak host RSS {report['peak_rss_gib']} GiB")
    lines.append("all checks passed" if report["ok"] else "SOME CHECKS FAILED (see above)")
    return "\n".join(lines)

