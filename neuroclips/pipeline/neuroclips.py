"""NeuroClipsPipeline: fMRI -> blurry video, keyframe, caption -> final video (spec §0.1, §2.6, §4, §5, §6).

One pipeline for every model zoo (:mod:`neuroclips.zoo.registry`). Each stage is a public method; ``__call__``
runs them as numbered steps with one :class:`~neuroclips.pipeline.settings.GuidanceSettings`. Each stage draws from
its own generator, seeded from the settings' seed, so switching one guidance off (an ablation) leaves every other
stage's output unchanged.
"""

from __future__ import annotations

import contextlib
import inspect
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from diffusers import DiffusionPipeline
from diffusers.utils import BaseOutput

from ..frames import FPS_VIDEO, VIDEO_FRAMES, resize_frames, to_uint8
from ..noise import randint
from .prompts import GENERIC_PROMPT, video_prompt
from .settings import FUSION_METHODS, NULLABLE_SETTINGS, GuidanceSettings, stage_generators
from .video import interpolate_frames

# the revision of the code that determines a reconstruction, written into ``versions`` (and so into every results
# key): bump it when a fix changes outputs, so that caches never serve results of the code before the fix
# (2: the mini zoo's text encoder is the CLIP text tower, not a random one)
PIPELINE_REVISION = "2"
# how the zoo's unCLIP is sampled (``__init__``'s arguments of the same names; not user settings)
SAMPLER_CONFIG = ("keyframe_colour_mapping", "keyframe_offset_noise", "keyframe_discretization")


@dataclass
class NeuroClipsOutput(BaseOutput):
    """One reconstructed clip. Videos are uint8 (F, H, W, 3). ``blurry_frames``: PR's 6 frames at 3 FPS;
    ``blurry_video``: those interpolated to 16 frames at the video's size (α's input); ``keyframe`` is the
    Semantics Reconstructor's, ``control_frame`` what SparseCtrl got at frame 0 (β; None when off);
    ``reference``: the GT video when one was given. Stages that were switched off are None. ``settings``: the
    resolved :class:`GuidanceSettings` as a dict plus what ran (device, dtype, versions); ``guidance``: the
    settings themselves."""

    video: np.ndarray
    fps: int
    blurry_frames: np.ndarray | None
    blurry_video: np.ndarray | None
    keyframe: np.ndarray | None
    control_frame: np.ndarray | None
    caption: str | None
    prompt: str
    reference: np.ndarray | None
    timings: dict[str, float]
    settings: dict
    guidance: GuidanceSettings | None = None


@dataclass
class StageConditions(BaseOutput):
    """What steps 2-4 give the video model: the blurry frames (6 at 3 FPS) and video (16, α), the keyframe (β) and
    its caption (γ); stages that did not run are None. ``timings``: seconds per stage that ran."""

    blurry_frames: np.ndarray | None = None
    blurry_video: np.ndarray | None = None
    keyframe: np.ndarray | None = None
    caption: str | None = None
    timings: dict = field(default_factory=dict)


@dataclass
class LongVideoOutput(BaseOutput):
    """Multi-fMRI fusion (spec §6): ``video`` is the clips' videos back to back; ``fused[k]`` says whether clip
    k+1 took clip k's last frame as its keyframe, ``scores[k]`` the similarity that decided it."""

    video: np.ndarray
    fps: int
    clips: list[NeuroClipsOutput]
    fused: list[bool]
    scores: list[float]
    settings: dict = field(default_factory=dict)


class NeuroClipsPipeline(DiffusionPipeline):
    """NeuroClips' inference (spec §0.1).

    Components: ``perception`` (PR), ``semantics`` (SR with its diffusion prior), ``blurry_vae`` (decodes PR's
    latents), ``keyframe_unet``/``keyframe_scheduler``/``keyframe_vae`` (unCLIP), ``caption_model``/
    ``caption_processor`` (BLIP-2), ``vae``/``text_encoder``/``tokenizer``/``unet`` (AnimateDiff ``UNetMotionModel``)
    /``controlnet`` (SparseCtrl RGB)/``scheduler`` (the video model), ``image_encoder`` (CLIP image embeddings)
    and ``fusion_classifier`` (multi-fMRI fusion). In the mini zoo the three VAEs are one model.
    """

    _optional_components = ["image_encoder", "fusion_classifier"]
    model_cpu_offload_seq = ("perception->blurry_vae->semantics->keyframe_unet->keyframe_vae->caption_model->"
                             "text_encoder->controlnet->unet->vae->image_encoder")
    # what each stage runs: with stage offload (:meth:`enable_stage_offload`) only these sit on the GPU at a time
    STAGE_COMPONENTS = {"blurry": ("perception", "blurry_vae"), "keyframe": ("semantics", "keyframe_unet", "keyframe_vae"),
                        "caption": ("caption_model",), "video": ("text_encoder", "unet", "controlnet", "vae"),
                        "embed": ("image_encoder",), "fusion": ("fusion_classifier",)}

    def __init__(self, perception, semantics, blurry_vae, keyframe_unet, keyframe_scheduler, keyframe_vae, caption_model,
                 caption_processor, vae, text_encoder, tokenizer, unet, controlnet, scheduler, image_encoder=None,
                 fusion_classifier=None, keyframe_colour_mapping: str = "symmetric", keyframe_offset_noise: float = 0.0,
                 keyframe_discretization: str = "scheduler", guidance_defaults: dict | None = None):
        super().__init__()
        self.register_modules(perception=perception, semantics=semantics, blurry_vae=blurry_vae,
                              keyframe_unet=keyframe_unet, keyframe_scheduler=keyframe_scheduler, keyframe_vae=keyframe_vae,
                              caption_model=caption_model, caption_processor=caption_processor, vae=vae,
                              text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, controlnet=controlnet,
                              scheduler=scheduler, image_encoder=image_encoder, fusion_classifier=fusion_classifier)
        # how the zoo's unCLIP is sampled (the full zoo's unclip6 follows sgm, spec §4.2), and the zoo's overrides of
        # GuidanceSettings' defaults (the reference's): checked now, saved with the pipeline
        GuidanceSettings.from_dict(dict(guidance_defaults or {}))
        self.register_to_config(keyframe_colour_mapping=keyframe_colour_mapping,
                                keyframe_offset_noise=keyframe_offset_noise,
                                keyframe_discretization=keyframe_discretization,
                                guidance_defaults=dict(guidance_defaults or {}))
        self.versions: dict[str, str] = {}
        self.reconstructors_root: Path | None = None  # where for_subject() finds other subjects' PR/SR

    # ------------------------------------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path = "mini", subject: int | None = 1,
                        reconstructors: str | Path | None = None, zoo_root: str | Path | None = None,
                        dtype: torch.dtype | None = None, device: str | torch.device | None = None, **kwargs):
        """A registered zoo's name (``"mini"``, ``"full"``; :func:`~neuroclips.zoo.zoo_names`): assemble that zoo
        plus the PR/SR checkpoints of ``subject`` (the zoo's, or ``reconstructors/sub-0N/{perception,semantics}``).
        A folder written by :meth:`save_pretrained` loads the diffusers way. Device and dtype default to the host's:
        CUDA fp16, else CPU fp32."""
        from ..zoo import get_zoo, is_zoo

        device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        dtype = dtype or kwargs.pop("torch_dtype", None) or (torch.float16 if device.type == "cuda" else torch.float32)
        name = str(pretrained_model_name_or_path)
        if not is_zoo(name) and not Path(name).exists() and name.count("/") != 1:  # neither a folder nor a Hub repo
            get_zoo(name)  # raises: unknown model zoo, with the registered names
        if not is_zoo(name):
            pipe = super().from_pretrained(pretrained_model_name_or_path, dtype=dtype, **kwargs)
            pipe.versions = {"pipeline": name, "code": PIPELINE_REVISION}
            return pipe.to(device)
        zoo = get_zoo(name)
        # a zoo whose loader takes the device (the full zoo) places each component as it is loaded, so the host holds
        # one component at a time instead of the whole zoo (docs/benchmarks.md, "Loading: peak host memory")
        placed = {"device": device} if "device" in inspect.signature(zoo.load).parameters else {}
        components, versions = zoo.load(subject=subject, reconstructors=reconstructors, root=zoo_root, dtype=dtype,
                                        **placed)
        pipe = cls(**components, guidance_defaults=dict(zoo.defaults))
        pipe.set_progress_bar_config(disable=True)
        pipe.versions = {**versions, "code": PIPELINE_REVISION}
        pipe.reconstructors_root = Path(reconstructors) if reconstructors is not None else zoo.reconstructors_root(zoo_root)
        return pipe.to(device)

    def with_reconstructors(self, perception, semantics, versions: dict | None = None) -> NeuroClipsPipeline:
        """The same zoo components with another subject's PR and SR (nothing is copied or reloaded)."""
        comps = dict(self.components, perception=perception, semantics=semantics)
        pipe = type(self)(**comps, **{k: self.config[k] for k in SAMPLER_CONFIG},
                          guidance_defaults=dict(self.config.guidance_defaults))
        pipe.set_progress_bar_config(disable=True)
        pipe._offload_device = getattr(self, "_offload_device", None)
        pipe.versions = {**self.versions, **(versions or {})}
        pipe.reconstructors_root = self.reconstructors_root
        return pipe

    def for_subject(self, subject: int) -> NeuroClipsPipeline:
        """This pipeline with ``subject``'s PR and SR, loaded from the zoo's reconstructors folder in this pipeline's
        dtype and device (the zoo's components are shared, not reloaded)."""
        from ..zoo import load_reconstructors

        dtype = self.unet.dtype
        models, versions = load_reconstructors(int(subject), self.reconstructors_root, dtype=dtype)
        device = "cpu" if getattr(self, "_offload_device", None) is not None else self.unet.device
        return self.with_reconstructors(models["perception"].to(device), models["semantics"].to(device), versions)

    # ------------------------------------------------------------------------------------------------ settings
    @property
    def default_settings(self) -> GuidanceSettings:
        """:class:`GuidanceSettings` with this zoo's defaults (the reference's where the zoo sets none)."""
        return GuidanceSettings.from_dict(dict(self.config.guidance_defaults))

    def settings(self, settings: GuidanceSettings | None = None, **changes) -> GuidanceSettings:
        """``settings`` (default: :attr:`default_settings`) with ``changes``, validated. A change to None keeps the
        default of a setting that cannot be None (``keyframe_steps=None``: the zoo's)."""
        changes = {k: v for k, v in changes.items() if v is not None or k in NULLABLE_SETTINGS}
        return (settings if settings is not None else self.default_settings).replace(**changes)

    def _call_settings(self, method: str, settings: GuidanceSettings | None, guidance: dict) -> GuidanceSettings:
        try:
            return self.settings(settings, **guidance)
        except ValueError as err:
            if "unknown guidance settings" in str(err):  # a misspelt keyword, refused as Python refuses one
                raise TypeError(f"{type(self).__name__}.{method}() got {err}") from None
            raise

    @property
    def device(self) -> torch.device:
        """Where stages run: the offload device when stage offload is on, else where the components are."""
        offload = getattr(self, "_offload_device", None)
        return offload if offload is not None else super().device

    def enable_stage_offload(self, device: str | torch.device = "cuda") -> NeuroClipsPipeline:
        """Keep every component on the CPU and move a stage's components (:attr:`STAGE_COMPONENTS`) to ``device``
        only while that stage runs: the full zoo's largest stage is ~12 GB in fp16, the whole pipeline ~24 GB
        (docs/benchmarks.md). Coarser than diffusers' ``enable_model_cpu_offload``, which only follows ``forward``
        calls, whereas the stages also call methods such as the prior's sampler."""
        self.to("cpu")
        self._offload_device = torch.device(device)
        return self

    @contextlib.contextmanager
    def _stage(self, name: str):
        device = getattr(self, "_offload_device", None)
        modules = [m for m in (getattr(self, n, None) for n in self.STAGE_COMPONENTS[name]) if m is not None]
        if device is not None:
            for m in modules:
                m.to(device)
        try:
            yield
        finally:
            if device is not None:
                for m in modules:
                    m.to("cpu")
                if device.type == "cuda":
                    torch.cuda.empty_cache()

    @property
    def video_size(self) -> int:
        return self.unet.config.sample_size * 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def video_pipeline(self):
        """The video stage as a :class:`~neuroclips.pipeline.video.NeuroClipsVideoPipeline` on this pipeline's
        components (a view: nothing is copied)."""
        from .video import NeuroClipsVideoPipeline

        pipe = NeuroClipsVideoPipeline(vae=self.vae, text_encoder=self.text_encoder, tokenizer=self.tokenizer,
                                       unet=self.unet, motion_adapter=None, controlnet=self.controlnet,
                                       scheduler=self.scheduler)
        pipe.set_progress_bar_config(disable=True)
        return pipe

    @property
    def keyframe_pipeline(self):
        """The unCLIP stage as an :class:`~neuroclips.pipeline.unclip.UnCLIPKeyframePipeline` (a view)."""
        from .unclip import UnCLIPKeyframePipeline

        pipe = UnCLIPKeyframePipeline(unet=self.keyframe_unet, scheduler=self.keyframe_scheduler, vae=self.keyframe_vae,
                                      colour_mapping=self.config.keyframe_colour_mapping,
                                      offset_noise=self.config.keyframe_offset_noise,
                                      discretization=self.config.keyframe_discretization)
        pipe.set_progress_bar_config(disable=True)
        return pipe

    def _sync(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter()

    def check_inputs(self, fmri, control_frame: np.ndarray | None = None) -> torch.Tensor:
        """``fmri`` (n_voxels,) as a (1, n_voxels) float tensor, after checking it fits this subject's PR and SR."""
        n_voxels = self.perception.config.n_voxels
        if self.semantics.config.n_voxels != n_voxels:
            raise ValueError(f"PR expects {n_voxels} voxels but SR {self.semantics.config.n_voxels}: they belong to "
                             "different subjects")
        x = torch.as_tensor(np.asarray(fmri, np.float32))
        if x.ndim == 2 and x.shape[0] == 1:
            x = x[0]
        if x.ndim != 1:
            raise ValueError(f"fmri must be one sample of shape ({n_voxels},), got {tuple(x.shape)}")
        if x.shape[0] != n_voxels:
            raise ValueError(f"fMRI has {x.shape[0]} voxels; this subject's reconstructors expect {n_voxels}")
        if not torch.isfinite(x).all():
            raise ValueError("fMRI contains NaN or infinite values")
        if control_frame is not None and (control_frame.dtype != np.uint8 or control_frame.ndim != 3):
            raise ValueError(f"control_frame must be uint8 (H, W, 3), got {control_frame.dtype} {control_frame.shape}")
        return x[None]

    # ------------------------------------------------------------------------------------------------ stages
    @torch.no_grad()
    def reconstruct_blurry(self, fmri) -> np.ndarray:
        """PR -> latents (1, 6, 4, s, s) -> VAE decode -> uint8 (6, H, W, 3) at 3 FPS (spec §2.6)."""
        x = torch.as_tensor(fmri).reshape(1, -1)
        with self._stage("blurry"):
            latents = self.perception(x.to(self.device, self.perception.dtype)).latents[0]
            vae = self.blurry_vae
            return to_uint8(vae.decode(latents.to(vae.dtype) / vae.config.scaling_factor).sample)

    def blurry_to_video(self, frames: np.ndarray) -> np.ndarray:
        """6 blurry frames -> 16 at the video model's size (spec §5.2: resize, then pixel-space interpolation)."""
        return interpolate_frames(resize_frames(frames, self.video_size))

    @torch.no_grad()
    def reconstruct_keyframe(self, fmri, settings: GuidanceSettings | None = None,
                             init_image: np.ndarray | None = None) -> np.ndarray:
        """SR -> clip_voxels -> prior (dalle2 DDIM) -> unCLIP -> uint8 (H, W, 3) (spec §4.1-4.2). ``settings``
        (default: the zoo's) give the steps, CFG, strength, unconditional tokens and seed; ``init_image`` starts
        unCLIP from that frame (the paper's variant)."""
        s = (settings or self.default_settings).resolved()
        gens = stage_generators(s.seed)
        x = torch.as_tensor(fmri).reshape(1, -1)
        with self._stage("keyframe"):
            clip_voxels = self.semantics(x.to(self.device, self.semantics.dtype)).clip_voxels
            tokens = self.semantics.sample_tokens(clip_voxels, s.prior_steps, generator=gens["prior"])
            pipe = self.keyframe_pipeline
            image = None
            if init_image is not None:  # the paper's variant: start unCLIP from the blurry video's first frame
                image = resize_frames(init_image[None], pipe.image_size)
            out = pipe(tokens.to(pipe.unet.dtype), num_inference_steps=s.keyframe_steps,
                       guidance_scale=s.keyframe_guidance_scale, generator=gens["keyframe"], image=image,
                       strength=s.keyframe_strength if init_image is not None else 1.0,
                       unconditional=s.keyframe_unconditional)
        return out.images[0]

    @torch.no_grad()
    def caption_keyframe(self, keyframe: np.ndarray) -> str:
        """BLIP-2 caption of the keyframe, as ``caption.py``: no prompt, greedy (spec §4.3)."""
        from .caption import Captioner

        with self._stage("caption"):
            return Captioner(self.caption_model, self.caption_processor)(keyframe[None])[0]

    @torch.no_grad()
    def embed_images(self, images: np.ndarray) -> torch.Tensor:
        """L2-normalised CLIP image embeddings (N, D) of uint8 (N, H, W, 3)."""
        from ..zoo.clip import pixel_values

        if self.image_encoder is None:
            raise ValueError("this pipeline has no image_encoder; fusion needs CLIP image embeddings")
        with self._stage("embed"):
            px = pixel_values(images, self.image_encoder.config.image_size).to(self.device, self.image_encoder.dtype)
            return torch.nn.functional.normalize(self.image_encoder(pixel_values=px).image_embeds.float(), dim=-1)

    @torch.no_grad()
    def image_tokens(self, images: np.ndarray) -> torch.Tensor:
        """The Semantics Reconstructor's target of uint8 (N, H, W, 3): patch tokens after the final LayerNorm, CLS
        dropped, not projected (spec §3.1), from either zoo's image encoder."""
        from ..zoo.clip import image_tokens, pixel_values

        if self.image_encoder is None:
            raise ValueError("this pipeline has no image_encoder")
        with self._stage("embed"):
            enc = self.image_encoder
            px = pixel_values(images, enc.config.image_size).to(self.device, enc.dtype)
            if hasattr(enc, "vision_model"):  # transformers CLIP (mini zoo)
                return image_tokens(enc.vision_model, px).float()
            return enc(px).image_tokens.float()  # open_clip bigG (full zoo)

    @torch.no_grad()
    def clip_voxels(self, fmri: torch.Tensor) -> torch.Tensor:
        """SR's clip_voxels (B, n_tokens, width) of fMRI (B, n_voxels), for retrieval."""
        with self._stage("keyframe"):
            return self.semantics(torch.as_tensor(fmri).to(self.device, self.semantics.dtype)).clip_voxels.float()

    @property
    def fusion_thresholds(self) -> dict[str, float]:
        """The score at or above which fusion calls two keyframes alike, per method."""
        from ..models.fusion import KeyframeSimilarityClassifier

        c = self.fusion_classifier.config if self.fusion_classifier is not None else None
        default = KeyframeSimilarityClassifier.DEFAULT_COSINE_THRESHOLD
        return {"classifier": c.threshold if c is not None else None,
                "cosine": c.cosine_threshold if c is not None else default}

    def same_class(self, keyframe_a: np.ndarray, keyframe_b: np.ndarray, method: str = "classifier") -> tuple[bool, float]:
        """Fusion's decision for two keyframes (spec §6): (same class?, score)."""
        if method not in FUSION_METHODS:
            raise ValueError(f"fusion method must be one of {list(FUSION_METHODS)}, got {method!r}")
        e = self.embed_images(np.stack([keyframe_a, keyframe_b]))
        if self.fusion_classifier is None:
            if method == "cosine":
                score = float((e[0] * e[1]).sum())
                return score >= self.fusion_thresholds["cosine"], score
            raise ValueError("this pipeline has no fusion_classifier; train one with `python -m neuroclips train-fusion`")
        with self._stage("fusion"):
            decision, score = self.fusion_classifier.same_class(e[:1].to(self.fusion_classifier.dtype),
                                                                e[1:].to(self.fusion_classifier.dtype), method)
        return bool(decision[0]), float(score[0])

    # ------------------------------------------------------------------------------------------------ call
    def __call__(self, fmri, reference: np.ndarray | None = None, *, settings: GuidanceSettings | None = None,
                 control_frame: np.ndarray | None = None, reference_caption: str | None = None,
                 generator: torch.Generator | None = None, **guidance) -> NeuroClipsOutput:
        """Reconstruct one clip from one fMRI sample (``fmri``: (n_voxels,)).

        ``guidance`` are :class:`GuidanceSettings`' fields, applied over ``settings`` (default: the zoo's). The
        paper's ablations are the switches ``use_blurry`` (α), ``use_keyframe`` (β) and ``use_caption`` (γ; None
        follows ``use_keyframe``: without a keyframe there is nothing to caption, and the prompt becomes "a smooth
        video"). ``alpha_mode``: ``code_parity`` (default), ``paper_eq5`` or ``sdedit`` with ``alpha_strength``.
        ``keyframe_init="blurry"`` starts unCLIP from the blurry first frame (the paper's variant) at
        ``keyframe_strength``. ``caption_source="ground truth"`` prompts with ``reference_caption`` instead of the
        keyframe's. ``control_frame`` replaces the keyframe as SparseCtrl's frame-0 condition (fusion passes the
        previous clip's last frame). ``seed`` (default: the reference's) or ``generator`` makes the call
        deterministic; the global RNG is never used.
        """
        s = self._call_settings("__call__", settings, guidance)
        if s.seed is None and generator is not None:
            s = s.replace(seed=int(randint(0, 2**62, (1,), generator)))
        # 1.-4. Check the inputs; blurry video (α), keyframe (β) and its caption (γ)
        conditions = self.prepare_conditions(fmri, s, keyframe_needed=control_frame is None, control_frame=control_frame)
        # 5. Text-to-video with α, β, γ
        return self.generate_video(conditions, s, control_frame, reference, reference_caption)

    def prepare_conditions(self, fmri, settings: GuidanceSettings | None = None, all_stages: bool = False,
                           keyframe_needed: bool = True, control_frame: np.ndarray | None = None) -> StageConditions:
        """Steps 1-4 of ``__call__``: check ``fmri``, then run the stages the guidance switches need (``all_stages``:
        the blurry video, keyframe and caption whatever the switches say, so that every variant can reuse them, as
        the app's stage cache and the evaluation do)."""
        s = (settings or self.default_settings).resolved()
        x = self.check_inputs(fmri, control_frame)
        if all_stages:
            s = s.replace(use_blurry=True, use_keyframe=True, use_caption=True)
        timings = {}
        blurry_frames = blurry_video = keyframe = caption = None
        make_keyframe = (s.use_keyframe and keyframe_needed) or s.keyframe_captioned
        # 2. Perception Reconstructor: blurry video (α), also needed to start unCLIP from the blurry frame
        if s.use_blurry or (s.keyframe_init == "blurry" and make_keyframe):
            t = self._sync()
            blurry_frames = self.reconstruct_blurry(x)
            blurry_video = self.blurry_to_video(blurry_frames)
            timings["blurry"] = self._sync() - t
        # 3. Semantics Reconstructor: keyframe (β), needed too when only its caption is used
        if make_keyframe:
            t = self._sync()
            keyframe = self.reconstruct_keyframe(x, s, blurry_frames[0] if s.keyframe_init == "blurry" else None)
            timings["keyframe"] = self._sync() - t
        # 4. Caption of the keyframe (γ; a GT caption comes with the call instead)
        if s.caption_on and (s.caption_source == "keyframe" or all_stages):
            t = self._sync()
            caption = self.caption_keyframe(keyframe)
            timings["caption"] = self._sync() - t
        return StageConditions(blurry_frames=blurry_frames, blurry_video=blurry_video, keyframe=keyframe,
                               caption=caption, timings=timings)

    def generate_video(self, conditions: StageConditions, settings: GuidanceSettings | None = None,
                       control_frame: np.ndarray | None = None, reference: np.ndarray | None = None,
                       reference_caption: str | None = None) -> NeuroClipsOutput:
        """Step 5 of ``__call__``: the final video from prepared conditions, with what ``settings`` switch on."""
        s, c = (settings or self.default_settings).resolved(), conditions
        timings = dict(c.timings)
        caption = None
        if s.caption_on:
            if s.caption_source == "ground truth":
                if not reference_caption:
                    raise ValueError("caption_source='ground truth' needs the clip's GT caption (reference_caption)")
                caption = reference_caption
            else:
                caption = c.caption
                if caption is None:
                    raise ValueError("the conditions have no caption: prepare them with use_caption on")
        prompt = video_prompt(caption) if s.caption_on else GENERIC_PROMPT
        size = self.video_size
        control = None
        if s.use_keyframe:
            frame = control_frame if control_frame is not None else c.keyframe
            if frame is None:
                raise ValueError("the conditions have no keyframe: prepare them with use_keyframe on")
            control = resize_frames(frame[None], size)[0]
        if s.use_blurry and c.blurry_video is None:
            raise ValueError("the conditions have no blurry video: prepare them with use_blurry on")
        blurry_video = c.blurry_video if s.use_blurry else None
        t = self._sync()
        with self._stage("video"):
            video = self.video_pipeline(prompt, s.negative_prompt, blurry_video=blurry_video, keyframe=control,
                                        num_frames=VIDEO_FRAMES, height=size, width=size,
                                        num_inference_steps=s.num_inference_steps, guidance_scale=s.guidance_scale,
                                        alpha_mode=s.alpha_mode, alpha_strength=s.alpha_strength,
                                        controlnet_conditioning_scale=s.controlnet_conditioning_scale,
                                        generator=stage_generators(s.seed)["video"])
        timings["video"] = self._sync() - t
        timings["total"] = sum(timings.values())
        record = {**s.to_dict(), "control_frame_given": control_frame is not None,
                  "video_controlnet_calls": video.controlnet_calls, "device": str(self.device),
                  "dtype": str(self.unet.dtype).replace("torch.", ""), "versions": dict(self.versions)}
        # stages that are off stay None even when the conditions were prepared for more (the app caches them)
        keyframe_used = s.use_keyframe or s.keyframe_captioned
        blurry_used = s.use_blurry or (s.keyframe_init == "blurry" and keyframe_used)
        return NeuroClipsOutput(video=video.frames, fps=FPS_VIDEO,
                                blurry_frames=c.blurry_frames if blurry_used else None, blurry_video=blurry_video,
                                keyframe=c.keyframe if keyframe_used else None, control_frame=control,
                                caption=caption, prompt=prompt, reference=reference,
                                timings={k: round(v, 4) for k, v in timings.items()}, settings=record, guidance=s)

    def fuse(self, fmri, references: list[np.ndarray | None] | None = None, fusion: str = "classifier",
             max_clips: int = 3, seed: int | None = None, settings: GuidanceSettings | None = None,
             reference_captions: list[str] | None = None, **guidance) -> LongVideoOutput:
        """Multi-fMRI fusion (spec §6): one continuous video of consecutive clips (``fmri``: (n, n_voxels), n ≤
        ``max_clips``). When two neighbouring keyframes are judged alike (``fusion``: "classifier" or "cosine"),
        the next clip's SparseCtrl keyframe is the previous video's last frame. ``guidance`` are
        :class:`GuidanceSettings`' fields over ``settings``; every clip gets the same seed, as the reference reseeds
        before each clip. ``reference_captions``: the clips' GT captions, for ``caption_source="ground truth"``."""
        fmri = np.asarray(fmri, np.float32)
        if fmri.ndim != 2 or not 1 <= len(fmri) <= max_clips:
            raise ValueError(f"fusion takes 1 to {max_clips} consecutive fMRI samples (n, n_voxels), got {fmri.shape}")
        if fusion not in FUSION_METHODS:
            raise ValueError(f"fusion method must be one of {list(FUSION_METHODS)}, got {fusion!r}")
        s = self._call_settings("fuse", settings, guidance if seed is None else {**guidance, "seed": seed}).resolved()
        if not s.use_keyframe:
            raise ValueError("fusion replaces the keyframe (β); it needs use_keyframe=True")
        references = references or [None] * len(fmri)
        captions = reference_captions or [None] * len(fmri)
        if len(references) != len(fmri) or len(captions) != len(fmri):
            raise ValueError(f"{len(references)} references and {len(captions)} captions for {len(fmri)} fMRI samples")
        clips, fused, scores = [], [], []
        for k, f in enumerate(fmri):
            conditions = self.prepare_conditions(f, s)
            control = None
            if k:
                same, score = self.same_class(clips[-1].keyframe, conditions.keyframe, fusion)
                fused.append(same)
                scores.append(round(score, 4))
                control = clips[-1].video[-1] if same else None
            clips.append(self.generate_video(conditions, s, control, references[k], captions[k]))
        video = np.concatenate([c.video for c in clips])
        return LongVideoOutput(video=video, fps=FPS_VIDEO, clips=clips, fused=fused, scores=scores,
                               settings={"fusion": fusion, "n_clips": len(clips), "seconds": len(video) / FPS_VIDEO,
                                         **s.to_dict()})
