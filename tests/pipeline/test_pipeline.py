"""NeuroClipsPipeline end to end on the tiny random zoo (tests/tiny_zoo.py) with subject 1's fMRI: stages, switches,
seeds, fusion, offload, saving, settings and the zoo registry. The shipped mini zoo's quality is tested in tests/zoo."""

import json

import numpy as np
import pytest
import torch

FAST = {"num_inference_steps": 3, "prior_steps": 3, "keyframe_steps": 3}


@pytest.fixture(scope="module")
def pipe(tiny_zoo):
    from neuroclips.pipeline import NeuroClipsPipeline

    return NeuroClipsPipeline.from_pretrained(tiny_zoo.name, subject=1)


@pytest.fixture(scope="module")
def fmri(shipped_subject):
    return shipped_subject.clip("test", 42).fmri


@pytest.fixture(scope="module")
def base(pipe, fmri):
    return pipe(fmri, seed=0, **FAST)


class Spy:
    """Counts calls of a module's forward or a method while active."""

    def __init__(self, obj, name="forward"):
        self.obj, self.name, self.calls = obj, name, 0

    def __enter__(self):
        original = getattr(self.obj, self.name)

        def wrapped(*args, **kwargs):
            self.calls += 1
            return original(*args, **kwargs)

        setattr(self.obj, self.name, wrapped)
        return self

    def __exit__(self, *exc):
        delattr(self.obj, self.name)


def test_full_call_shapes_and_record(base, pipe):
    from neuroclips.pipeline import FPS_VIDEO, QUALITY_SUFFIX

    size = pipe.video_size
    assert base.video.shape == (16, size, size, 3) and base.video.dtype == np.uint8 and base.fps == FPS_VIDEO
    assert base.blurry_frames.shape[0] == 6 and base.blurry_video.shape == (16, size, size, 3)
    assert base.keyframe.ndim == 3 and base.caption and base.prompt == base.caption + QUALITY_SUFFIX
    assert base.settings["video_controlnet_calls"] == FAST["num_inference_steps"]
    assert set(base.timings) == {"blurry", "keyframe", "caption", "video", "total"}
    assert base.settings["versions"]["perception"] and base.settings["alpha_mode"] == "code_parity"
    from neuroclips.pipeline.neuroclips import PIPELINE_REVISION

    assert base.settings["versions"]["code"] == PIPELINE_REVISION  # results keys change with output-changing fixes
    # the blurry video is PR's 6 frames interpolated (originals at 0, 3, ..., 15)
    np.testing.assert_array_equal(base.blurry_video[::3], base.blurry_frames)


def test_without_keyframe_the_control_branch_never_runs(pipe, fmri, base):
    from neuroclips.pipeline import GENERIC_PROMPT

    with Spy(pipe.controlnet) as control, Spy(pipe.semantics) as sr, Spy(pipe.caption_model, "generate") as cap:
        out = pipe(fmri, seed=0, use_keyframe=False, **FAST)
    assert control.calls == 0 and sr.calls == 0 and cap.calls == 0
    assert out.keyframe is None and out.caption is None and out.control_frame is None and out.prompt == GENERIC_PROMPT
    np.testing.assert_array_equal(out.blurry_video, base.blurry_video)  # α untouched
    assert not np.array_equal(out.video, base.video)
    # asked to keep the caption: the keyframe is made (the same one) and captioned, but not given to SparseCtrl
    with Spy(pipe.controlnet) as control:
        kept = pipe(fmri, seed=0, use_keyframe=False, use_caption=True, **FAST)
    assert control.calls == 0 and kept.caption == base.caption
    np.testing.assert_array_equal(kept.keyframe, base.keyframe)


def test_without_blurry_pr_never_runs_and_other_stages_are_unchanged(pipe, fmri, base):
    with Spy(pipe.perception) as pr:
        out = pipe(fmri, seed=0, use_blurry=False, **FAST)
    assert pr.calls == 0 and out.blurry_video is None and "blurry" not in out.timings
    np.testing.assert_array_equal(out.keyframe, base.keyframe)
    assert out.caption == base.caption and out.settings["video_controlnet_calls"] == FAST["num_inference_steps"]
    assert not np.array_equal(out.video, base.video)


def test_without_caption_the_prompt_is_generic_and_the_keyframe_unchanged(pipe, fmri, base):
    from neuroclips.pipeline import GENERIC_PROMPT

    with Spy(pipe.caption_model, "generate") as cap:
        out = pipe(fmri, seed=0, use_caption=False, **FAST)
    assert cap.calls == 0 and out.caption is None and out.prompt == GENERIC_PROMPT
    np.testing.assert_array_equal(out.keyframe, base.keyframe)
    np.testing.assert_array_equal(out.blurry_video, base.blurry_video)
    assert not np.array_equal(out.video, base.video)


def test_seeds_are_deterministic_and_leave_the_global_rng_alone(pipe, fmri, base):
    state = torch.get_rng_state()
    again = pipe(fmri, seed=0, **FAST)
    assert torch.equal(state, torch.get_rng_state())
    np.testing.assert_array_equal(again.video, base.video)
    np.testing.assert_array_equal(again.keyframe, base.keyframe)
    other = pipe(fmri, seed=1, **FAST)
    assert not np.array_equal(other.video, base.video)
    g1, g2 = (pipe(fmri, generator=torch.Generator().manual_seed(5), **FAST) for _ in range(2))
    np.testing.assert_array_equal(g1.video, g2.video)


def test_alpha_modes_start_where_they_should(pipe):
    video = pipe.video_pipeline
    sched = video.scheduler
    sched.set_timesteps(25)
    z, noise = torch.ones(1, 4, 16, 2, 2), torch.zeros(1, 4, 16, 2, 2)
    a = sched.alphas_cumprod
    t0 = int(sched.timesteps[0])
    assert t0 == 961  # the reference's start for 25 'leading' steps (spec §5.3)
    assert video.alpha_latents(z, noise, "code_parity", 0.3)[0, 0, 0, 0, 0] == pytest.approx(float(a[t0].sqrt()), rel=1e-5)
    eq5 = video.alpha_latents(z, noise, "paper_eq5", 0.3)[0, 0, 0, 0, 0]
    assert eq5 == pytest.approx(float((a[t0] / a[300]).sqrt()), rel=1e-5) and eq5 > float(a[t0].sqrt())
    frames = np.zeros((16, pipe.video_size, pipe.video_size, 3), np.uint8)
    out = video("x", blurry_video=frames, num_inference_steps=4, alpha_mode="sdedit", alpha_strength=0.5,
                generator=torch.Generator().manual_seed(0))
    assert out.timesteps == [int(t) for t in sched.timesteps[-2:]] and out.controlnet_calls == 0


def test_fusion_swaps_the_keyframe_for_the_last_frame(pipe, shipped_subject, monkeypatch):
    fmri = shipped_subject.fmri("test", [42, 43])
    monkeypatch.setattr(type(pipe), "same_class", lambda self, a, b, method="classifier": (True, 0.9))
    fused = pipe.fuse(fmri, seed=0, **FAST)
    assert fused.fused == [True] and fused.video.shape[0] == 32 and fused.settings["seconds"] == 4.0
    np.testing.assert_array_equal(fused.clips[1].control_frame, fused.clips[0].video[-1])
    assert fused.clips[1].settings["control_frame_given"]
    monkeypatch.setattr(type(pipe), "same_class", lambda self, a, b, method="classifier": (False, 0.1))
    apart = pipe.fuse(fmri, seed=0, **FAST)
    np.testing.assert_array_equal(apart.clips[1].control_frame, apart.clips[1].keyframe)
    np.testing.assert_array_equal(apart.clips[0].video, fused.clips[0].video)  # the first clip is never changed
    monkeypatch.undo()
    same, score = pipe.same_class(fused.clips[0].keyframe, fused.clips[0].keyframe, "cosine")
    assert same and score == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(ValueError, match="1 to 3"):
        pipe.fuse(shipped_subject.fmri("test", [0, 1, 2, 3]))
    # a seed inside the settings is kept (the app passes settings, not a seed)
    seeded = pipe.fuse(fmri, settings=pipe.settings(seed=5, **FAST))
    assert seeded.settings["seed"] == 5 and not np.array_equal(seeded.clips[0].video, apart.clips[0].video)


def test_bad_arguments_raise_clear_errors(pipe, fmri):
    with pytest.raises(ValueError, match="7141"):
        pipe(fmri[:100])
    with pytest.raises(ValueError, match="alpha_mode"):
        pipe(fmri, alpha_mode="eq7")
    with pytest.raises(ValueError, match="NaN"):
        pipe(np.full_like(fmri, np.nan))
    with pytest.raises(FileNotFoundError, match="subject 9"):
        type(pipe).from_pretrained("tiny", subject=9)
    with pytest.raises(ValueError, match="unknown guidance settings"):
        pipe.settings(alpha=0.3)
    with pytest.raises(TypeError, match="alpha"):
        pipe(fmri, alpha=0.3)  # a misspelt keyword is refused as Python refuses one
    with pytest.raises(TypeError, match="alpha"):
        pipe.fuse(np.stack([fmri, fmri]), alpha=0.3)
    # None keeps the zoo's default of a setting that cannot be None (the old keyword API's meaning)
    assert pipe.settings(keyframe_steps=None, keyframe_unconditional=None) == pipe.default_settings
    with pytest.raises(ValueError, match="unknown model zoo 'maxi'; choose one of"):
        type(pipe).from_pretrained("maxi")


def test_save_pretrained_round_trip(pipe, fmri, base, tmp_path):
    from neuroclips.pipeline import NeuroClipsPipeline

    pipe.save_pretrained(tmp_path / "pipe")
    loaded = NeuroClipsPipeline.from_pretrained(tmp_path / "pipe")
    assert loaded.fusion_classifier is not None and loaded.image_encoder is not None
    assert loaded.default_settings == pipe.default_settings  # the zoo's defaults travel with the pipeline
    for name, module in pipe.components.items():  # every weight comes back bit for bit
        if isinstance(module, torch.nn.Module):
            restored = getattr(loaded, name).state_dict()
            assert type(getattr(loaded, name)) is type(module)
            assert all(torch.equal(v, restored[k]) for k, v in module.state_dict().items()), name
    # the same weights at another memory alignment (safetensors maps the file) may take other CPU kernel paths:
    # ~1e-6 apart in PR's latents, which can move a pixel by one grey level and no more
    video = loaded(fmri, seed=0, **FAST).video
    assert np.abs(video.astype(int) - base.video.astype(int)).max() <= 1
    assert (video != base.video).mean() < 1e-3


def test_interpolation_matches_the_reference():
    from neuroclips.pipeline.video import interpolate_frames

    f = np.stack([np.full((2, 2, 3), v, np.uint8) for v in (0, 90, 180, 30, 60, 255)])
    out = interpolate_frames(f)
    assert out.shape == (16, 2, 2, 3)
    np.testing.assert_array_equal(out[::3], f)
    assert out[1, 0, 0, 0] == round(0.33 * 90) and out[2, 0, 0, 0] == round(0.67 * 90)


def test_cli_writes_playable_files(tiny_zoo, tmp_path, capsys):
    from neuroclips.cli import main
    from neuroclips.pipeline.export import read_mp4

    out = tmp_path / "rec"
    assert main(["reconstruct", "--zoo", "tiny", "--subject", "1", "--clip", "42", "--steps", "2", "--fuse", "2",
                 "--out", str(out)]) == 0
    frames, fps = read_mp4(out / "long_video.mp4")
    assert len(frames) == 32 and fps == 8 and frames.shape[1] >= 256
    clip = out / "clip-0042"
    frames, fps = read_mp4(clip / "video.mp4")
    assert len(frames) == 16 and fps == 8
    assert len(read_mp4(clip / "blurry.mp4")[0]) == 16 and len(read_mp4(clip / "reference.mp4")[0]) == 16
    record = json.loads((clip / "reconstruction.json").read_text())
    assert record["caption"] == (clip / "caption.txt").read_text().strip() and record["settings"]["versions"]
    assert (clip / "keyframe.png").exists()
    assert json.loads((out / "long_video.json").read_text())["clips"] == [42, 43]
    capsys.readouterr()
    assert main(["reconstruct", "--zoo", "tiny", "--subject", "1", "--clip", "1200", "--out", str(out)]) == 2
    assert "out of range" in capsys.readouterr().err
    assert main(["reconstruct", "--zoo", "tiny", "--subject", "9", "--clip", "0", "--out", str(out)]) == 2
    assert "subject" in capsys.readouterr().err


def test_keyframe_unconditional_tokens_option(pipe, fmri, base):
    noise = pipe(fmri, seed=0, use_blurry=False, keyframe_unconditional="noise", **FAST)
    assert noise.settings["keyframe_unconditional"] == "noise" and not np.array_equal(noise.keyframe, base.keyframe)
    with pytest.raises(ValueError, match="keyframe_unconditional"):
        pipe(fmri, keyframe_unconditional="random")


def test_caption_alone_with_the_blurry_keyframe_start(pipe, fmri):
    out = pipe(fmri, seed=0, use_blurry=False, use_keyframe=False, use_caption=True, keyframe_init="blurry", **FAST)
    assert out.caption and out.blurry_frames is not None and out.blurry_video is None and out.control_frame is None


def test_stage_offload_moves_one_stage_at_a_time_and_changes_nothing(pipe, fmri, base, shipped_subject, monkeypatch):
    """Every module call happens while its stage has it on the device: a forward pre-hook on every submodule fails
    otherwise (on this CPU host the device is the CPU, so entry and exit moves are told apart by their argument)."""
    staged = pipe.with_reconstructors(pipe.perception, pipe.semantics).enable_stage_offload("cpu")
    placed, moves, handles = {}, [], []
    names = ("perception", "blurry_vae", "semantics", "keyframe_unet", "keyframe_vae", "caption_model", "text_encoder",
             "unet", "controlnet", "vae", "image_encoder", "fusion_classifier")
    modules = {}
    for name in names:
        modules.setdefault(id(getattr(staged, name)), (name, getattr(staged, name)))
    for key, (name, module) in modules.items():
        original = module.to

        def spy(*a, _k=key, _n=name, _o=original, **k):
            placed[_k] = isinstance(a[0], torch.device)  # _stage moves in with the device, out with "cpu"
            moves.append((_n, placed[_k]))
            return _o(*a, **k)

        monkeypatch.setattr(module, "to", spy)
        placed[key] = False

        def check(m, args, _k=key, _n=name):
            assert placed[_k], f"{_n} ran outside its stage"

        handles += [sub.register_forward_pre_hook(check) for sub in module.modules()]
    try:
        out = staged(fmri, seed=0, **FAST)
        long = staged.fuse(shipped_subject.fmri("test", [42, 43]), fusion="classifier", seed=0, **FAST)
    finally:
        for h in handles:
            h.remove()
    np.testing.assert_array_equal(out.video, base.video)
    assert len(long.clips) == 2 and not any(placed.values())  # everything back off the device at the end
    order = [n for n, entering in moves if entering]
    assert order.index("perception") < order.index("semantics") < order.index("caption_model") < order.index("unet")
    assert {"image_encoder", "fusion_classifier"} <= set(order)
    assert staged.device == torch.device("cpu") and pipe.device.type == "cpu"


def test_stage_methods_give_what_the_call_gives(pipe, fmri, base):
    """The app's stage cache and the evaluation run steps 2-4 once for every variant (all_stages) and then step 5:
    the videos are the direct calls' videos, bit for bit."""
    s = pipe.settings(seed=0, **FAST)
    conditions = pipe.prepare_conditions(fmri, s, all_stages=True)
    assert set(conditions.timings) == {"blurry", "keyframe", "caption"}
    np.testing.assert_array_equal(pipe.generate_video(conditions, s).video, base.video)
    no_kf = pipe.generate_video(conditions, s.replace(use_keyframe=False))
    np.testing.assert_array_equal(no_kf.video, pipe(fmri, seed=0, use_keyframe=False, **FAST).video)
    assert no_kf.caption is None  # the caption follows the keyframe unless asked for
    with pytest.raises(ValueError, match="no blurry video"):
        pipe.generate_video(pipe.prepare_conditions(fmri, s.replace(use_blurry=False)), s)


def test_ground_truth_caption_source(pipe, fmri, base, shipped_subject):
    gt = shipped_subject.caption("test", 42)
    with Spy(pipe.caption_model, "generate") as cap:
        out = pipe(fmri, seed=0, caption_source="ground truth", reference_caption=gt, **FAST)
    assert cap.calls == 0 and out.caption == gt and out.prompt.startswith(gt)
    np.testing.assert_array_equal(out.keyframe, base.keyframe)
    with pytest.raises(ValueError, match="reference_caption"):
        pipe(fmri, seed=0, caption_source="ground truth", **FAST)
    # γ from the GT caption without β: no keyframe is made at all
    with Spy(pipe.semantics) as sr:
        alone = pipe(fmri, seed=0, use_keyframe=False, use_caption=True, caption_source="ground truth",
                     reference_caption=gt, **FAST)
    assert sr.calls == 0 and alone.keyframe is None and alone.caption == gt and "keyframe" not in alone.timings
    # fusion prompts each clip with its own GT caption
    captions = [shipped_subject.caption("test", i) for i in (42, 43)]
    long = pipe.fuse(shipped_subject.fmri("test", [42, 43]), seed=0, caption_source="ground truth",
                     reference_captions=captions, **FAST)
    assert [c.caption for c in long.clips] == captions


def test_guidance_settings_validate_round_trip_and_key():
    from neuroclips.pipeline import REFERENCE_SEED, GuidanceSettings

    s = GuidanceSettings(alpha_mode="sdedit", alpha_strength=0.5, num_inference_steps=np.int64(10))
    assert s.num_inference_steps == 10 and type(s.num_inference_steps) is int
    assert GuidanceSettings.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    for bad, match in (({"alpha_strength": 0.0}, r"alpha_strength must be in \(0.0, 1.0\]"),
                       ({"num_inference_steps": 2.5}, "num_inference_steps must be an integer"),
                       ({"use_blurry": "no"}, "use_blurry must be True or False"),
                       ({"keyframe_init": "image"}, "keyframe_init must be one of"),
                       ({"caption_source": "gt"}, "caption_source must be one of")):
        with pytest.raises(ValueError, match=match):
            GuidanceSettings(**bad)
    with pytest.raises(ValueError, match="unknown guidance settings"):
        GuidanceSettings.from_dict({"steps": 3})
    r = GuidanceSettings(use_keyframe=False).resolved()
    assert r.use_caption is False and r.seed == REFERENCE_SEED
    # what a cached result depends on: settings the run ignores don't split the cache
    assert GuidanceSettings(keyframe_strength=0.5).key() == GuidanceSettings().key()
    assert GuidanceSettings(keyframe_init="blurry", keyframe_strength=0.5).key() != \
        GuidanceSettings(keyframe_init="blurry").key()
    assert GuidanceSettings(use_caption=False, caption_source="ground truth").key() == \
        GuidanceSettings(use_caption=False).key()
    assert GuidanceSettings(alpha_strength=0.9).key() == GuidanceSettings().key()  # code parity ignores it
    assert GuidanceSettings(alpha_mode="sdedit", alpha_strength=0.9).key() != GuidanceSettings(alpha_mode="sdedit").key()
    assert GuidanceSettings(use_blurry=False, alpha_mode="sdedit").key() == GuidanceSettings(use_blurry=False).key()
    assert GuidanceSettings(use_keyframe=False, controlnet_conditioning_scale=0.5).key() == \
        GuidanceSettings(use_keyframe=False).key()
    no_keyframe = dict(use_keyframe=False, use_caption=False)
    assert GuidanceSettings(keyframe_steps=3, **no_keyframe).key() == GuidanceSettings(**no_keyframe).key()
    assert GuidanceSettings(keyframe_steps=3).key("keyframe") != GuidanceSettings().key("keyframe")
    kf = GuidanceSettings().key("keyframe")
    assert "prior_steps" in kf and "seed" in kf and "alpha_mode" not in kf and "use_blurry" not in kf
    assert ("SDEdit", "sdedit") in GuidanceSettings.choices("alpha_mode")


def test_a_new_alpha_mode_is_one_registration(pipe, fmri):
    """Adding an α mode touches pipeline/alpha.py only: the settings accept it, the pipeline runs it."""
    from neuroclips.pipeline import ALPHA_MODES, AlphaMode, GuidanceSettings, register_alpha_mode

    calls = []

    def blurry_only(video_pipe, blurry_latents, noise, strength):
        calls.append(strength)
        return blurry_latents

    register_alpha_mode(AlphaMode("blurry_only", "blurry latents, no noise", "test mode", blurry_only))
    try:
        assert ("blurry latents, no noise", "blurry_only") in GuidanceSettings.choices("alpha_mode")
        out = pipe(fmri, seed=0, alpha_mode="blurry_only", alpha_strength=0.7, **FAST)
        assert calls == [0.7] and out.settings["alpha_mode"] == "blurry_only"
    finally:
        ALPHA_MODES.pop("blurry_only")
    with pytest.raises(ValueError, match="alpha_mode"):
        GuidanceSettings(alpha_mode="blurry_only")


def test_the_zoo_registry_names_zoos_once(tiny_zoo, pipe):
    from neuroclips.pipeline import NeuroClipsPipeline
    from neuroclips.zoo import get_zoo, zoo_names

    assert {"mini", "full", "tiny"} <= set(zoo_names())
    with pytest.raises(ValueError, match="unknown model zoo 'nano'; choose one of"):
        get_zoo("nano")
    # the pipeline is sampled with its zoo's defaults, the reference's elsewhere
    assert pipe.default_settings.keyframe_steps == tiny_zoo.defaults["keyframe_steps"]
    assert pipe.default_settings.alpha_mode == "code_parity"
    assert get_zoo("full").defaults["keyframe_unconditional"] == "noise"
    assert get_zoo("mini").defaults["keyframe_unconditional"] == "zeros"
    # other subjects' PR/SR come from the zoo's reconstructors folder; the zoo's components are shared
    other = pipe.for_subject(2)
    assert other.unet is pipe.unet and other.perception.config.n_voxels != pipe.perception.config.n_voxels
    assert other.versions["perception"] != pipe.versions["perception"]
    with pytest.raises(FileNotFoundError, match="subject 9"):
        pipe.for_subject(9)
    assert isinstance(pipe, NeuroClipsPipeline)
