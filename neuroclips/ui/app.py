"""NeuroClips Studio, the Gradio Blocks app: Reconstruct, Long video, Brain and About tabs.

Handlers turn :class:`~neuroclips.ui.studio.Studio` results into components and every failure into a
``gr.Error`` with a plain message. The model work runs in ``@spaces.GPU`` functions (a no-op off ZeroGPU) whose
duration follows the call's settings (:mod:`.gpu`); results already in the store are served without one. The three
named endpoints (``/reconstruct``, ``/long_video``, ``/flatmaps``) are also MCP tools: their parameters' types and
the ``Args:`` of their docstrings are the tools' schema. :func:`build_app_from_env` and :func:`serve` are what
``app.py`` runs.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from dataclasses import dataclass
from types import SimpleNamespace

import gradio as gr

from ..data import DataError
from ..pipeline import GuidanceSettings
from ..pipeline.alpha import ALPHA_MODES
from ..pipeline.settings import CAPTION_SOURCES, FUSION_METHODS
from .gpu import gpu_seconds
from .links import CONTROL_RANGES, LINK_PARAMS, make_link, parse_link
from .studio import DEFAULT_CLIPS, ConfigError, Studio, defaults_from_env

try:  # `spaces` must be imported after gradio (its circular-import guard)
    import spaces

    def on_gpu(fn, duration):
        """``fn`` on a ZeroGPU slot for ``duration(*args)`` seconds (off ZeroGPU, ``fn`` itself)."""
        return spaces.GPU(duration=duration)(fn)
except ImportError:  # pragma: no cover - spaces is in requirements.txt
    def on_gpu(fn, duration):
        return fn

USER_ERRORS = (DataError, IndexError, ValueError, KeyError, FileNotFoundError)
MODEL_QUEUE = "model"  # all events that run models share one slot of the queue
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
# builds the page's address with a link's query and copies it (the query comes from make_link, one vocabulary)
COPY_LINK_JS = """(query) => {
  const url = new URL(window.location.href);
  url.search = query;
  url.hash = "";
  const text = url.toString();
  if (navigator.clipboard && window.isSecureContext) { navigator.clipboard.writeText(text).catch(() => {}); }
  return text;
}"""


def _number(value, what: str) -> int:
    if value is None or value == "":
        raise gr.Error(f"enter a {what}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise gr.Error(f"the {what} must be a whole number, got {value!r}") from None
    if not math.isfinite(number) or number != int(number):
        raise gr.Error(f"the {what} must be a whole number, got {value!r}")
    return int(number)


def _real(value, what: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise gr.Error(f"{what} must be a number, got {value!r}") from None


def _tool_doc(summary: str, args: dict[str, str], returns: str) -> str:
    """A docstring in the form Gradio's MCP server reads: one line per argument under ``Args:``."""
    lines = [summary, "", "Args:", *(f"    {name}: {text}" for name, text in args.items()), "", "Returns:",
             f"    {returns}"]
    return "\n".join(lines)


INTRO = """# NeuroClips Studio
fMRI-to-video reconstruction with **NeuroClips** (Gong et al., NeurIPS 2024). Pick a subject and a test clip:
the Perception Reconstructor decodes a **blurry video** (α guidance), the Semantics Reconstructor a **keyframe**
(β) whose **caption** (γ) prompts a text-to-video model. Toggle α, β, γ to see the paper's ablations."""


def _fmt(v: float) -> str:
    return "∞" if math.isinf(v) else f"{v:.3f}"


def metrics_markdown(record: dict) -> str:
    m = record.get("metrics", {})
    rows = ["| video | SSIM | SSIM (MinD-Video) | PSNR (dB) | CLIP-pcc | CLIP sim. to GT |", "|---|---|---|---|---|---|"]
    for name in ("final", "blurry"):
        if name in m:
            r = m[name]
            rows.append(f"| {name} | {_fmt(r['ssim'])} | {_fmt(r['ssim_mindvideo'])} | {_fmt(r['psnr'])} | "
                        f"{_fmt(r['clip_pcc'])} | {_fmt(r['clip_similarity_to_gt'])} |")
    kr = m.get("keyframe_retrieval") or {}
    if kr:
        rows.append(f"\nKeyframe retrieval: the GT keyframe ranks **{kr['rank']}** of {kr['n_way']} "
                    f"(clips {kr['fold_start']}-{kr['fold_start'] + kr['n_way'] - 1}) by similarity to SR's clip_voxels.")
    rows.append("\nEvaluated at 3 FPS (frames 0, 3, ..., 15 of 16) against the 6 GT frames, at the GT's resolution.")
    return "\n".join(rows)


def timings_markdown(record: dict) -> str:
    t = record.get("timings_seconds", {})
    parts = [f"{k} {v:.2f} s" for k, v in t.items() if k != "total"]
    reused = record.get("reused_stages") or []
    note = " · served from the results cache" if record.get("from_cache") else ""
    if reused:
        note += f" · reused {', '.join(reused)} (only the video was re-run)"
    return f"Stage times: {' · '.join(parts)} · **total {t.get('total', 0):.2f} s**{note}"


def make_handlers(studio: Studio) -> SimpleNamespace:
    """The app's event handlers (plain functions: the tests call them directly)."""
    subjects = ", ".join(map(str, studio.subjects)) or "none"
    n_clips = studio.data(studio.subjects[0]).num_clips("test") if studio.subjects else 0
    modes = "; ".join(f"{name} ({m.description})" for name, m in ALPHA_MODES.items())
    sources = "; ".join(f"{name} ({label})" for name, label in CAPTION_SOURCES.items())
    fusions = "; ".join(f"{name} ({label})" for name, label in FUSION_METHODS.items())
    low, high = CONTROL_RANGES["alpha_strength"]
    beta_low, beta_high = GuidanceSettings.range("controlnet_conditioning_scale")
    seed_doc = f"seed of every stage, an integer from 0 to {CONTROL_RANGES['seed'][1]} (each stage draws from its own generator)"
    subject_doc = f"subject number, one of {subjects} ({studio.source} data)"

    # ------------------------------------------------------------------------------------------------ GPU work
    def reconstruct_seconds(subject, clip, seed, guidance, progress=None) -> int:
        return gpu_seconds(studio.settings(seed=seed, **guidance), studio.zoo)

    def _reconstruct_on_gpu(subject, clip, seed, guidance, progress=None) -> dict:
        return studio.reconstruct(subject, clip, seed=seed, progress=progress, **guidance)

    reconstruct_on_gpu = on_gpu(_reconstruct_on_gpu, reconstruct_seconds)

    def long_video_seconds(subject, clip, n_clips, fusion, seed) -> int:
        return gpu_seconds(studio.settings(seed=seed), studio.zoo, n_clips=n_clips, retrieval=False)

    def _long_video_on_gpu(subject, clip, n_clips, fusion, seed) -> dict:
        return studio.long_video(subject, clip, n_clips, fusion, seed)

    long_video_on_gpu = on_gpu(_long_video_on_gpu, long_video_seconds)

    def warm_up() -> list[int]:
        """Reconstruct the default clips through the GPU function (at start, in a background thread)."""
        return studio.precompute_defaults(reconstruct=lambda subject, clip, seed: reconstruct_on_gpu(subject, clip, seed, {}))

    # ------------------------------------------------------------------------------------------------ tools
    def reconstruct(subject: int, clip: int, use_blurry: bool, alpha_mode: str, alpha_strength: float,
                    use_keyframe: bool, controlnet_conditioning_scale: float, use_caption: bool, caption_source: str,
                    seed: int, progress=gr.Progress()):
        try:
            subject, clip, seed = _number(subject, "subject"), _number(clip, "clip number"), _number(seed, "seed")
            studio.check_clip(subject, clip)
            guidance = dict(use_blurry=bool(use_blurry), alpha_mode=alpha_mode,
                            alpha_strength=_real(alpha_strength, "alpha_strength"), use_keyframe=bool(use_keyframe),
                            controlnet_conditioning_scale=_real(controlnet_conditioning_scale,
                                                                "controlnet_conditioning_scale"),
                            use_caption=bool(use_caption), caption_source=caption_source)
            studio.settings(seed=seed, **guidance)  # refused here, before a GPU is asked for
            record = studio.cached(subject, clip, seed=seed, **guidance)
            if record is None:
                record = reconstruct_on_gpu(subject, clip, seed, guidance, progress)
            else:
                record["from_cache"] = True
        except USER_ERRORS as err:
            raise gr.Error(str(err)) from None
        f = record["files"]
        caption = (f"**Caption (γ):** {record['caption']}" if record.get("caption") else "**Caption (γ):** off")
        caption += f"  \n**Prompt:** {record['prompt']}  \n**GT caption:** {record.get('gt_caption', '')}"
        return (f.get("side_by_side"), f.get("video"), f.get("blurry_video"), f.get("reference"), f.get("keyframe"),
                caption, metrics_markdown(record), timings_markdown(record))

    reconstruct.__doc__ = _tool_doc(
        "Reconstruct the video a subject watched from the fMRI of one test clip with NeuroClips, and score it against "
        "the ground truth. α, β and γ are the paper's three guidance signals; switching one off is its ablation.",
        {"subject": subject_doc,
         "clip": f"test clip index, an integer from 0 to {n_clips - 1}; a clip is 2 s of movie, reconstructed as 16 "
                 "frames at 8 FPS",
         "use_blurry": "α guidance on or off: start the video sampler from the Perception Reconstructor's blurry video",
         "alpha_mode": f"how α enters the sampler, one of {modes}",
         "alpha_strength": f"α strength from {low} to {high}: ϑ of Eq. 5 (paper_eq5) or the fraction of steps run "
                           "(sdedit); code_parity ignores it",
         "use_keyframe": "β guidance on or off: SparseCtrl on the keyframe the Semantics Reconstructor decodes, at "
                         "frame 0",
         "controlnet_conditioning_scale": f"β strength (SparseCtrl conditioning scale) from {beta_low} to "
                                          f"{beta_high}; 1 is the reference's",
         "use_caption": "γ guidance on or off: the caption as the text-to-video prompt",
         "caption_source": f"where γ's caption comes from, one of {sources}",
         "seed": seed_doc},
        "the side-by-side video (GT | blurry | final, mp4, 16 frames at 8 FPS), the final video, the blurry video, the "
        "GT video, the keyframe (PNG; none when neither β nor a keyframe caption needs it), the caption and prompt "
        "(Markdown), per-clip metrics against the GT at 3 FPS (Markdown: SSIM, PSNR in dB, CLIP-pcc, the keyframe's "
        "retrieval rank) and the stage timings in seconds (Markdown)")

    def long_video(subject: int, clip: int, n_clips: int, fusion: str, seed: int):
        try:
            subject, clip = _number(subject, "subject"), _number(clip, "clip number")
            n, seed = _number(n_clips, "number of clips"), _number(seed, "seed")
            if not 2 <= n <= 3:
                raise ValueError(f"fusion chains 2 or 3 clips, got {n}")
            if fusion not in FUSION_METHODS:
                raise ValueError(f"fusion must be one of {', '.join(FUSION_METHODS)}, got {fusion!r}")
            studio.check_clip(subject, clip, n)
            record = long_video_on_gpu(subject, clip, n, fusion, seed)
        except USER_ERRORS as err:
            raise gr.Error(str(err)) from None
        rows = ["| clips | fused? | score | threshold | GT categories |", "|---|---|---|---|---|"]
        for p in record["pairs"]:
            cats = " / ".join(", ".join(c) for c in p["gt_categories"])
            rows.append(f"| {p['clips'][0]} → {p['clips'][1]} | {'yes: keyframe = last frame' if p['same_class'] else 'no'}"
                        f" | {p['score']:.3f} | {p['threshold']:.3f} | {cats} |")
        why = ("The classifier's probability that both keyframes show the same class" if record["fusion"] == "classifier"
               else "The cosine similarity of the two keyframes' CLIP embeddings")
        text = "\n".join(rows) + f"\n\n{why}; at or above the threshold the next clip takes the previous video's last " \
            f"frame as its SparseCtrl keyframe. {record['seconds']:.0f} s at 8 FPS."
        keyframes = [(v, f"clip {k.split('_')[1]}: {c}") for (k, v), c in
                     zip(((k, v) for k, v in record["files"].items() if k.startswith("keyframe_")), record["captions"])]
        return record["files"]["video"], text, keyframes

    long_video.__doc__ = _tool_doc(
        "Multi-fMRI fusion: reconstruct 2 or 3 consecutive test clips into one long video; where two neighbouring "
        "keyframes show the same class, the next clip starts from the previous video's last frame.",
        {"subject": subject_doc,
         "clip": f"first test clip index, an integer from 0 to {n_clips - 2} (the clips that follow it come next)",
         "n_clips": "number of consecutive clips, 2 or 3 (4 or 6 s of video at 8 FPS)",
         "fusion": f"how 'same class' is decided, one of {fusions}",
         "seed": seed_doc},
        "the long video (mp4, 8 FPS), each pair's fusion decision with its score and threshold (Markdown table) and "
        "the reconstructed keyframes with their captions (gallery)")

    def flatmaps(subject: int):
        try:
            return studio.flatmaps(_number(subject, "subject"))
        except USER_ERRORS as err:
            raise gr.Error(str(err)) from None

    flatmaps.__doc__ = _tool_doc(
        "The first-layer voxel weights of a subject's Perception and Semantics Reconstructors on the fs_LR 32k flat "
        "cortex (paper Fig. 5), and their mean per visual area.",
        {"subject": subject_doc},
        "a plotly figure of both flatmaps (per-voxel mean |w|, min-max normalised, HCP-MMP1.0 areas on hover) and a "
        "plotly bar chart per visual area, with the simulation's ground truth for simulated subjects")

    # ------------------------------------------------------------------------------------------------ page
    def show_clip(subject, clip):
        try:
            data = studio.check_clip(_number(subject, "subject"), _number(clip, "clip number"))
        except USER_ERRORS as err:
            raise gr.Error(str(err)) from None
        c = int(clip)
        return (studio.thumbnail(subject, c),
                f"**Clip {c}**: {data.caption('test', c)}  \ncategories: {', '.join(data.categories('test', c))}")

    def search(subject, query):
        try:
            hits = studio.search_clips(int(subject), query or "")
        except USER_ERRORS as err:
            raise gr.Error(str(err)) from None
        return [(studio.thumbnail(subject, i), label) for i, label in hits], [i for i, _ in hits]

    def pick(hits, evt: gr.SelectData):
        return hits[evt.index] if hits and evt.index < len(hits) else gr.update()

    def open_link(request: gr.Request):
        """The page's query parameters (a shared link) as control values; a parameter that cannot be used is a
        warning, and then the link is not run."""
        query = dict(request.query_params) if request is not None else {}
        try:
            link = parse_link(query, studio.default_settings, studio.subjects,
                              lambda s: studio.data(s).num_clips("test"))
        except USER_ERRORS as err:
            link = parse_link({}, studio.default_settings, studio.subjects, lambda s: 0)
            link.problems.append(str(err))
        for problem in link.problems:
            gr.Warning(f"Link: {problem}")
        note = ("**Not used from this link:** " + "; ".join(link.problems) + ". The other values are set; fix the "
                "link, or press Reconstruct.") if link.problems else ""
        values = {**link.values, **({"subject": str(link.values["subject"])} if "subject" in link.values else {})}
        return (*(gr.update(value=values[n]) if n in values else gr.skip() for n in LINK_PARAMS), note, link.runnable)

    def reconstruct_link(*args, progress=gr.Progress()):
        """The link's reconstruction, when :func:`open_link` found a runnable one (the last argument)."""
        *inputs, runnable = args
        if not runnable:
            return tuple(gr.skip() for _ in range(8))
        return reconstruct(*inputs, progress=progress)

    def share_link(subject, clip, use_blurry, alpha_mode, alpha_strength, use_keyframe, controlnet_conditioning_scale,
                   use_caption, caption_source, seed) -> str:
        """The query string of the current controls (the page's JavaScript puts the address in front)."""
        return make_link(dict(subject=subject, clip=clip, use_blurry=use_blurry, alpha_mode=alpha_mode,
                              alpha_strength=alpha_strength, use_keyframe=use_keyframe,
                              controlnet_conditioning_scale=controlnet_conditioning_scale, use_caption=use_caption,
                              caption_source=caption_source, seed=seed))

    def about():
        a = studio.about()
        versions = "\n".join(f"- `{k}`: `{v}`" for k, v in a["versions"].items()) or "- (loaded with the first reconstruction)"
        return (f"**Model zoo:** `{a['zoo']}` · **data:** {a['source']} subjects {a['subjects']} · **device:** {a['device']}\n\n"
                f"**Model versions** (SHA-256 of the weights; for the full zoo the Hub revision):\n{versions}\n\n"
                "The **mini** zoo is the same library classes at small size, trained on the simulated world that ships "
                "with the app. The **full** zoo (SD1.5 + AnimateDiff v3 + SparseCtrl RGB, SDXL unCLIP, BLIP-2 and "
                "NeuroClips' checkpoints) runs on a GPU host with the real cc2017 data (`NEUROCLIPS_ZOO=full`, after "
                "`python -m neuroclips weights download --zoo full`). "
                f"Results are cached in `{a['results']}`."
                + (f"\n\n**Settings changed for this host:** {a['defaults']} (the reference uses 25 video, 38 unCLIP "
                   "and 20 prior steps; the mini zoo's unCLIP defaults to 25)." if a["defaults"] else ""))

    return SimpleNamespace(reconstruct=reconstruct, show_clip=show_clip, search=search, pick=pick,
                           long_video=long_video, flatmaps=flatmaps, about=about, open_link=open_link,
                           reconstruct_link=reconstruct_link, share_link=share_link, warm_up=warm_up,
                           reconstruct_on_gpu=reconstruct_on_gpu, reconstruct_seconds=reconstruct_seconds,
                           long_video_seconds=long_video_seconds)


def build_demo(studio: Studio | None = None, handlers: SimpleNamespace | None = None) -> gr.Blocks:
    studio = studio or Studio()
    subjects = studio.subjects
    h = handlers or make_handlers(studio)

    def subject_dropdown():
        # string values: Gradio's API schema types a dropdown as a string, and an MCP client is held to it (an int
        # enum under "type": "string" admits nothing); custom values let API callers pass 1 as well as "1", which
        # the handlers check
        return gr.Dropdown([(f"Subject {s} ({studio.source})", str(s)) for s in subjects], value=str(subjects[0]),
                           label="Subject", allow_custom_value=True)

    with gr.Blocks(title="NeuroClips Studio") as demo:
        gr.Markdown(INTRO)
        if not subjects:
            gr.Markdown("No simulated world found: run `python -m neuroclips build-demo-data`.")
            return demo
        n_clips = studio.data(subjects[0]).num_clips("test")
        gr.Markdown(f"Model zoo: **{studio.zoo}** · data: **{studio.source}**")
        with gr.Tab("Reconstruct"):
            with gr.Row():
                with gr.Column(scale=1):
                    subject = subject_dropdown()
                    clip = gr.Number(value=DEFAULT_CLIPS[0], precision=0, minimum=0, maximum=n_clips - 1,
                                     label=f"Test clip (0-{n_clips - 1})")
                    thumb = gr.Image(label="GT keyframe", type="numpy", height=160, interactive=False)
                    clip_info = gr.Markdown()
                    with gr.Accordion("Browse clips", open=False):
                        query = gr.Textbox(label="Search captions and categories", placeholder="e.g. horse zoom")
                        gallery = gr.Gallery(label="Matching clips (click to pick)", columns=6, height=260,
                                             allow_preview=False)
                        hits = gr.State([])
                with gr.Column(scale=1):
                    gr.Markdown("**Guidance**")
                    # controls, choices, ranges and defaults from the one settings vocabulary (zoo's defaults)
                    d, G = studio.default_settings, GuidanceSettings
                    use_blurry = gr.Checkbox(d.use_blurry, label="α: blurry video")
                    alpha_mode = gr.Dropdown(G.choices("alpha_mode"), value=d.alpha_mode, label="α mode")
                    alpha_strength = gr.Slider(*CONTROL_RANGES["alpha_strength"], value=d.alpha_strength, step=0.05,
                                               label="α strength (ϑ / SDEdit)")
                    use_keyframe = gr.Checkbox(d.use_keyframe, label="β: keyframe (SparseCtrl)")
                    beta_scale = gr.Slider(*G.range("controlnet_conditioning_scale"), value=d.controlnet_conditioning_scale,
                                           step=0.1, label="β scale")
                    use_caption = gr.Checkbox(d.caption_on, label="γ: caption")
                    caption_source = gr.Radio(G.choices("caption_source"), value=d.caption_source,
                                              label="γ caption source")
                    seed = gr.Number(value=0, precision=0, minimum=0, maximum=CONTROL_RANGES["seed"][1], label="Seed")
                    button = gr.Button("Reconstruct", variant="primary")
                    with gr.Row():
                        link_button = gr.Button("Copy link", size="sm", elem_id="copy-link", scale=0)
                        link_box = gr.Textbox(show_label=False, placeholder="a link to these settings", buttons=["copy"],
                                              interactive=False, elem_id="share-link", scale=4)
                    link_note = gr.Markdown(elem_id="link-problems")
            gr.Markdown("**GT | blurry | final**: one player, so the three play in sync (8 FPS, 2 s).")
            panel = gr.Video(label="GT | blurry | final", autoplay=True, loop=True, elem_id="side-by-side")
            with gr.Row():
                keyframe = gr.Image(label="Keyframe (β)", type="filepath", height=200, elem_id="keyframe")
                caption = gr.Markdown(elem_id="caption")
            metrics = gr.Markdown(elem_id="metrics")
            timings = gr.Markdown(elem_id="timings")
            with gr.Accordion("Separate videos", open=False):
                with gr.Row():
                    gt_video = gr.Video(label="GT", elem_id="gt-video")
                    blurry_video = gr.Video(label="Blurry (α input)", elem_id="blurry-video")
                    final_video = gr.Video(label="Final", elem_id="final-video")
            inputs = [subject, clip, use_blurry, alpha_mode, alpha_strength, use_keyframe, beta_scale, use_caption,
                      caption_source, seed]
            outputs = [panel, final_video, blurry_video, gt_video, keyframe, caption, metrics, timings]
            button.click(h.reconstruct, inputs, outputs, api_name="reconstruct", concurrency_limit=1,
                         concurrency_id=MODEL_QUEUE)
            # live ablations: a guidance change re-runs only the video (earlier stages come from the cache)
            # .input, not .change: a shared link sets the controls and runs once, not once per control
            for control in (use_blurry, alpha_mode, use_keyframe, use_caption, caption_source):
                control.input(h.reconstruct, inputs, outputs, api_visibility="private", concurrency_limit=1,
                               concurrency_id=MODEL_QUEUE,
                               trigger_mode="always_last")
            for control in (alpha_strength, beta_scale):
                control.release(h.reconstruct, inputs, outputs, api_visibility="private", concurrency_limit=1,
                                concurrency_id=MODEL_QUEUE,
                                trigger_mode="always_last")
            clip.change(h.show_clip, [subject, clip], [thumb, clip_info], api_visibility="private")
            subject.change(h.show_clip, [subject, clip], [thumb, clip_info], api_visibility="private")
            query.submit(h.search, [subject, query], [gallery, hits], api_visibility="private")
            gallery.select(h.pick, [hits], [clip], api_visibility="private")
            link_button.click(h.share_link, inputs, [link_box], api_visibility="private", queue=False).then(
                None, [link_box], [link_box], js=COPY_LINK_JS)
        with gr.Tab("Long video"):
            gr.Markdown("**Multi-fMRI fusion** (paper §3.4): consecutive clips whose keyframes look alike are chained, "
                        "the next clip starting from the previous video's last frame.")
            with gr.Row():
                l_subject = subject_dropdown()
                l_clip = gr.Number(value=DEFAULT_CLIPS[0], precision=0, minimum=0, maximum=n_clips - 1, label="First clip")
                # a slider, not a radio: its schema is a number, so an API or MCP call may pass 2 or 3
                l_n = gr.Slider(2, 3, value=3, step=1, label="Clips")
                l_fusion = gr.Radio([(label, name) for name, label in FUSION_METHODS.items()],
                                    value="classifier", label="Same class?")
                l_seed = gr.Number(value=0, precision=0, minimum=0, maximum=2**31 - 1, label="Seed")
            l_button = gr.Button("Make long video", variant="primary")
            l_video = gr.Video(label="Long video", autoplay=True, loop=True, elem_id="long-video")
            l_text = gr.Markdown()
            l_keyframes = gr.Gallery(label="Reconstructed keyframes", columns=3, height=200)
            l_button.click(h.long_video, [l_subject, l_clip, l_n, l_fusion, l_seed], [l_video, l_text, l_keyframes],
                           api_name="long_video", concurrency_limit=1, concurrency_id=MODEL_QUEUE)
        with gr.Tab("Brain") as brain_tab:
            gr.Markdown("First-layer voxel weights of the Perception (PR) and Semantics (SR) Reconstructors on the fs_LR "
                        "32k flat cortex (paper Fig. 5): per-voxel mean |w|, min-max normalised, colour range 0.25-0.75. "
                        "Hover for the HCP-MMP1.0 area. The bars compare them with the simulation's ground truth.")
            b_subject = subject_dropdown()
            b_plot = gr.Plot(label="Voxel weights", elem_id="flatmap")
            b_bars = gr.Plot(label="Per visual area")
            b_subject.change(h.flatmaps, [b_subject], [b_plot, b_bars], api_name="flatmaps")
            brain_tab.select(h.flatmaps, [b_subject], [b_plot, b_bars], api_visibility="private")
        with gr.Tab("About") as about_tab:
            about_md = gr.Markdown()
            about_tab.select(h.about, None, [about_md], api_visibility="private")
        # a shared link (query parameters) sets the controls, then its reconstruction runs (or comes from the store)
        link_ok = gr.State(False)
        # (queued: a gr.Warning reaches the page only from a queued event)
        demo.load(h.open_link, None, [*inputs, link_note, link_ok], api_visibility="private").then(
            h.show_clip, [subject, clip], [thumb, clip_info], api_visibility="private").then(
            h.reconstruct_link, [*inputs, link_ok], outputs, api_visibility="private", concurrency_limit=1,
            concurrency_id=MODEL_QUEUE)
    return demo


def build_problem_demo(problem: str) -> gr.Blocks:
    """The page served when the environment names something the app cannot serve: the problem and its fix, and
    the three endpoints answering with the same message (an API or MCP client reads it too)."""
    text = (f"### NeuroClips Studio cannot start with this configuration\n\n{problem}\n\nChange it where the app's "
            "environment is set (the shell, or on a Space: Settings → Variables and secrets) and restart the app.")

    def unavailable(*args, **kwargs):
        raise gr.Error(problem)

    with gr.Blocks(title="NeuroClips Studio") as demo:
        gr.Markdown(INTRO)
        gr.Markdown(text, elem_id="setup-problem")
        for name in ("reconstruct", "long_video", "flatmaps"):
            gr.Button(visible=False).click(unavailable, None, None, api_name=name)
    return demo


@dataclass
class ServedApp:
    """What ``app.py`` serves: the Blocks, and the studio and handlers behind them (None when ``problem`` says
    why the environment cannot be served)."""

    demo: gr.Blocks
    studio: Studio | None = None
    handlers: SimpleNamespace | None = None
    problem: str | None = None


def build_app_from_env() -> ServedApp:
    """The app configured from ``NEUROCLIPS_ZOO``, ``NEUROCLIPS_DATA``, ``NEUROCLIPS_CC2017_ROOT`` and
    ``NEUROCLIPS_STEPS``; a value that cannot be served gives a page naming the variable and the fix, not a
    traceback."""
    try:
        studio = Studio(defaults=defaults_from_env())
        handlers = make_handlers(studio)
        return ServedApp(build_demo(studio, handlers), studio, handlers)
    except (ConfigError, DataError, FileNotFoundError) as err:
        problem = str(err) if isinstance(err, ConfigError) else (
            f"The data could not be opened: {err}. Check NEUROCLIPS_DATA and NEUROCLIPS_CC2017_ROOT (docs/space.md).")
        logging.getLogger(__name__).error("not serving the app: %s", problem)
        return ServedApp(build_problem_demo(problem), problem=problem)


def mcp_from_env() -> bool | None:
    """``$NEUROCLIPS_MCP`` (1/0): serve the MCP tools at ``/gradio_api/mcp/`` or not; unset: Gradio's own
    ``$GRADIO_MCP_SERVER`` decides."""
    value = os.environ.get("NEUROCLIPS_MCP", "").strip().lower()
    if not value:
        return None
    if value in TRUE or value in FALSE:
        return value in TRUE
    logging.getLogger(__name__).warning("NEUROCLIPS_MCP=%r is neither 1 nor 0; leaving it to GRADIO_MCP_SERVER", value)
    return None


def serve(app: ServedApp) -> None:
    """Load the zoo, start serving, then warm up the default clips (through the GPU function) while serving.

    The zoo loads before serving, not inside the first request: the full zoo takes minutes, which on ZeroGPU would
    count against a GPU call. A zoo that is not ready is reported by the requests."""
    if app.studio is not None:
        app.studio.preload()
    app.demo.queue(default_concurrency_limit=1, max_size=16).launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        # the results store, and nothing else beyond gradio's own
        allowed_paths=[str(app.studio.store.root)] if app.studio is not None else None,
        mcp_server=mcp_from_env(), prevent_thread_lock=True)
    if app.handlers is not None:  # after launch: on ZeroGPU a GPU call needs the server up
        threading.Thread(target=app.handlers.warm_up, daemon=True, name="precompute").start()
    app.demo.block_thread()
