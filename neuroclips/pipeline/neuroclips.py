"""NeuroClipsPipeline: fMRI -> blurry video, keyframe, caption -> final video (spec §0.1, §2.6, §4, §5, §6).

One pipeline for both model zoos. Stages are methods; ``__call__`` runs them as numbered steps. Each stage
draws from its own generator, seeded from the call's seed, so switching one guidance off (an ablation)
leaves every other stage's output unchanged.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from diffusers import DiffusionPipeline
from diffusers.utils import BaseOutput

from .prompts import GENERIC_PROMPT, NEGATIVE_PROMPT, video_prompt
from .video import ALPHA_MODES, interpolate_frames, resize_frames

FPS_BLURRY = 3  # PR decodes 6 frames per 2-s clip (spec §2.6)
FPS_VIDEO = 8  # 16 frames per clip, the paper's "8 FPS" (spec §5.5)
KEYFRAME_INITS = ("noise", "blurry")
FUSION_METHODS = ("classifier", "cosine")
REFERENCE_SEED = 12099779162349365895 % 2**63  # the reference seeds every clip with this (spec §5.2); torch takes < 2^63
# the pipeline's non-component settings, which a zoo chooses (``__init__``'s arguments of the same names)
ZOO_SETTINGS = ("keyframe_colour_mapping", "keyframe_offset_noise", "keyframe_discretization", "default_keyframe_steps",
                "default_keyframe_unconditional")
_STAGE_OFFSETS = {"perception": 0, "prior": 1, "keyframe": 2, "video": 3}


@dataclass
class NeuroClipsOutput(BaseOutput):
    """One reconstructed clip. Videos are uint8 (F, H, W, 3). ``blurry_frames``: PR's 6 frames at 3 FPS;
    ``blurry_video``: those interpolated to 16 frames at the video's size (α's input); ``keyframe`` is the
    Semantics Reconstructor's, ``control_frame`` what SparseCtrl got at frame 0 (β; None when off);
    ``reference``: the GT video when one was given. Stages that were switched off are None."""

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


def _stage_generators(seed: int | None, generator: torch.Generator | None) -> dict[str, torch.Generator]:
    if seed is None:
        seed = REFERENCE_SEED if generator is None else int(torch.randint(0, 2**62, (1,), generator=generator))
    return {name: torch.Generator().manual_seed((seed + k) % 2**63) for name, k in _STAGE_OFFSETS.items()}


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
                 keyframe_discretization: str = "scheduler", default_keyframe_steps: int = 25,
                 default_keyframe_unconditional: str = "zeros"):
        super().__init__()
        self.register_modules(perception=perception, semantics=semantics, blurry_vae=blurry_vae,
                              keyframe_unet=keyframe_unet, keyframe_scheduler=keyframe_scheduler, keyframe_vae=keyframe_vae,
                              caption_model=caption_model, caption_processor=caption_processor, vae=vae,
                              text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, controlnet=controlnet,
                              scheduler=scheduler, image_encoder=image_encoder, fusion_classifier=fusion_classifier)
        # how the zoo's unCLIP is sampled (the full zoo's unclip6 follows sgm, spec §4.2), and the keyframe settings a
        # call gets when it leaves them to the zoo: the mini UNet was trained with zero tokens, unclip6 is sampled
        # with noise tokens for 38 steps
        args = locals()
        self.register_to_config(**{k: args[k] for k in ZOO_SETTINGS})
        self.versions: dict[str, str] = {}

    # ------------------------------------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path = "mini", subject: int | None = 1,
                        reconstructors: str | Path | None = None, zoo_root: str | Path | None = None,
                        dtype: torch.dtype | None = None, device: str | torch.device | None = None, **kwargs):
        """``"mini"``/``"full"``: assemble from that model zoo plus the PR/SR checkpoints of ``subject`` (the
        shipped ones, or ``reconstructors/sub-0N/{perception,semantics}``). A folder written by
        :meth:`save_pretrained` loads the diffusers way. Device and dtype default to the host's: CUDA fp16, else
        CPU fp32."""
        device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        dtype = dtype or kwargs.pop("torch_dtype", None) or (torch.float16 if device.type == "cuda" else torch.float32)
        if str(pretrained_model_name_or_path) not in ("mini", "full"):
            pipe = super().from_pretrained(pretrained_model_name_or_path, dtype=dtype, **kwargs)
            pipe.versions = {"pipeline": str(pretrained_model_name_or_path)}
            return pipe.to(device)
        from ..zoo import assemble_pipeline_components

        components, versions = assemble_pipeline_components(str(pretrained_model_name_or_path), subject, reconstructors,
                                                            zoo_root, dtype)
        pipe = cls(**components)
        pipe.set_progress_bar_config(disable=True)
        pipe.versions = versions
        return pipe.to(device)

    def with_reconstructors(self, perception, semantics, versions: dict | None = None) -> NeuroClipsPipeline:
        """The same zoo components with another subject's PR and SR (nothing is copied or reloaded)."""
        comps = dict(self.components, perception=perception, semantics=semantics)
        pipe = type(self)(**comps, **self.zoo_settings)
        pipe.set_progress_bar_config(disable=True)
        pipe._offload_device = getattr(self, "_offload_device", None)
        pipe.versions = {**self.versions, **(versions or {})}
        return pipe

    # ------------------------------------------------------------------------------------------------ helpers
    @property
    def zoo_settings(self) -> dict:
        """The non-component settings the zoo registered (see ``__init__``)."""
        return {k: self.config[k] for k in ZOO_SETTINGS}

    def with_zoo_defaults(self, settings: dict) -> dict:
        """``settings`` with the keyframe settings left to the zoo (None) filled in."""
        s = dict(settings)
        if s.get("keyframe_steps") is None:
            s["keyframe_steps"] = self.config.default_keyframe_steps
        if s.get("keyframe_unconditional") is None:
            s["keyframe_unconditional"] = self.config.default_keyframe_unconditional
        return s

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

    def check_inputs(self, fmri, use_blurry, use_keyframe, alpha_mode, alpha_strength, keyframe_init, keyframe_strength,
                     control_frame, keyframe_unconditional: str = "zeros") -> torch.Tensor:
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
        if alpha_mode not in ALPHA_MODES:
            raise ValueError(f"alpha_mode must be one of {ALPHA_MODES}, got {alpha_mode!r}")
        if not 0.0 < alpha_strength <= 1.0:
            raise ValueError(f"alpha_strength must be in (0, 1], got {alpha_strength}")
        if keyframe_init not in KEYFRAME_INITS:
            raise ValueError(f"keyframe_init must be one of {KEYFRAME_INITS}, got {keyframe_init!r}")
        if not 0.0 < keyframe_strength <= 1.0:
            raise ValueError(f"keyframe_strength must be in (0, 1], got {keyframe_strength}")
        if keyframe_unconditional not in ("zeros", "noise"):
            raise ValueError(f"keyframe_unconditional must be 'zeros' or 'noise', got {keyframe_unconditional!r}")
        if control_frame is not None and (control_frame.dtype != np.uint8 or control_frame.ndim != 3):
            raise ValueError(f"control_frame must be uint8 (H, W, 3), got {control_frame.dtype} {control_frame.shape}")
        return x[None]

    # ------------------------------------------------------------------------------------------------ stages
    @torch.no_grad()
    def reconstruct_blurry(self, fmri: torch.Tensor) -> np.ndarray:
        """PR -> latents (1, 6, 4, s, s) -> VAE decode -> uint8 (6, H, W, 3) at 3 FPS (spec §2.6)."""
        with self._stage("blurry"):
            latents = self.perception(fmri.to(self.device, self.perception.dtype)).latents[0]
            vae = self.blurry_vae
            x = vae.decode(latents.to(vae.dtype) / vae.config.scaling_factor).sample
        return ((x.float() / 2 + 0.5).clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()

    def blurry_to_video(self, frames: np.ndarray) -> np.ndarray:
        """6 blurry frames -> 16 at the video model's size (spec §5.2: resize, then pixel-space interpolation)."""
        return interpolate_frames(resize_frames(frames, self.video_size))

    @torch.no_grad()
    def reconstruct_keyframe(self, fmri: torch.Tensor, prior_generator: torch.Generator, keyframe_generator: torch.Generator,
                             prior_steps: int = 20, keyframe_steps: int | None = None, keyframe_guidance_scale: float = 5.0,
                             init_image: np.ndarray | None = None, keyframe_strength: float = 1.0,
                             unconditional: str | None = None) -> np.ndarray:
        """SR -> clip_voxels -> prior (dalle2 DDIM) -> unCLIP -> uint8 (H, W, 3) (spec §4.1-4.2); steps and the
        unconditional tokens default to the zoo's."""
        keyframe_steps = keyframe_steps or self.config.default_keyframe_steps
        unconditional = unconditional or self.config.default_keyframe_unconditional
        with self._stage("keyframe"):
            clip_voxels = self.semantics(fmri.to(self.device, self.semantics.dtype)).clip_voxels
            tokens = self.semantics.sample_tokens(clip_voxels, prior_steps, generator=prior_generator)
            pipe = self.keyframe_pipeline
            image = None
            if init_image is not None:  # the paper's variant: start unCLIP from the blurry video's first frame
                image = resize_frames(init_image[None], pipe.image_size)
            out = pipe(tokens.to(pipe.unet.dtype), num_inference_steps=keyframe_steps,
                       guidance_scale=keyframe_guidance_scale, generator=keyframe_generator, image=image,
                       strength=keyframe_strength, unconditional=unconditional)
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
            raise ValueError(f"fusion method must be one of {FUSION_METHODS}, got {method!r}")
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
    def __call__(self, fmri, reference: np.ndarray | None = None, use_blurry: bool = True, use_keyframe: bool = True,
                 use_caption: bool | None = None, alpha_mode: str = "code_parity", alpha_strength: float = 0.3,
                 controlnet_conditioning_scale: float = 1.0, num_inference_steps: int = 25, guidance_scale: float = 8.5,
                 prior_steps: int = 20, keyframe_steps: int | None = None, keyframe_guidance_scale: float = 5.0,
                 keyframe_init: str = "noise", keyframe_strength: float = 0.8, keyframe_unconditional: str | None = None,
                 control_frame: np.ndarray | None = None,
                 negative_prompt: str = NEGATIVE_PROMPT, seed: int | None = None,
                 generator: torch.Generator | None = None) -> NeuroClipsOutput:
        """Reconstruct one clip from one fMRI sample (``fmri``: (n_voxels,)).

        Guidance switches (the paper's ablations): ``use_blurry`` (α), ``use_keyframe`` (β), ``use_caption`` (γ;
        None follows ``use_keyframe``: without a keyframe there is nothing to caption, and the prompt becomes
        "a smooth video"). ``alpha_mode``: ``code_parity`` (default), ``paper_eq5`` or ``sdedit`` with
        ``alpha_strength``. ``keyframe_init="blurry"`` starts unCLIP from the blurry first frame (the paper's
        variant) at ``keyframe_strength``. ``keyframe_unconditional``: unCLIP's CFG input, "zeros" (what the mini
        zoo was trained with) or "noise" (the reference's N(0, 1) tokens, spec §4.2); it and ``keyframe_steps`` default
        to the zoo's (mini: zeros, 25; full: noise, 38). ``control_frame`` replaces the keyframe as SparseCtrl's frame-0
        condition (fusion passes the previous clip's last frame). ``seed`` (default: the reference's) or
        ``generator`` makes the call deterministic; the global RNG is never used.
        """
        args = locals()
        settings = self.with_zoo_defaults(_resolve_settings({k: args[k] for k in _CALL_SETTINGS if k != "negative_prompt"},
                                                            seed))
        # 1. Check inputs and seed one generator per stage
        x = self.check_inputs(fmri, use_blurry, use_keyframe, alpha_mode, alpha_strength, keyframe_init,
                              keyframe_strength, control_frame, settings["keyframe_unconditional"])
        gens = _stage_generators(seed, generator)
        # 2.-4. Blurry video (α), keyframe (β) and caption (γ)
        conditions = self.prepare_conditions(x, gens, settings, keyframe_needed=control_frame is None)
        # 5. Text-to-video with α, β, γ
        return self.generate(conditions, gens, settings, control_frame, negative_prompt, reference)

    def conditions(self, fmri, settings: dict, gens: dict, all_stages: bool = False) -> dict:
        """Check ``fmri`` against resolved ``settings`` and run steps 2-4; ``all_stages`` runs the blurry video,
        keyframe and caption whatever the switches say, so that every variant can reuse them (app, evaluation)."""
        s = self.with_zoo_defaults(settings)
        x = self.check_inputs(fmri, s["use_blurry"], s["use_keyframe"], s["alpha_mode"], s["alpha_strength"],
                              s["keyframe_init"], s["keyframe_strength"] or 1.0, None, s["keyframe_unconditional"])
        if all_stages:
            s = dict(s, use_blurry=True, use_keyframe=True, use_caption=True)
        return self.prepare_conditions(x, gens, s)

    def prepare_conditions(self, x: torch.Tensor, gens: dict, settings: dict, keyframe_needed: bool = True) -> dict:
        """Steps 2-4 of ``__call__``: only the stages the guidance switches need are run."""
        s, timings = settings, {}
        blurry_frames = blurry_video = keyframe = caption = None
        make_keyframe = (s["use_keyframe"] and keyframe_needed) or s["use_caption"]
        # 2. Perception Reconstructor: blurry video (α), also needed to start unCLIP from the blurry frame
        if s["use_blurry"] or (s["keyframe_init"] == "blurry" and make_keyframe):
            t = self._sync()
            blurry_frames = self.reconstruct_blurry(x)
            blurry_video = self.blurry_to_video(blurry_frames)
            timings["blurry"] = self._sync() - t
        # 3. Semantics Reconstructor: keyframe (β), needed too when only its caption is used
        if make_keyframe:
            t = self._sync()
            keyframe = self.reconstruct_keyframe(
                x, gens["prior"], gens["keyframe"], s["prior_steps"], s["keyframe_steps"], s["keyframe_guidance_scale"],
                blurry_frames[0] if s["keyframe_init"] == "blurry" else None, s["keyframe_strength"] or 1.0,
                s["keyframe_unconditional"])
            timings["keyframe"] = self._sync() - t
        # 4. Caption of the keyframe (γ)
        if s["use_caption"]:
            t = self._sync()
            caption = self.caption_keyframe(keyframe)
            timings["caption"] = self._sync() - t
        return {"blurry_frames": blurry_frames, "blurry_video": blurry_video, "keyframe": keyframe, "caption": caption,
                "timings": timings}

    def generate(self, conditions: dict, gens: dict, settings: dict, control_frame: np.ndarray | None = None,
                 negative_prompt: str = NEGATIVE_PROMPT, reference: np.ndarray | None = None) -> NeuroClipsOutput:
        """Step 5 of ``__call__``: the final video from prepared conditions."""
        s, c, timings = self.with_zoo_defaults(settings), conditions, dict(conditions["timings"])
        prompt = video_prompt(c["caption"]) if s["use_caption"] else GENERIC_PROMPT
        size = self.video_size
        control = None
        if s["use_keyframe"]:
            control = resize_frames((control_frame if control_frame is not None else c["keyframe"])[None], size)[0]
        blurry_video = c["blurry_video"] if s["use_blurry"] else None
        t = self._sync()
        with self._stage("video"):
            video = self.video_pipeline(prompt, negative_prompt, blurry_video=blurry_video, keyframe=control, num_frames=16,
                                        height=size, width=size, num_inference_steps=s["num_inference_steps"],
                                        guidance_scale=s["guidance_scale"], alpha_mode=s["alpha_mode"],
                                        alpha_strength=s["alpha_strength"],
                                        controlnet_conditioning_scale=s["controlnet_conditioning_scale"],
                                        generator=gens["video"])
        timings["video"] = self._sync() - t
        timings["total"] = sum(timings.values())
        settings = {**s, "control_frame_given": control_frame is not None, "video_controlnet_calls": video.controlnet_calls,
                    "device": str(self.device), "dtype": str(self.unet.dtype).replace("torch.", ""),
                    "versions": dict(self.versions)}
        # stages that are off stay None even when the conditions were prepared for more (the app caches them)
        keyframe_used = s["use_keyframe"] or s["use_caption"]
        blurry_used = s["use_blurry"] or (s["keyframe_init"] == "blurry" and keyframe_used)
        return NeuroClipsOutput(video=video.frames, fps=FPS_VIDEO,
                                blurry_frames=c["blurry_frames"] if blurry_used else None, blurry_video=blurry_video,
                                keyframe=c["keyframe"] if keyframe_used else None, control_frame=control,
                                caption=c["caption"] if s["use_caption"] else None, prompt=prompt, reference=reference,
                                timings={k: round(v, 4) for k, v in timings.items()}, settings=settings)

    def fuse(self, fmri, references: list[np.ndarray | None] | None = None, fusion: str = "classifier",
             max_clips: int = 3, seed: int | None = None, **kwargs) -> LongVideoOutput:
        """Multi-fMRI fusion (spec §6): one continuous video of consecutive clips (``fmri``: (n, n_voxels), n ≤
        ``max_clips``). When two neighbouring keyframes are judged alike (``fusion``: "classifier" or "cosine"),
        the next clip's SparseCtrl keyframe is the previous video's last frame. ``kwargs`` are ``__call__``'s
        guidance settings; every clip gets the same seed, as the reference reseeds before each clip."""
        fmri = np.asarray(fmri, np.float32)
        if fmri.ndim != 2 or not 1 <= len(fmri) <= max_clips:
            raise ValueError(f"fusion takes 1 to {max_clips} consecutive fMRI samples (n, n_voxels), got {fmri.shape}")
        if fusion not in FUSION_METHODS:
            raise ValueError(f"fusion method must be one of {FUSION_METHODS}, got {fusion!r}")
        if not kwargs.get("use_keyframe", True):
            raise ValueError("fusion replaces the keyframe (β); it needs use_keyframe=True")
        bad = set(kwargs) - set(_CALL_SETTINGS)
        if bad:
            raise TypeError(f"fuse() got unexpected arguments {sorted(bad)}")
        settings = _resolve_settings({**_CALL_SETTINGS, **kwargs}, seed)
        negative_prompt = settings.pop("negative_prompt")
        references = references or [None] * len(fmri)
        if len(references) != len(fmri):
            raise ValueError(f"{len(references)} references for {len(fmri)} fMRI samples")
        clips, fused, scores = [], [], []
        for k, f in enumerate(fmri):
            gens = _stage_generators(seed, None)
            conditions = self.conditions(f, settings, gens)
            control = None
            if k:
                same, score = self.same_class(clips[-1].keyframe, conditions["keyframe"], fusion)
                fused.append(same)
                scores.append(round(score, 4))
                control = clips[-1].video[-1] if same else None
            clips.append(self.generate(conditions, gens, settings, control, negative_prompt, references[k]))
        video = np.concatenate([c.video for c in clips])
        return LongVideoOutput(video=video, fps=FPS_VIDEO, clips=clips, fused=fused, scores=scores,
                               settings={"fusion": fusion, "n_clips": len(clips), "seconds": len(video) / FPS_VIDEO})


# __call__'s guidance settings and their defaults (fuse takes the same names)
_CALL_SETTINGS = {"use_blurry": True, "use_keyframe": True, "use_caption": None, "alpha_mode": "code_parity",
                  "alpha_strength": 0.3, "controlnet_conditioning_scale": 1.0, "num_inference_steps": 25,
                  "guidance_scale": 8.5, "prior_steps": 20, "keyframe_steps": None, "keyframe_guidance_scale": 5.0,
                  "keyframe_init": "noise", "keyframe_strength": 0.8, "keyframe_unconditional": None,
                  "negative_prompt": NEGATIVE_PROMPT}


def _resolve_settings(settings: dict, seed: int | None) -> dict:
    """The settings a call ran with: the caption follows the keyframe unless given; strength only where used."""
    settings = dict(settings, seed=seed)
    if settings["use_caption"] is None:
        settings["use_caption"] = settings["use_keyframe"]
    if settings["keyframe_init"] != "blurry":
        settings["keyframe_strength"] = None
    return settings
