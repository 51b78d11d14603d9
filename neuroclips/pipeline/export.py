"""Writing reconstructions: browser-playable H.264 mp4s (PyAV), the keyframe PNG, the caption and a JSON of
settings, timings and model versions. Every file is written to a temporary name and moved into place."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..io import atomic_path, atomic_write_json


def write_mp4(frames: np.ndarray, path: str | os.PathLike, fps: int, min_size: int = 256) -> Path:
    """uint8 (F, H, W, 3) -> H.264 mp4 (yuv420p, playable in browsers). Frames smaller than ``min_size`` are
    upscaled by an integer factor with nearest neighbours so small videos stay crisp in a player."""
    import av

    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or not len(frames):
        raise ValueError(f"frames must be uint8 (F, H, W, 3) with F >= 1, got {frames.dtype} {frames.shape}")
    factor = max(1, -(-min_size // min(frames.shape[1:3])))
    if factor > 1:
        frames = frames.repeat(factor, axis=1).repeat(factor, axis=2)
    h, w = frames.shape[1] // 2 * 2, frames.shape[2] // 2 * 2  # yuv420p needs even sizes
    path = Path(path)
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=int(fps))
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            stream.options = {"crf": "18", "preset": "veryfast", "movflags": "+faststart"}
            for f in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f[:h, :w]), format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    return path


def read_mp4(path: str | os.PathLike) -> tuple[np.ndarray, float]:
    """(frames uint8 (F, H, W, 3), fps) of a video file."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
        return frames, float(stream.average_rate)


def write_png(image: np.ndarray, path: str | os.PathLike) -> Path:
    from PIL import Image

    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(np.asarray(image)).save(tmp, format="PNG")
    return path


def save_reconstruction(output, out_dir: str | os.PathLike, info: dict | None = None, prefix: str = "") -> dict:
    """Write one :class:`~neuroclips.pipeline.NeuroClipsOutput`: ``video.mp4`` (8 FPS), ``blurry.mp4`` (the 16
    interpolated frames α used), ``reference.mp4`` (GT), ``keyframe.png``, ``control_frame.png``, ``caption.txt``
    and ``reconstruction.json``. Returns the JSON's content."""
    from . import FPS_VIDEO

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"video": write_mp4(output.video, out / f"{prefix}video.mp4", output.fps).name}
    if output.blurry_video is not None:
        files["blurry_video"] = write_mp4(output.blurry_video, out / f"{prefix}blurry.mp4", FPS_VIDEO).name
    if output.reference is not None:
        ref_fps = (info or {}).get("reference_fps", FPS_VIDEO)
        files["reference"] = write_mp4(output.reference, out / f"{prefix}reference.mp4", ref_fps).name
    if output.keyframe is not None:
        files["keyframe"] = write_png(output.keyframe, out / f"{prefix}keyframe.png").name
    if output.control_frame is not None and output.settings.get("control_frame_given"):
        files["control_frame"] = write_png(output.control_frame, out / f"{prefix}control_frame.png").name
    if output.caption is not None:
        with atomic_path(out / f"{prefix}caption.txt") as tmp:
            tmp.write_text(output.caption + "\n")
        files["caption"] = f"{prefix}caption.txt"
    record = {**(info or {}), "caption": output.caption, "prompt": output.prompt, "fps": output.fps,
              "frames": int(len(output.video)), "timings_seconds": output.timings, "settings": output.settings,
              "files": files}
    atomic_write_json(out / f"{prefix}reconstruction.json", record)
    return record
