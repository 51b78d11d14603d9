"""What the app does, without Gradio: pipelines loaded once and shared across subjects, per-stage caching so
a guidance toggle only re-runs the video, a results store on disk, per-clip metrics, fusion and flatmaps.
The UI (:mod:`neuroclips.ui.app`) only turns these results into components."""

from __future__ import annotations

import dataclasses
import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ..data import SOURCES, SubjectData, available_subjects, load_subject
from ..frames import FPS_GT, KEYFRAME_INDEX
from ..pipeline import GuidanceSettings, NeuroClipsPipeline
from ..results import ResultsStore, result_key
from ..zoo import get_zoo

RETRIEVAL_WAY = 300  # keyframe retrieval among the 300 clips of the clip's fold (spec §7.4)
DEFAULT_CLIPS = (42, 300, 700)


class ConfigError(ValueError):
    """A setting of the environment the app cannot serve with; the message names the variable and the fix."""


def defaults_from_env() -> dict:
    """``$NEUROCLIPS_STEPS`` (e.g. on a slow CPU host): fewer DDIM steps for the prior, unCLIP and the video."""
    steps = os.environ.get("NEUROCLIPS_STEPS", "").strip()
    if not steps:
        return {}
    try:
        n = int(steps)
    except ValueError:
        n = 0
    if n < 1 or n > 1000:
        raise ConfigError(f"NEUROCLIPS_STEPS={steps!r} is not a number of sampler steps: set it to a whole number "
                          "from 1 to 1000 (e.g. NEUROCLIPS_STEPS=4 on a slow CPU host), or unset it for the zoo's "
                          "defaults")
    return {"num_inference_steps": n, "keyframe_steps": n, "prior_steps": min(n, 20)}


def choose_zoo() -> str:
    """``$NEUROCLIPS_ZOO`` (a registered zoo: "mini" or "full") if set, else the mini zoo, the embedded default (the
    full zoo needs its weights downloaded and a GPU; missing weights are reported with the command that fetches
    them)."""
    from ..zoo import zoo_names

    env = os.environ.get("NEUROCLIPS_ZOO", "").strip() or "mini"
    try:
        return get_zoo(env).name
    except ValueError:
        raise ConfigError(f"NEUROCLIPS_ZOO={env!r} is not a model zoo: set it to one of {', '.join(zoo_names())} "
                          "(or unset it for the mini zoo)") from None


def choose_data(zoo: str) -> tuple[str, str | None]:
    """(source, root): ``$NEUROCLIPS_DATA`` ("simulated" or "cc2017"; default: the data the zoo's reconstructors
    were trained on, cc2017 for the full zoo) with ``$NEUROCLIPS_CC2017_ROOT`` for cc2017."""
    trained_on = get_zoo(zoo).data_source
    source = os.environ.get("NEUROCLIPS_DATA", "").strip() or trained_on
    if source not in SOURCES:
        raise ConfigError(f"NEUROCLIPS_DATA={source!r} is not a data source: set it to one of {', '.join(SOURCES)} "
                          f"(or unset it for the {zoo} zoo's own, {trained_on})")
    root = os.environ.get("NEUROCLIPS_CC2017_ROOT", "").strip() if source == "cc2017" else None
    if source == "cc2017" and not root:
        raise ConfigError(f"the {zoo} zoo serves the cc2017 data, and NEUROCLIPS_CC2017_ROOT is not set: download the "
                          "gongzx/cc2017_dataset dataset repo (subj0N_*_fmri.pt, GT_*_3fps.pt, GT_*_caption.pt), set "
                          "NEUROCLIPS_CC2017_ROOT=<that folder> and run `python -m neuroclips convert-cc2017` once "
                          "(docs/space.md, step by step); or set NEUROCLIPS_DATA=simulated to serve the simulated "
                          "subjects")
    return source, root


class LRU(OrderedDict):
    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def put(self, key, value):
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)
        return value

    def fetch(self, key):
        if key in self:
            self.move_to_end(key)
            return self[key]
        return None


class Studio:
    """The app's state. Thread-safe: model calls are serialised by one lock (the UI's model events also share
    one queue slot, and the warm-up thread takes the same lock); cached results are read without it."""

    def __init__(self, zoo: str | None = None, results_root: str | os.PathLike | None = None,
                 defaults: dict | None = None):
        """``defaults``: :class:`GuidanceSettings` the UI does not expose (e.g. fewer steps on a slow host), over
        the zoo's defaults."""
        from ..paths import cache_dir

        # a registered name only: it becomes part of the results folder, which the app serves
        self.zoo = get_zoo(zoo).name if zoo is not None else choose_zoo()
        self.defaults = dict(defaults or {})
        self.default_settings = GuidanceSettings.from_dict({**get_zoo(self.zoo).defaults, **self.defaults})
        self.source, self.data_root = choose_data(self.zoo)
        self.subjects = available_subjects(self.source)
        self.store = ResultsStore(Path(results_root) if results_root else cache_dir() / "results" / self.zoo)
        self.lock = threading.RLock()
        self._pipes: dict[int, object] = {}
        self._data: dict[int, SubjectData] = {}
        self._conditions = LRU(32)
        self._retrieval = LRU(6)
        self._figures = LRU(6)

    # ------------------------------------------------------------------------------------------------ loading
    def data(self, subject: int) -> SubjectData:
        subject = int(subject)
        if subject not in self._data:
            self._data[subject] = load_subject(self.source, subject, root=self.data_root)
        return self._data[subject]

    def pipeline(self, subject: int):
        """The subject's pipeline: the zoo is loaded once, each subject adds only its PR and SR."""
        subject = int(subject)
        if subject in self._pipes:  # no lock: a cached lookup must not wait for a running reconstruction
            return self._pipes[subject]
        with self.lock:
            if subject not in self._pipes:
                if not self._pipes:
                    self._pipes[subject] = NeuroClipsPipeline.from_pretrained(self.zoo, subject=subject)
                else:
                    self._pipes[subject] = next(iter(self._pipes.values())).for_subject(subject)
            return self._pipes[subject]

    def check_clip(self, subject: int, clip: int, n: int = 1) -> SubjectData:
        data = self.data(subject)
        total = data.num_clips("test")
        if not 0 <= int(clip) <= int(clip) + n - 1 < total:
            raise IndexError(f"test clip {int(clip)}{f' to {int(clip) + n - 1}' if n > 1 else ''} is out of range: "
                             f"subject {subject} has test clips 0 to {total - 1}")
        return data

    # ------------------------------------------------------------------------------------------------ browsing
    def search_clips(self, subject: int, query: str = "", limit: int = 48) -> list[tuple[int, str]]:
        """(clip, "index: caption [categories]") of test clips whose caption or categories contain every word."""
        data = self.data(subject)
        words = [w for w in query.lower().split() if w]
        out = []
        for i in range(data.num_clips("test")):
            text = f"{data.caption('test', i)} [{', '.join(data.categories('test', i))}]"
            if all(w in text.lower() or w == str(i) for w in words):
                out.append((i, f"{i}: {text}"))
                if len(out) >= limit:
                    break
        return out

    def thumbnail(self, subject: int, clip: int) -> np.ndarray:
        return self.data(subject).frames("test", int(clip))[KEYFRAME_INDEX]

    # ------------------------------------------------------------------------------------------------ reconstruct
    def settings(self, **guidance) -> GuidanceSettings:
        """The zoo's defaults, this host's and ``guidance`` (:class:`GuidanceSettings`' fields), resolved."""
        return self.default_settings.replace(**guidance).resolved()

    def key(self, subject: int, clip: int, settings: GuidanceSettings) -> str:
        return result_key(self.source, int(subject), int(clip), settings.key(), self.pipeline(subject).versions)

    def cached(self, subject: int, clip: int, seed: int | None = None, **guidance) -> dict | None:
        settings = self.settings(seed=seed, **guidance)
        return self.store.get(self.key(subject, clip, settings))

    def reconstruct(self, subject: int, clip: int, seed: int | None = None, progress=None, **guidance) -> dict:
        """The stored record of one reconstruction (computed now if new): files, caption, metrics, timings."""
        data = self.check_clip(subject, clip)
        pipe = self.pipeline(subject)
        settings = self.settings(seed=seed, **guidance)
        key = self.key(subject, clip, settings)
        record = self.store.get(key)
        if record is not None:
            record["from_cache"] = True
            return record
        with self.lock:
            record = self.store.get(key)  # computed by another request while this one waited
            if record is not None:
                record["from_cache"] = True
                return record
            c = data.clip("test", int(clip), fps=max(data.frame_rates))
            # the stage cache: steps 2-4 depend only on the settings of their stages (GuidanceSettings.key)
            cond_key = (int(subject), int(clip), tuple(sorted(settings.key("keyframe").items())))
            conditions = self._conditions.fetch(cond_key)
            if conditions is None:
                if progress:
                    progress(0.1, desc="blurry video, keyframe and caption")
                conditions = self._conditions.put(cond_key, pipe.prepare_conditions(c.fmri, settings, all_stages=True))
                reused = False
            else:
                reused = True
            if progress:
                progress(0.5, desc="text-to-video")
            out = pipe.generate_video(conditions if not reused else dataclasses.replace(conditions, timings={}),
                                      settings, reference=c.frames, reference_caption=c.caption)
            if progress:
                progress(0.9, desc="metrics")
            metrics = self.metrics(subject, int(clip), out, data)
            info = {"source": self.source, "subject": int(subject), "clip": int(clip), "gt_caption": c.caption,
                    "gt_categories": list(c.categories), "reference_fps": max(data.frame_rates), "metrics": metrics,
                    "reused_stages": ["blurry", "keyframe", "caption"] if reused else []}
            record = self.store.put(key, lambda folder: _write_result(folder, out, info))
        record["from_cache"] = False
        return record

    def metrics(self, subject: int, clip: int, out, data: SubjectData) -> dict:
        """Final and blurry video vs GT at 3 FPS (SSIM, PSNR, CLIP-pcc), and the keyframe's retrieval rank."""
        from ..metrics import video_metrics

        pipe = self.pipeline(subject)
        gt = data.frames("test", clip, FPS_GT)

        def embed(frames):
            return pipe.embed_images(frames).cpu().numpy()

        result = {"final": video_metrics(out.video, gt, embed)}
        if out.blurry_video is not None:
            result["blurry"] = video_metrics(out.blurry_video, gt, embed)
        result["keyframe_retrieval"] = self.retrieval(subject, clip)
        return result

    def retrieval(self, subject: int, clip: int) -> dict:
        """Rank of the clip's GT keyframe among its fold's 300 by similarity to SR's clip_voxels (spec §7.4)."""
        from ..metrics import retrieval_rank

        data, pipe = self.data(subject), self.pipeline(subject)
        n = data.num_clips("test")
        if n < RETRIEVAL_WAY:
            return {}
        start = min(clip // RETRIEVAL_WAY * RETRIEVAL_WAY, n - RETRIEVAL_WAY)
        fold = self._retrieval.fetch((subject, start))
        if fold is None:
            idx = np.arange(start, start + RETRIEVAL_WAY)
            cv = pipe.clip_voxels(data.fmri("test", idx)).cpu().numpy()
            frames = np.stack([data.frames("test", int(i))[KEYFRAME_INDEX] for i in idx])
            tokens = pipe.image_tokens(frames).cpu().numpy()
            fold = self._retrieval.put((subject, start), (cv, tokens))
        rank = retrieval_rank(*fold, clip - start)
        return {"rank": rank, "n_way": RETRIEVAL_WAY, "fold_start": start}

    # ------------------------------------------------------------------------------------------------ fusion
    def long_video(self, subject: int, clip: int, n_clips: int = 3, fusion: str = "classifier", seed: int | None = None,
                   out_dir: str | os.PathLike | None = None) -> dict:
        """Multi-fMRI fusion of ``n_clips`` consecutive clips: the long mp4, per-pair decisions, keyframes."""
        from ..pipeline.export import write_mp4, write_png

        if not 2 <= int(n_clips) <= 3:
            raise ValueError(f"fusion chains 2 or 3 clips, got {n_clips}")
        data = self.check_clip(subject, clip, int(n_clips))
        pipe = self.pipeline(subject)
        idx = list(range(int(clip), int(clip) + int(n_clips)))
        settings = self.settings(seed=seed)
        key = result_key(self.source, int(subject), int(clip), {"fusion": fusion, "n_clips": int(n_clips), **settings.key()},
                         pipe.versions)
        record = self.store.get(key)
        if record is not None:
            return record
        with self.lock:
            record = self.store.get(key)
            if record is not None:
                return record
            long = pipe.fuse(data.fmri("test", idx), fusion=fusion, settings=settings)
            threshold = pipe.fusion_thresholds[fusion]
            pairs = [{"clips": [a, a + 1], "same_class": same, "score": score, "threshold": threshold,
                      "gt_categories": [list(data.categories("test", a)), list(data.categories("test", a + 1))]}
                     for a, same, score in zip(idx, long.fused, long.scores)]

            def write(folder: Path):
                from ..io import atomic_write_json

                files = {"video": write_mp4(long.video, folder / "long_video.mp4", long.fps).name}
                for i, c in zip(idx, long.clips):
                    files[f"keyframe_{i}"] = write_png(c.keyframe, folder / f"keyframe_{i}.png").name
                atomic_write_json(folder / ResultsStore.RECORD, {"subject": int(subject), "clips": idx, "fusion": fusion,
                                                                 "pairs": pairs, "captions": [c.caption for c in long.clips],
                                                                 "seconds": long.settings["seconds"], "files": files})

            return self.store.put(key, write)

    # ------------------------------------------------------------------------------------------------ brain
    def flatmaps(self, subject: int):
        """(plotly figure of PR vs SR first-layer voxel weights, per-area bar chart); cached per subject."""
        from ..flatmaps.export import subject_maps
        from ..paths import reconstructor_dir
        from ..flatmaps.plot import plot_flatmap
        from ..flatmaps.weights import plot_area_summary

        subject = int(subject)
        figs = self._figures.fetch(subject)
        if figs is None:
            data = self.data(subject)
            root = get_zoo(self.zoo).reconstructors_root()  # the zoo's PR/SR, as the pipeline loads them
            maps = subject_maps(data, {m: reconstructor_dir(subject, m, root) for m in ("perception", "semantics")})
            shown = {k: maps[k] for k in ("perception (ridge)", "semantics (ridge)") if k in maps}
            bars = {k: v for k, v in maps.items() if k in ("perception (ridge)", "semantics (ridge)", "GT perception",
                                                             "GT semantics")}
            figs = self._figures.put(subject, (plot_flatmap(shown, title=f"subject {subject}: first-layer voxel weights"),
                                               plot_area_summary(bars)))
        return figs

    # ------------------------------------------------------------------------------------------------ warm-up
    def preload(self) -> str | None:
        """Load the first subject's pipeline now. The full zoo takes minutes to read and convert, which must not
        happen inside a request (on ZeroGPU, inside a ``@spaces.GPU`` call's time). Returns the reason it could not
        load (missing weights, data), which requests then report too, or None."""
        import logging

        try:
            self.pipeline(self.subjects[0])
        except (FileNotFoundError, ValueError) as err:
            logging.getLogger(__name__).warning("the %s zoo is not ready: %s", self.zoo, err)
            return str(err)
        return None

    def precompute_defaults(self, subject: int | None = None, clips=DEFAULT_CLIPS, reconstruct=None) -> list[int]:
        """Reconstruct a few clips with the default settings (at start, in a background thread) through
        ``reconstruct(subject, clip, seed=0)`` (default :meth:`reconstruct`; the app passes its ``@spaces.GPU``
        function, so that on ZeroGPU the warm-up runs on a GPU slot too). Clips already stored are skipped.
        Returns the clips computed now."""
        subject = subject or (self.subjects[0] if self.subjects else None)
        if subject is None:
            return []
        import logging

        reconstruct = reconstruct or self.reconstruct
        done = []
        try:
            for clip in clips:
                if clip < self.data(subject).num_clips("test") and self.cached(subject, clip, seed=0) is None:
                    reconstruct(subject, clip, seed=0)
                    done.append(clip)
        except Exception:  # a background warm-up must not take the app down; requests report their own errors
            logging.getLogger(__name__).exception("precomputing the default clips failed")
        return done

    def about(self) -> dict:
        import torch

        pipe = next(iter(self._pipes.values()), None)
        return {"zoo": self.zoo, "zoo_description": get_zoo(self.zoo).description, "source": self.source, "subjects": self.subjects,
                "device": str(pipe.device) if pipe is not None else ("cuda" if torch.cuda.is_available() else "cpu"),
                "versions": dict(pipe.versions) if pipe is not None else {}, "results": str(self.store.root),
                "defaults": self.defaults}


def side_by_side(*videos: np.ndarray, gap: int = 2) -> np.ndarray:
    """Videos of equal length next to each other (resized to the first one's height), white gaps between."""
    from ..frames import resize_frames

    h = videos[0].shape[1]
    parts = []
    for k, v in enumerate(videos):
        v = resize_frames(np.asarray(v), h) if v.shape[1] != h else np.asarray(v)
        if k:
            parts.append(np.full((len(v), h, gap, 3), 255, np.uint8))
        parts.append(v)
    return np.concatenate(parts, axis=2)


def _write_result(folder: Path, out, info: dict) -> None:
    from ..io import atomic_write_json
    from ..pipeline.export import save_reconstruction, write_mp4

    videos = [v for v in (out.reference, out.blurry_video, out.video) if v is not None]
    if out.reference is not None and len(out.reference) != len(out.video):
        videos = [v for v in (out.blurry_video, out.video) if v is not None]
    panel = write_mp4(side_by_side(*videos), folder / "side_by_side.mp4", out.fps).name
    record = save_reconstruction(out, folder, info)
    record["files"]["side_by_side"] = panel
    atomic_write_json(folder / ResultsStore.RECORD, record)
