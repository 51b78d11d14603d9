"""NeuroClips Studio, the Gradio Blocks app: Reconstruct, Long video, Brain and About tabs.

Handlers turn :class:`~neuroclips.ui.studio.Studio` results into components and every failure into a
``gr.Error`` with a plain message. ``@spaces.GPU`` wraps the GPU work (a no-op off ZeroGPU).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import gradio as gr

from ..data import DataError
from ..pipeline import GuidanceSettings
from ..pipeline.settings import FUSION_METHODS
from .studio import DEFAULT_CLIPS, Studio

try:  # `spaces` must be imported after gradio (its circular-import guard)
    import spaces

    # one clip of the full zoo: ~10-22 s estimated (docs/benchmarks.md); app.py loads the zoo before serving
    gpu = spaces.GPU(duration=120)
except ImportError:  # pragma: no cover - spaces is in requirements.txt
    def gpu(fn):
        return fn

USER_ERRORS = (DataError, IndexError, ValueError, KeyError, FileNotFoundError)
MODEL_QUEUE = "model"  # all events that run models share one slot of the queue


def _number(value, what: str) -> int:
    if value is None or value == "":
        raise gr.Error(f"enter a {what}")
    return int(value)

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

    @gpu
    def reconstruct(subject, clip, use_blurry, alpha_mode, alpha_strength, use_keyframe, beta_scale, use_caption,
                    caption_source, seed, progress=gr.Progress()):
        """Reconstruct one test clip; returns the side-by-side video (GT | blurry | final), the final, blurry and GT
        videos, the keyframe, its caption, metrics and timings."""
        try:
            record = studio.reconstruct(_number(subject, "subject"), _number(clip, "clip number"),
                                        seed=_number(seed, "seed"), progress=progress,
                                        use_blurry=bool(use_blurry), alpha_mode=alpha_mode,
                                        alpha_strength=float(alpha_strength), use_keyframe=bool(use_keyframe),
                                        controlnet_conditioning_scale=float(beta_scale), use_caption=bool(use_caption),
                                        caption_source=caption_source)
        except USER_ERRORS as err:
            raise gr.Error(str(err)) from None
        f = record["files"]
        caption = (f"**Caption (γ):** {record['caption']}" if record.get("caption") else "**Caption (γ):** off")
        caption += f"  \n**Prompt:** {record['prompt']}  \n**GT caption:** {record.get('gt_caption', '')}"
        return (f.get("side_by_side"), f.get("video"), f.get("blurry_video"), f.get("reference"), f.get("keyframe"),
                caption, metrics_markdown(record), timings_markdown(record))

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

    @gpu
    def long_video(subject, clip, n_clips, fusion, seed):
        """Multi-fMRI fusion of 2-3 consecutive clips: the long video and each pair's fusion decision."""
        try:
            record = studio.long_video(_number(subject, "subject"), _number(clip, "clip number"),
                                       _number(n_clips, "number of clips"), fusion, _number(seed, "seed"))
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

    def brain(subject):
        try:
            return studio.flatmaps(int(subject))
        except USER_ERRORS as err:
            raise gr.Error(str(err)) from None

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
                           long_video=long_video, brain=brain, about=about)


def build_demo(studio: Studio | None = None) -> gr.Blocks:
    studio = studio or Studio()
    subjects = studio.subjects
    h = make_handlers(studio)

    def subject_choices():
        return [(f"Subject {s} ({studio.source})", s) for s in subjects]

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
                    subject = gr.Dropdown(subject_choices(), value=subjects[0], label="Subject")
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
                    alpha_strength = gr.Slider(0.05, G.range("alpha_strength")[1], value=d.alpha_strength, step=0.05,
                                               label="α strength (ϑ / SDEdit)")
                    use_keyframe = gr.Checkbox(d.use_keyframe, label="β: keyframe (SparseCtrl)")
                    beta_scale = gr.Slider(*G.range("controlnet_conditioning_scale"), value=d.controlnet_conditioning_scale,
                                           step=0.1, label="β scale")
                    use_caption = gr.Checkbox(d.caption_on, label="γ: caption")
                    caption_source = gr.Radio(G.choices("caption_source"), value=d.caption_source,
                                              label="γ caption source")
                    seed = gr.Number(value=0, precision=0, minimum=0, maximum=2**31 - 1, label="Seed")
                    button = gr.Button("Reconstruct", variant="primary")
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
            for control in (use_blurry, alpha_mode, use_keyframe, use_caption, caption_source):
                control.change(h.reconstruct, inputs, outputs, api_visibility="private", concurrency_limit=1,
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
        with gr.Tab("Long video"):
            gr.Markdown("**Multi-fMRI fusion** (paper §3.4): consecutive clips whose keyframes look alike are chained, "
                        "the next clip starting from the previous video's last frame.")
            with gr.Row():
                l_subject = gr.Dropdown(subject_choices(), value=subjects[0], label="Subject")
                l_clip = gr.Number(value=DEFAULT_CLIPS[0], precision=0, minimum=0, maximum=n_clips - 1, label="First clip")
                l_n = gr.Radio([2, 3], value=3, label="Clips")
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
            b_subject = gr.Dropdown(subject_choices(), value=subjects[0], label="Subject")
            b_plot = gr.Plot(label="Voxel weights", elem_id="flatmap")
            b_bars = gr.Plot(label="Per visual area")
            b_subject.change(h.brain, [b_subject], [b_plot, b_bars], api_name="flatmaps")
            brain_tab.select(h.brain, [b_subject], [b_plot, b_bars], api_visibility="private")
        with gr.Tab("About") as about_tab:
            about_md = gr.Markdown()
            about_tab.select(h.about, None, [about_md], api_visibility="private")
        demo.load(h.show_clip, [subject, clip], [thumb, clip_info], api_visibility="private")
    return demo
