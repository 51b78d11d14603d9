"""Inference latency of the zoo's generative stages on one test clip: keyframe (unCLIP from CLIP tokens),
caption, and a 16-frame video with α, β and γ guidance, as the app runs them."""

from __future__ import annotations

import time

import numpy as np


def bench_zoo(world, root=None, repeats: int = 3, num_inference_steps: int = 25, threads: int | None = None,
              clip_index: int = 0) -> dict:
    """Median wall-clock seconds per stage over ``repeats`` runs (after one warm-up run)."""
    import torch

    from ..pipeline.prompts import video_prompt
    from ..frames import FPS_GT, FPS_VIDEO, KEYFRAME_INDEX
    from ..pipeline.stages import load_captioner, load_keyframe_pipeline, load_video_pipeline
    from ..simulation.stimuli import MovieRenderer
    from ..zoo.mini import load_clip, load_vae
    from ..zoo.clip import image_tokens, pixel_values
    from .gates import blur_video

    if threads:
        torch.set_num_threads(threads)
    t0 = time.perf_counter()
    vae, clip = load_vae(root), load_clip(root)
    keyframe_pipe = load_keyframe_pipeline(root, vae=vae)
    captioner = load_captioner(root)
    video_pipe = load_video_pipeline(root, vae=vae, clip=clip)
    load_s = time.perf_counter() - t0
    r = MovieRenderer(world.stimuli)
    gt = r.render_clip("test", clip_index, FPS_GT)[KEYFRAME_INDEX][None]
    blurry = blur_video(r.render_clip("test", clip_index, FPS_VIDEO), 4.0)
    with torch.no_grad():
        tokens = image_tokens(clip.vision_model, pixel_values(gt, clip.config.vision_config.image_size))

    times: dict[str, list[float]] = {"keyframe": [], "caption": [], "video": [], "total": []}
    for run in range(repeats + 1):
        g = torch.Generator().manual_seed(run)
        t = [time.perf_counter()]
        keyframe = keyframe_pipe(tokens, num_inference_steps=num_inference_steps, generator=g).images[0]
        t.append(time.perf_counter())
        caption = captioner(keyframe[None])[0]
        t.append(time.perf_counter())
        video_pipe(video_prompt(caption), keyframe=keyframe, blurry_video=blurry,
                   num_inference_steps=num_inference_steps, generator=g)
        t.append(time.perf_counter())
        if run == 0:
            continue  # warm-up
        for name, a, b in (("keyframe", 0, 1), ("caption", 1, 2), ("video", 2, 3), ("total", 0, 3)):
            times[name].append(t[b] - t[a])
    return {"zoo": "mini", "device": "cpu", "threads": torch.get_num_threads(), "num_inference_steps": num_inference_steps,
            "repeats": repeats, "load_seconds": round(load_s, 2),
            **{f"{k}_seconds": round(float(np.median(v)), 3) for k, v in times.items()}, "last_caption": caption}
