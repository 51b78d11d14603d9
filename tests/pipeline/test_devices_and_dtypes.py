"""Every device and dtype: the whole tiny pipeline in fp16 and bf16 on the CPU (finite, close to fp32, its modules cast
together), every random draw through the one device-aware helper (neuroclips/noise.py), and ``doctor``."""

import ast
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

FAST = {"num_inference_steps": 3, "prior_steps": 3, "keyframe_steps": 3}
OUTPUTS = ("blurry_frames", "keyframe", "video")
PACKAGE = Path(__file__).resolve().parents[2] / "neuroclips"


def grey_diff(a, b) -> float:
    return float(np.abs(a.astype(float) - b.astype(float)).mean())


@pytest.fixture(scope="module")
def fmri(shipped_subject):
    return shipped_subject.clip("test", 42).fmri


@pytest.fixture(scope="module")
def fp32(tiny_zoo, fmri):
    from neuroclips.pipeline import NeuroClipsPipeline

    pipe = NeuroClipsPipeline.from_pretrained(tiny_zoo.name, subject=1, device="cpu", dtype=torch.float32)
    return pipe(fmri, seed=0, **FAST)


# measured on this zoo at 3 steps, the mean distance to fp32 in grey levels: with torch 2.13's CPU kernels bf16 ~1.0
# and fp16 ~0.1-0.2; with torch 2.8's, fp16's video 3.1 (its half-precision CPU kernels are coarser). The outputs'
# own spread (their std over pixels) is 40-45 grey levels, and a dtype that breaks a stage moves them by that much
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["fp16", "bf16"])
def test_whole_pipeline_in_low_precision_is_finite_and_close_to_fp32(tiny_zoo, fmri, fp32, dtype):
    from neuroclips.evaluation.doctor import watch_nonfinite
    from neuroclips.pipeline import NeuroClipsPipeline

    ref = fp32
    pipe = NeuroClipsPipeline.from_pretrained(tiny_zoo.name, subject=1, device="cpu", dtype=dtype)
    assert {n: m.dtype for n, m in pipe.components.items() if isinstance(m, torch.nn.Module)} == {
        n: dtype for n, m in pipe.components.items() if isinstance(m, torch.nn.Module)}
    with watch_nonfinite(pipe) as nonfinite:
        out = pipe(fmri, seed=0, **FAST)
        variant = pipe(fmri, seed=0, keyframe_init="blurry", keyframe_unconditional="noise", alpha_mode="sdedit",
                       alpha_strength=0.6, **FAST)
    assert nonfinite == []
    assert variant.video.std() > 1.0 and variant.keyframe is not None
    for key in OUTPUTS:
        diff, spread = grey_diff(getattr(out, key), getattr(ref, key)), float(getattr(ref, key).std())
        assert diff <= 5.0 and diff < 0.15 * spread, (key, diff, spread)
    assert out.settings["dtype"] == str(dtype).replace("torch.", "")
    # every module is back in the stage's dtype: the keyframe stage's upcast of the shared VAE does not leak
    assert all(m.dtype == dtype for m in pipe.components.values() if isinstance(m, torch.nn.Module))


def test_a_force_upcast_vae_runs_in_fp32_and_returns_to_fp16(tiny_zoo):
    from neuroclips.pipeline import NeuroClipsPipeline

    pipe = NeuroClipsPipeline.from_pretrained(tiny_zoo.name, subject=1, device="cpu", dtype=torch.float16)
    keyframe = pipe.keyframe_pipeline
    assert keyframe.vae.config.force_upcast and keyframe.vae is pipe.vae  # the mini layout: one VAE, shared
    seen = []
    handle = keyframe.vae.decoder.register_forward_pre_hook(lambda m, a: seen.append(a[0].dtype))
    try:
        tokens = torch.randn(1, 64, keyframe.unet.config.cross_attention_dim, dtype=torch.float16)
        keyframe(tokens, num_inference_steps=2, generator=torch.Generator().manual_seed(0))
    finally:
        handle.remove()
    assert seen == [torch.float32] and pipe.vae.dtype == torch.float16


# ---------------------------------------------------------------------------------------------- random draws
RANDOM_FUNCTIONS = {torch.randn, torch.rand, torch.randint, torch.randn_like, torch.rand_like, torch.randint_like,
                    torch.randperm, torch.normal, torch.bernoulli, torch.multinomial, torch.poisson,
                    torch.Tensor.normal_, torch.Tensor.uniform_, torch.Tensor.random_, torch.Tensor.bernoulli_,
                    torch.Tensor.exponential_, torch.Tensor.log_normal_, torch.Tensor.cauchy_, torch.Tensor.geometric_}
# the one helper, and diffusers' randn_tensor, which the VAE's posterior and the schedulers draw through
HELPERS = {"neuroclips.noise", "diffusers.utils.torch_utils"}


class RandomDraws(TorchFunctionMode):
    """Records every random draw while active: who called torch, the generator, and where it drew. A draw is wrong
    when it does not come through a helper, uses the global RNG, or draws elsewhere than on its generator's device
    (what CUDA refuses)."""

    def __init__(self):
        super().__init__()
        self.wrong = []
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in RANDOM_FUNCTIONS:
            self.count += 1
            frame = sys._getframe(1)
            while frame is not None and frame.f_globals.get("__name__", "").startswith("torch"):
                frame = frame.f_back
            caller = frame.f_globals.get("__name__", "?") if frame is not None else "?"
            generator = kwargs.get("generator")
            like = next((a for a in args if isinstance(a, torch.Tensor)), None)
            device = torch.device(kwargs["device"]) if kwargs.get("device") is not None else (
                like.device if like is not None else torch.device("cpu"))
            problems = [p for p, bad in (("not through the helper", caller not in HELPERS),
                                         ("global RNG", generator is None),
                                         ("generator on another device",
                                          generator is not None and generator.device.type != device.type)) if bad]
            if problems:
                self.wrong.append((getattr(func, "__name__", str(func)), caller, problems))
        return func(*args, **kwargs)


def test_the_guard_catches_a_stray_draw():
    from neuroclips.noise import randn

    with RandomDraws() as draws:
        torch.randn(3, generator=torch.Generator(), device="cpu")  # the old prior's pattern, from outside the helper
        randn((3,))  # through the helper but from the global RNG
        randn((3,), torch.Generator(), "cpu")  # right
    assert [w[0] for w in draws.wrong] == ["randn", "randn"] and draws.count == 3
    assert "not through the helper" in draws.wrong[0][2] and draws.wrong[1][2] == ["global RNG"]


def test_every_draw_of_every_stage_goes_through_the_helper_with_a_generator(tiny_zoo, fmri, shipped_subject):
    from diffusers import EulerDiscreteScheduler

    from neuroclips.pipeline import NeuroClipsPipeline
    from neuroclips.pipeline.unclip import UnCLIPKeyframePipeline
    from neuroclips.zoo.full import configs

    pipe = NeuroClipsPipeline.from_pretrained(tiny_zoo.name, subject=1, device="cpu")
    # the full zoo's unCLIP sampling (sgm's Euler with offset noise) on the tiny UNet
    sgm = UnCLIPKeyframePipeline(pipe.keyframe_unet, EulerDiscreteScheduler(**configs.UNCLIP6_SCHEDULER), pipe.vae,
                                 colour_mapping="mindeye2", offset_noise=configs.UNCLIP6_OFFSET_NOISE,
                                 discretization="sgm")
    sgm.set_progress_bar_config(disable=True)
    tokens = torch.zeros(1, 64, pipe.keyframe_unet.config.cross_attention_dim)
    global_state = torch.get_rng_state()
    with RandomDraws() as draws:
        pipe(fmri, seed=0, keyframe_init="blurry", keyframe_unconditional="noise", **FAST)
        pipe(fmri, generator=torch.Generator().manual_seed(3), alpha_mode="paper_eq5", **FAST)
        pipe.fuse(shipped_subject.fmri("test", [42, 43]), seed=0, **FAST)
        sgm(tokens, num_inference_steps=3, generator=torch.Generator().manual_seed(0), unconditional="noise")
    assert draws.count > 10 and draws.wrong == []
    assert torch.equal(torch.get_rng_state(), global_state)  # the global RNG was never touched


def test_no_module_draws_around_the_helper():
    """Statically: in the rooms that run on a device (models, stages, zoo loaders, training), no torch random function
    is called with a generator, and models and stages draw nothing at all outside parameter initialisation
    (``__init__``): they go through neuroclips/noise.py."""
    names = {f.__name__ for f in RANDOM_FUNCTIONS}
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        room = path.relative_to(PACKAGE).parts[0]
        if room not in ("models", "pipeline", "zoo", "training"):
            continue
        tree = ast.parse(path.read_text())
        strict = room in ("models", "pipeline")
        for fn in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
            for call in [n for n in ast.walk(fn) if isinstance(n, ast.Call)]:
                f = call.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                torch_call = isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "torch"
                if not (torch_call and name in names) and not (isinstance(f, ast.Attribute) and name in names
                                                                and name.endswith("_")):
                    continue
                with_generator = any(k.arg == "generator" for k in call.keywords)
                if with_generator or (strict and fn.name != "__init__"):
                    offenders.append(f"{path.relative_to(PACKAGE)}:{call.lineno} {name} in {fn.name}")
    assert offenders == []


# ---------------------------------------------------------------------------------------------- doctor
def test_doctor_on_cpu_reports_and_passes(tmp_path, capsys):
    from neuroclips.cli import main

    out = tmp_path / "doctor.json"
    assert main(["doctor", "--device", "cpu", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "all checks passed" in printed and "stage offload (fp16): ok" in printed
    report = json.loads(out.read_text())
    assert report["ok"] and report["versions"]["torch"].startswith(torch.__version__.split("+")[0])
    assert set(report["pipeline"]) == {"fp32", "fp16", "bf16"}
    for name in ("fp16", "bf16"):
        r = report["pipeline"][name]
        assert r["ok"] and r["nonfinite_modules"] == [] and set(r["seconds_cold"]) == {"blurry", "keyframe", "caption",
                                                                                        "video"}
        assert set(r["component_dtypes"].values()) == {"float16" if name == "fp16" else "bfloat16"}
        assert 0 < max(r["mean_grey_diff_to_fp32"].values()) <= 10.0
    assert report["dtype_support"]["bf16"]["ok"] and report["shim"]["applied"] == (torch.version.cuda is None)
    assert report["stage_offload"] == {**report["stage_offload"], "ok": True, "left_on_device": [],
                                       "modules_run_off_device": [], "max_diff_to_resident": 0}


def test_doctor_fails_on_non_finite_outputs(monkeypatch, capsys):
    """A stage that turns fp16 into NaN (an overflow) is found, named, and fails the run (exit status 1)."""
    from neuroclips.cli import main
    from neuroclips.models.perception import PerceptionReconstructor

    original = PerceptionReconstructor.forward

    def overflowing(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        if out.latents.dtype == torch.float16:
            out.latents = out.latents * float("inf")
        return out

    monkeypatch.setattr(PerceptionReconstructor, "forward", overflowing)
    assert main(["doctor", "--device", "cpu", "--steps", "1", "--dtypes", "fp16"]) == 1
    printed = capsys.readouterr().out
    assert "tiny pipeline fp16: FAILS" in printed and "non-finite in ['perception" in printed
    assert "tiny pipeline fp32: ok" in printed and "SOME CHECKS FAILED" in printed
