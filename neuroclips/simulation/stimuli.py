"""MiniCC: a deterministic generator of cc2017-like movie clips from bundled photographs and videos.

A *movie* is a continuous sequence of *shots* (3-12 s each, so cuts fall anywhere, including inside
2-s clips, like cc2017's cross-scene clips). A shot films one source with camera motion (static, pan,
zoom in/out) and sometimes a moving object. A *clip* is the 2-s window of one TR; it can be rendered at
any frame rate: 3 FPS (6 frames, the GT the metrics use) or 8 FPS (16 frames, for the final videos).
Everything is a pure function of the config and the clip index, so clips are random-access and never
need to be stored.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

from ..frames import CLIP_SECONDS, FPS_GT, KEYFRAME_INDEX
from .categories import CATEGORY_INDEX, CATEGORY_NAMES, OBJECT_CATEGORIES, SCENE_CATEGORIES
from .media import MEDIA, load_still, load_video, sprite_rgba

SPLITS = ("train", "test")


@dataclass(frozen=True)
class StimulusConfig:
    """Sizes default to cc2017's: 18 training and 5 test movies of 240 clips (spec §1.1)."""

    seed: int = 2017
    resolution: int = 64
    n_train_movies: int = 18
    n_test_movies: int = 5
    clips_per_movie: int = 240
    min_shot_seconds: float = 3.0
    max_shot_seconds: float = 12.0
    object_probability: float = 0.25
    test_only_probability: float = 0.15  # share of test shots from categories never seen in training
    canvas_factor: int = 3  # sources are resized to this many times the output resolution

    def n_movies(self, split: str) -> int:
        return {"train": self.n_train_movies, "test": self.n_test_movies}[_check_split(split)]

    def n_clips(self, split: str) -> int:
        return self.n_movies(split) * self.clips_per_movie

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ObjectTrack:
    category: str
    height: float  # fraction of the frame height
    y: float  # vertical centre, fraction of the frame
    x_start: float  # horizontal centre at the shot start / end, fraction of the frame
    x_end: float
    color: tuple[int, int, int]


@dataclass(frozen=True)
class Shot:
    start: float  # seconds from the movie start
    duration: float
    category: str
    source: str
    camera: str  # "static" | "pan" | "zoom in" | "zoom out"
    zoom: tuple[float, float]  # crop side / canvas short side, at the start and end of the shot
    center: tuple[tuple[float, float], tuple[float, float]]  # crop centre (x, y), canvas fraction
    video_offset: float  # seconds into a video source
    obj: ObjectTrack | None

    def progress(self, t: float) -> float:
        return min(max((t - self.start) / self.duration, 0.0), 1.0)

    def crop_box(self, t: float, width: int, height: int) -> tuple[float, float, float, float]:
        p = self.progress(t)
        side = min(width, height) * self.zoom[0] * (self.zoom[1] / self.zoom[0]) ** p
        cx = (self.center[0][0] + p * (self.center[1][0] - self.center[0][0])) * width
        cy = (self.center[0][1] + p * (self.center[1][1] - self.center[0][1])) * height
        return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)

    def object_x(self, t: float) -> float:
        p = self.progress(t)
        return self.obj.x_start + p * (self.obj.x_end - self.obj.x_start)

    def object_visible(self, t: float) -> bool:
        """At least half of the object is inside the frame."""
        return self.obj is not None and 0.0 <= self.object_x(t) <= 1.0

    def camera_phrase(self) -> str:
        if self.camera == "pan":
            dx = self.center[1][0] - self.center[0][0]
            dy = self.center[1][1] - self.center[0][1]
            direction = ("right" if dx > 0 else "left") if abs(dx) >= abs(dy) else ("down" if dy > 0 else "up")
            return f"the camera pans {direction}"
        if self.camera.startswith("zoom"):
            return "zooming " + self.camera.split()[1]
        return ""


@dataclass(frozen=True)
class ClipInfo:
    """What the generator knows about one clip: the labels and caption a dataset would carry."""

    split: str
    index: int
    movie: int
    position: int  # clip index within its movie
    categories: tuple[str, ...]  # the keyframe's category first
    caption: str
    scene_cut: bool


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return split


def _source_size(source: str, short_side: int) -> tuple[int, int]:
    if MEDIA[source].kind == "video":
        frames, _ = load_video(source, short_side)
        return frames[0].size
    return load_still(source, short_side).size


def _plan_camera(rng: np.random.Generator, duration: float, aspect: float):
    """Crop zoom and centre path that stay inside a canvas of the given aspect (width / height)."""
    camera = rng.choice(["static", "pan", "pan", "zoom in", "zoom out"])
    if camera == "zoom in":
        zoom = (float(rng.uniform(0.8, 1.0)), float(rng.uniform(0.45, 0.6)))
    elif camera == "zoom out":
        zoom = (float(rng.uniform(0.45, 0.6)), float(rng.uniform(0.8, 1.0)))
    else:
        z = float(rng.uniform(0.5, 0.8))
        zoom = (z, z)
    side = max(zoom)  # as a fraction of the short side (the height when aspect >= 1)
    half_x = side / (2 * max(aspect, 1.0)) if aspect >= 1 else side / 2
    half_y = side / 2 if aspect >= 1 else side * aspect / 2
    lo, hi = np.array([half_x, half_y]), np.array([1 - half_x, 1 - half_y])
    if camera == "pan":
        angle = rng.uniform(0, 2 * math.pi)
        speed = rng.uniform(0.03, 0.08)  # canvas fraction per second
        delta = np.array([math.cos(angle), math.sin(angle)]) * speed * duration
        delta = np.clip(delta, -(hi - lo), hi - lo)
        start_lo, start_hi = np.maximum(lo, lo - delta), np.minimum(hi, hi - delta)
        c0 = rng.uniform(start_lo, np.maximum(start_lo, start_hi))
        c1 = c0 + delta
    else:
        c0 = rng.uniform(lo, hi)
        c1 = c0
    return str(camera), zoom, (tuple(map(float, c0)), tuple(map(float, c1)))


@lru_cache(maxsize=64)
def movie_shots(config: StimulusConfig, split: str, movie: int) -> tuple[Shot, ...]:
    """The shot list of one movie, a pure function of (config, split, movie)."""
    if not 0 <= movie < config.n_movies(split):
        raise IndexError(f"{split} movie {movie} out of range [0, {config.n_movies(split)})")
    rng = np.random.default_rng([config.seed, SPLITS.index(split), movie])
    train_pool = [c for c in SCENE_CATEGORIES if not c.test_only]
    test_only = [c for c in SCENE_CATEGORIES if c.test_only]
    short = config.resolution * config.canvas_factor
    # Cover the movie plus a margin: the simulated BOLD of the last clips is sampled after the movie ends.
    total = config.clips_per_movie * CLIP_SECONDS + 2 * CLIP_SECONDS
    shots: list[Shot] = []
    t = 0.0
    previous = None
    while t < total:
        if split == "test" and test_only and rng.random() < config.test_only_probability:
            category = test_only[rng.integers(len(test_only))]
        else:
            category = train_pool[rng.integers(len(train_pool))]
        if category.name == previous:  # consecutive shots of one category would hide the cut
            continue
        previous = category.name
        source = category.sources[rng.integers(len(category.sources))]
        duration = float(rng.uniform(config.min_shot_seconds, config.max_shot_seconds))
        w, h = _source_size(source, short)
        camera, zoom, center = _plan_camera(rng, duration, w / h)
        video_offset = 0.0
        if MEDIA[source].kind == "video":
            frames, fps = load_video(source, short)
            video_offset = float(rng.uniform(0, len(frames) / fps))
        obj = None
        if OBJECT_CATEGORIES and rng.random() < config.object_probability:
            ocat = OBJECT_CATEGORIES[rng.integers(len(OBJECT_CATEGORIES))]
            height = float(rng.uniform(0.3, 0.45))
            leftward = rng.random() < 0.5
            span = (-0.7 * height, 1 + 0.7 * height)  # enter and leave fully outside the frame
            x0, x1 = (span[1], span[0]) if leftward else span
            color = tuple(int(v) for v in rng.integers(30, 200, size=3))
            obj = ObjectTrack(ocat.name, height, float(rng.uniform(0.45, 0.75)), x0, x1, color)
        shots.append(Shot(t, duration, category.name, source, camera, zoom, center, video_offset, obj))
        t += duration
    return tuple(shots)


class MovieRenderer:
    """Renders frames of the simulated movies at any time point."""

    def __init__(self, config: StimulusConfig):
        self.config = config
        self._short = config.resolution * config.canvas_factor

    def shot_at(self, split: str, movie: int, t: float) -> Shot:
        shots = movie_shots(self.config, split, movie)
        i = bisect.bisect_right([s.start for s in shots], t) - 1
        return shots[max(i, 0)]

    def _canvas(self, shot: Shot, t: float) -> Image.Image:
        if MEDIA[shot.source].kind == "video":
            frames, fps = load_video(shot.source, self._short)
            n = len(frames)
            k = int((shot.video_offset + (t - shot.start)) * fps) % (2 * n - 2)
            return frames[k if k < n else 2 * n - 2 - k]  # ping-pong through the short source video
        return load_still(shot.source, self._short)

    def render_frame(self, split: str, movie: int, t: float) -> np.ndarray:
        res = self.config.resolution
        shot = self.shot_at(split, movie, t)
        canvas = self._canvas(shot, t)
        frame = canvas.resize((res, res), Image.BILINEAR, box=shot.crop_box(t, *canvas.size))
        out = np.asarray(frame, dtype=np.uint8)
        if shot.object_visible(t):
            out = self._composite(out, shot, t)
        return out

    def _composite(self, frame: np.ndarray, shot: Shot, t: float) -> np.ndarray:
        res = self.config.resolution
        obj = shot.obj
        sprite = _sprite(obj.category, max(2, round(obj.height * res)), obj.color)
        if obj.x_end < obj.x_start:
            sprite = sprite[:, ::-1]  # face the direction of travel
        sh, sw = sprite.shape[:2]
        x0 = round(shot.object_x(t) * res - sw / 2)
        y0 = round(obj.y * res - sh / 2)
        fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + sw, res), min(y0 + sh, res)
        if fx1 <= fx0 or fy1 <= fy0:
            return frame
        patch = sprite[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
        out = frame.astype(np.float32) / 255.0
        a = patch[..., 3:4]
        out[fy0:fy1, fx0:fx1] = a * patch[..., :3] + (1 - a) * out[fy0:fy1, fx0:fx1]
        return np.round(out * 255).astype(np.uint8)

    def clip_times(self, index: int, fps: int) -> tuple[int, np.ndarray]:
        movie, position = divmod(index, self.config.clips_per_movie)
        n_frames = int(round(fps * CLIP_SECONDS))
        return movie, position * CLIP_SECONDS + np.arange(n_frames) / fps

    def render_clip(self, split: str, index: int, fps: int = 3) -> np.ndarray:
        """Frames of one clip, uint8 (n_frames, H, W, 3): 6 frames at 3 FPS, 16 at 8 FPS."""
        self._check_index(split, index)
        movie, times = self.clip_times(index, fps)
        return np.stack([self.render_frame(split, movie, float(t)) for t in times])

    def _check_index(self, split: str, index: int) -> None:
        n = self.config.n_clips(split)
        if not 0 <= index < n:
            raise IndexError(f"{split} clip {index} out of range [0, {n})")

    def clip_info(self, split: str, index: int) -> ClipInfo:
        self._check_index(split, index)
        movie, times = self.clip_times(index, FPS_GT)
        shots = [self.shot_at(split, movie, float(t)) for t in times]
        labels: list[str] = []
        counts: dict[str, int] = {}
        for k in [KEYFRAME_INDEX] + [k for k in range(len(times)) if k != KEYFRAME_INDEX]:
            names = [shots[k].category] + ([shots[k].obj.category] if shots[k].object_visible(times[k]) else [])
            for name in names:
                counts[name] = counts.get(name, 0) + 1
                if name not in labels:
                    labels.append(name)
        key = labels[0]
        rest = sorted(labels[1:], key=lambda n: (-counts[n], CATEGORY_INDEX[n]))
        return ClipInfo(
            split=split,
            index=index,
            movie=movie,
            position=index % self.config.clips_per_movie,
            categories=(key, *rest),
            caption=caption_of(shots[KEYFRAME_INDEX], float(times[KEYFRAME_INDEX])),
            scene_cut=len({id(s) for s in shots}) > 1,
        )

    def motion_features(self, split: str, index: int, fps: int = 8) -> np.ndarray:
        """Camera and object motion averaged over the clip, in frame units per second.

        Returns (image-motion vx, vy, zoom rate, object vx, object presence): image motion is opposite to
        the crop window's motion.
        """
        movie, times = self.clip_times(index, fps)
        feats = np.zeros((len(times), 5), np.float32)
        for k, t in enumerate(times):
            shot = self.shot_at(split, movie, float(t))
            canvas = self._canvas(shot, float(t))
            x0, y0, x1, y1 = shot.crop_box(float(t), *canvas.size)
            side = x1 - x0
            w, h = canvas.size
            vx = (shot.center[1][0] - shot.center[0][0]) * w / shot.duration / side
            vy = (shot.center[1][1] - shot.center[0][1]) * h / shot.duration / side
            zoom_rate = math.log(shot.zoom[1] / shot.zoom[0]) / shot.duration
            obj_vx, present = 0.0, 0.0
            if shot.object_visible(float(t)):
                obj_vx = (shot.obj.x_end - shot.obj.x_start) / shot.duration
                present = 1.0
            feats[k] = (-vx, -vy, -zoom_rate, obj_vx, present)
        return feats.mean(0)


def caption_of(shot: Shot, t: float) -> str:
    parts = [MEDIA[shot.source].phrase]
    if shot.object_visible(t):
        direction = "left" if shot.obj.x_end < shot.obj.x_start else "right"
        parts.append(f"with a {shot.obj.category} running to the {direction}")
    caption = " ".join(parts)
    camera = shot.camera_phrase()
    return f"{caption}, {camera}" if camera else caption


def caption_category(caption: str) -> str | None:
    """The scene category a caption names (by its source phrase), or None if it names none."""
    for category in SCENE_CATEGORIES:
        if any(MEDIA[s].phrase in caption for s in category.sources):
            return category.name
    return None


@lru_cache(maxsize=32)
def _sprite(category: str, height: int, color: tuple[int, int, int]) -> np.ndarray:
    from .categories import CATEGORIES

    source = next(c for c in CATEGORIES if c.name == category).sources[0]
    return sprite_rgba(source, height, color)


def category_fractions(renderer: MovieRenderer, split: str, index: int, fps: int = 8) -> np.ndarray:
    """Share of the clip's frames showing each category (scene or visible object)."""
    movie, times = renderer.clip_times(index, fps)
    out = np.zeros(len(CATEGORY_NAMES), np.float32)
    for t in times:
        shot = renderer.shot_at(split, movie, float(t))
        out[CATEGORY_INDEX[shot.category]] += 1
        if shot.object_visible(float(t)):
            out[CATEGORY_INDEX[shot.obj.category]] += 1
    return out / len(times)
