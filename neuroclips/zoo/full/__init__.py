"""The full zoo: NeuroClips' real checkpoints (spec §9.1) on a GPU host.

``manifest.json`` lists every file with its source, pinned revision and size; :mod:`.weights` checks and downloads
them (``python -m neuroclips weights check|download --zoo full``); :mod:`.loaders` reads each real format into the
classes the pipeline uses; :mod:`.memory` plans where each stage lives on the GPU.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch

from ..registry import Zoo, register_zoo
from ..reconstructors import load_reconstructors
from . import configs
from .manifest import load_manifest
from .weights import MissingWeightsError, check_weights, download_weights, full_zoo_root, require_weights  # noqa: F401

# the reference's unclip6 sampling (spec §4.2): sgm's 38 Euler steps with N(0, 1) unconditional tokens
GUIDANCE_DEFAULTS = {"keyframe_steps": configs.UNCLIP6_STEPS, "keyframe_unconditional": "noise"}

__all__ = ["GUIDANCE_DEFAULTS", "MissingWeightsError", "assemble_components", "reconstructors_root", "check_weights", "download_weights", "full_zoo_root",
           "load_manifest", "require_weights"]


def _version(artefact, report) -> str:
    """The model version written beside results: a pinned revision, else a digest of the files' sizes and times
    (an unpinned Hub file, a URL or a local file can change under the same name)."""
    import hashlib
    import re

    if artefact.source_type == "hf" and re.fullmatch(r"[0-9a-f]{40}", artefact.revision or ""):
        return artefact.revision[:12]
    h = hashlib.sha256()
    for s in report.statuses:
        if s.artefact.name == artefact.name and s.local.is_file():
            st = s.local.stat()
            h.update(f"{s.file.path}:{st.st_size}:{st.st_mtime_ns}".encode())
    return "files-" + h.hexdigest()[:12]


def _file(report, name: str, suffix: str = "") -> Path:
    return next(s.local for s in report.statuses if s.artefact.name == name and s.file.path.endswith(suffix))


def reconstructors_root(root: str | os.PathLike | None = None) -> Path:
    """The full zoo's PR/SR: ``<full zoo>/reconstructors/sub-0N/{perception,semantics}``."""
    return full_zoo_root(root) / "reconstructors"


def assemble_components(subject: int | None = 1, reconstructors: str | os.PathLike | None = None,
                        root: str | os.PathLike | None = None, dtype: torch.dtype | None = None, architectures: dict | None = None,
                        artefacts: list | None = None, device: str | torch.device | None = None) -> tuple[dict, dict]:
    """``NeuroClipsPipeline`` init arguments from the real checkpoints under ``root`` (see :func:`full_zoo_root`), and
    the versions (manifest revisions) written beside results. Missing files raise :class:`MissingWeightsError` with
    the command that fetches them, before anything is loaded.

    Each component is read straight into ``dtype`` (the SDXL VAE into fp32), one tensor at a time, so the host
    holds what is loaded so far plus about one tensor of the file being read; with ``device``, each component is
    moved there as soon as it is loaded, so the host holds one component at a time.

    ``architectures`` overrides the real architectures (keys ``motion_adapter``, ``sparsectrl``, ``unclip6``,
    ``unclip6_size``, ``image_variation_vae``, ``bigg_model``), and ``artefacts`` the manifest: both for checkpoints of other sizes."""
    from diffusers import DDIMScheduler, EulerDiscreteScheduler

    from . import loaders

    dtype = dtype or torch.float32
    only = None
    if subject is None or reconstructors is not None:  # the reconstructors come from elsewhere, or are not needed
        only = tuple(a.name for a in load_manifest() if a.name != "reconstructors")
    arch = {"motion_adapter": configs.MOTION_ADAPTER_V3, "sparsectrl": configs.SPARSECTRL_RGB,
            "unclip6": configs.UNCLIP6_ORIGINAL_CONFIG, "image_variation_vae": configs.IMAGE_VARIATION_VAE,
            "unclip6_size": configs.UNCLIP6_SIZE, "bigg_model": configs.BIGG_MODEL, **(architectures or {})}
    report = check_weights(root, ("inference",), (subject or 1,), only, artefacts)
    if not report.complete:
        raise MissingWeightsError(report)
    artefacts = [s.artefact for s in report.statuses]

    def placed(module, dtype=dtype):
        # .to(dtype) as before lean loading: transformers keeps BLIP-2's Q-Former in fp32, the zoo never did
        return module.to(device=device, dtype=dtype)

    try:
        motion = loaders.load_motion_adapter(_file(report, "animatediff", "v3_sd15_mm.ckpt"), arch["motion_adapter"], dtype)
        # the domain adapter is merged in fp32 before the cast, as the reference merges into its fp32 UNet (spec §5.1)
        unet2d, vae, text_encoder, tokenizer = loaders.load_base_model(
            _file(report, "base_model"), report.root / "sd15", dtype,
            domain_adapter=_file(report, "animatediff", "v3_sd15_adapter.ckpt"), adapter_scale=1.0)
        components = {"unet": placed(loaders.motion_unet(unet2d, motion)), "vae": placed(vae),
                      "text_encoder": placed(text_encoder), "tokenizer": tokenizer}
        del unet2d, motion
        components["controlnet"] = placed(loaders.load_sparsectrl(
            _file(report, "animatediff", "v3_sd15_sparsectrl_rgb.ckpt"), arch["sparsectrl"], dtype))
        keyframe_unet, keyframe_vae = loaders.load_unclip6(
            _file(report, "mindeye2", "unclip6_epoch0_step110000.ckpt"), arch["unclip6"], dtype, arch["unclip6_size"],
            vae_dtype=torch.float32)  # the SDXL VAE stays fp32 (force_upcast)
        components.update(keyframe_unet=placed(keyframe_unet), keyframe_vae=placed(keyframe_vae, torch.float32))
        del keyframe_unet, keyframe_vae
        caption_model, caption_processor = loaders.load_blip2(report.root / "blip2", dtype=dtype)
        components.update(caption_model=placed(caption_model), caption_processor=caption_processor)
        del caption_model
        components["blurry_vae"] = placed(loaders.load_image_variation_vae(
            _file(report, "mindeye2", "sd_image_var_autoenc.pth"), arch["image_variation_vae"], dtype))
        components["image_encoder"] = placed(loaders.load_bigg(_file(report, "bigg", ".bin"), arch["bigg_model"], dtype))
        components.update({
            "keyframe_scheduler": EulerDiscreteScheduler(**configs.UNCLIP6_SCHEDULER),
            "scheduler": DDIMScheduler(**configs.VIDEO_SCHEDULER), "fusion_classifier": None,
            "keyframe_colour_mapping": "mindeye2", "keyframe_offset_noise": configs.UNCLIP6_OFFSET_NOISE,
            "keyframe_discretization": "sgm"})
    except (RuntimeError, OSError, pickle.UnpicklingError) as err:  # safetensors' errors are OSError/RuntimeError too
        if isinstance(err, torch.cuda.OutOfMemoryError):
            raise
        raise loaders.CheckpointMismatchError(
            f"a full-zoo checkpoint under {report.root} could not be read ({type(err).__name__}: {err}); a truncated "
            "or corrupt download? delete the file and fetch it again with `python -m neuroclips weights download "
            "--zoo full`") from err
    versions = {f"zoo/full/{a.name}": _version(a, report) for a in {a.name: a for a in artefacts}.values()
                if a.name != "reconstructors"}
    components["perception"], components["semantics"] = None, None
    if subject is not None:
        rec_root = Path(reconstructors) if reconstructors is not None else report.root / "reconstructors"
        models, model_versions = load_reconstructors(subject, rec_root, dtype)
        components.update({k: m if device is None else m.to(device) for k, m in models.items()})
        versions.update(model_versions)
    return components, versions


register_zoo(Zoo(
    name="full", description="NeuroClips' real checkpoints (SD 1.5 + AnimateDiff v3 + SparseCtrl RGB, MindEye2's "
    "unclip6, BLIP-2) on a GPU host", load=assemble_components, root=full_zoo_root,
    reconstructors_root=reconstructors_root, defaults=GUIDANCE_DEFAULTS, data_source="cc2017",
    # measured on an H200 in fp16, warm, at 25 video / 38 unCLIP / 20 prior steps (docs/benchmarks.md, 2026-11-29):
    # video 2.90 s, keyframe 3.64 s, caption 0.52 s, blurry 0.04 s; the retrieval fold (300 bigG images and SR
    # passes) is an estimate
    gpu_rates={"video_step": 2.90 / 25, "keyframe_step": 3.64 / (38 + 20), "per_clip": 0.56, "retrieval": 10.0}))
