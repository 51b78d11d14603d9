"""A data browser that stands in for the app until the reconstruction pipeline lands.

It already serves what the foundation provides: the simulated subjects, their test clips (GT frames,
caption, categories) and the fMRI sample paired with each clip.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..data import DataError, SubjectData, available_simulated_subjects, load_subject

NOTICE = (
    "**NeuroClips Studio** — the reconstruction app (blurry video, keyframe, caption, final video with "
    "α/β/γ guidance) is being built. Until then this page browses the simulated cc2017 world it will run on."
)


@lru_cache(maxsize=8)
def _subject(n: int) -> SubjectData:
    return load_subject("simulated", n)


def browse_clip(subject: int, clip: int):
    """GT frames, caption, categories and fMRI summary of one simulated test clip."""
    import gradio as gr

    try:
        data = _subject(int(subject))
        c = data.clip("test", int(clip))
    except (DataError, IndexError, ValueError) as err:
        raise gr.Error(str(err)) from None
    strip = np.concatenate(list(c.frames), axis=1)
    info = (f"**{c.caption}**  \ncategories: {', '.join(c.categories)}  \n"
            f"movie {c.movie}, clip {c.position} of the movie  \n"
            f"fMRI: {c.fmri.shape[0]} voxels, mean of {data.repetitions('test')} repetitions, "
            f"mean {c.fmri.mean():+.3f}, sd {c.fmri.std():.3f}")
    return strip, info


def warm_up() -> None:
    """Prepare the first subject's test fMRI in a background thread (seconds on a cold cache)."""
    import threading

    subjects = available_simulated_subjects()
    if subjects:
        threading.Thread(target=lambda: _subject(subjects[0]).fmri("test", 0), daemon=True).start()


def build_demo():
    import gradio as gr

    subjects = available_simulated_subjects()
    with gr.Blocks(title="NeuroClips Studio") as demo:
        gr.Markdown(NOTICE)
        if not subjects:
            gr.Markdown("No simulated world found: run `python -m neuroclips build-demo-data`.")
            return demo
        with gr.Row():
            subject = gr.Dropdown([(f"Subject {s} (simulated)", s) for s in subjects], value=subjects[0],
                                  label="Subject")
            clip = gr.Number(value=0, precision=0, minimum=0, maximum=_subject(subjects[0]).num_clips("test") - 1,
                             label="Test clip")
            button = gr.Button("Show clip", variant="primary")
        frames = gr.Image(label="GT frames (3 FPS)", type="numpy")
        info = gr.Markdown()
        button.click(browse_clip, [subject, clip], [frames, info], api_name="browse_clip")
        demo.load(browse_clip, [subject, clip], [frames, info])
    return demo
