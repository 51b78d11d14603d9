"""``python -m neuroclips bench-load``: peak host memory of loading each full-zoo component from its real file
format (issue 19).

It writes full-size synthetic checkpoints with random weights, in the real files' formats, key layouts, dtypes and
containers (:mod:`neuroclips.zoo.full.layouts`; sizes as the manifest's), tensor by tensor so that writing an 18 GB
file takes little memory. Then it loads each component through the real loader in a fresh process and reports that
process's peak resident set (``ru_maxrss``, which counts mapped file pages too) beside the loaded component's own
bytes. The target (issue 19): peak <= component + 2 GiB.

``--code DIR`` loads with another checkout's ``neuroclips`` (e.g. a ``git worktree`` of an older commit) and
``--recipe fp32-then-cast`` with what ``assemble_components`` did before lean loading: load in fp32, then cast.

This module's top level imports the standard library only: the child process runs this file as a script, with
whichever ``neuroclips`` is under test.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

GiB = 2**30
TARGET_MARGIN = 2 * GiB  # issue 19: peak host memory within the component plus 2 GB
COMPONENTS = ("motion_module", "sparsectrl", "base_model", "video_unet", "unclip_unet", "blurry_vae", "blip2", "bigg",
              "perception", "semantics")
DEFAULT_COMPONENTS = ("motion_module", "unclip_unet")
RECIPES = ("lean", "fp32-then-cast")
LDM_SCHEDULE_BUFFERS = ("betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod",
                        "sqrt_one_minus_alphas_cumprod", "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod",
                        "sqrt_recipm1_alphas_cumprod", "posterior_variance", "posterior_log_variance_clipped",
                        "posterior_mean_coef1", "posterior_mean_coef2")  # top-level buffers of SD 1.x single files
SD15_VAE = {"in_channels": 3, "out_channels": 3, "latent_channels": 4, "layers_per_block": 2, "sample_size": 512,
            "block_out_channels": [128, 256, 512, 512], "down_block_types": ["DownEncoderBlock2D"] * 4,
            "up_block_types": ["UpDecoderBlock2D"] * 4}
ADAPTER_RANK = 128  # v3_sd15_adapter: rank 128 on SD 1.5's 128 attention projections is its 25.5 M parameters

# where each file lives under the bench folder: the full zoo's own layout (manifest paths)
FILES = {"motion_module": ("animatediff/v3_sd15_mm.ckpt",), "sparsectrl": ("animatediff/v3_sd15_sparsectrl_rgb.ckpt",),
         "base_model": ("base_model/realisticVisionV60B1_v51VAE.safetensors", "animatediff/v3_sd15_adapter.ckpt",
                        "sd15"),
         "unclip_unet": ("mindeye2/unclip6_epoch0_step110000.ckpt",), "blurry_vae": ("mindeye2/sd_image_var_autoenc.pth",),
         "bigg": ("bigg/open_clip_pytorch_model.bin",), "blip2": ("blip2",),
         "perception": ("reconstructors/sub-01/perception",), "semantics": ("reconstructors/sub-01/semantics",)}
FILES["video_unet"] = FILES["base_model"] + FILES["motion_module"]


# ------------------------------------------------------------------------------------------------ writing
class _Spec:
    """A tensor to write: its shape and dtype, and its values where they matter (positional encodings);
    ``fill_as``: take the random values another key gets (a tied weight stored twice)."""

    def __init__(self, shape, dtype, value=None, fill_as=None):
        self.shape, self.dtype, self.value, self.fill_as = tuple(shape), dtype, value, fill_as


def _specs(state_dict: dict, dtype, keep_values=()) -> dict:
    """Specs of a (meta or real) state dict in ``dtype``; tensors whose key ends in ``keep_values`` keep theirs."""
    out = {}
    for k, v in state_dict.items():
        if k.endswith(tuple(keep_values)) and v.device.type != "meta":
            out[k] = _Spec(v.shape, v.dtype, v.contiguous())
        else:
            out[k] = _Spec(v.shape, dtype if v.is_floating_point() else v.dtype)
    return out


class _RandomBytes:
    """Random N(0, 0.02) values, cycled from one 16 MiB block per dtype, each tensor starting where its key says
    (so the files are reproducible): the load costs what real weights cost."""

    def __init__(self, seed: int = 0):
        import torch

        self._f32 = torch.randn(4 << 20, generator=torch.Generator().manual_seed(seed)) * 0.02
        self._blocks = {}

    def write(self, f, dtype, nbytes: int, key: str) -> None:
        import zlib

        import torch

        if dtype not in self._blocks:
            t = self._f32.to(dtype) if dtype.is_floating_point else torch.zeros(4 << 20, dtype=dtype)
            self._blocks[dtype] = t.view(torch.uint8).numpy().tobytes()
        block = memoryview(self._blocks[dtype])
        step = torch.empty((), dtype=dtype).element_size()
        start = zlib.crc32(key.encode()) % (len(block) // 2) // step * step
        while nbytes > 0:
            n = min(nbytes, len(block) - start)
            f.write(block[start:start + n])
            nbytes -= n
            start = 0


def _tensors_in_order(obj, key=""):
    """(key, tensor) of a nested dict container, in the order pickle meets the tensors."""
    import torch

    if isinstance(obj, torch.Tensor):
        yield key, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _tensors_in_order(v, k)


def write_torch_checkpoint(path: Path, container: dict, rng: _RandomBytes) -> None:
    """``torch.save(container)`` in torch's zip format, where each ``_Spec`` in ``container`` becomes a tensor of
    random values (or its own value), written record by record: ``skip_data`` first writes the file with room for
    each storage, whose bytes are then filled in order."""
    import struct
    import zipfile

    import torch

    def materialise(obj):
        if isinstance(obj, _Spec):  # untouched memory: allocating it costs no resident pages
            return obj.value if obj.value is not None else torch.empty(obj.shape, dtype=obj.dtype)
        if isinstance(obj, dict):
            return {k: materialise(v) for k, v in obj.items()}
        return obj

    obj = materialise(container)
    tensors = list(_tensors_in_order(obj))
    valued = {id(s.value) for s in _iter_specs(container) if s.value is not None}
    tmp = path.with_name(path.name + ".partial")
    with torch.serialization.skip_data():
        torch.save(obj, tmp)
    with zipfile.ZipFile(tmp) as z:
        records = sorted(((int(i.filename.rsplit("/", 1)[1]), i) for i in z.infolist()
                          if "/data/" in i.filename and i.filename.rsplit("/", 1)[1].isdigit()), key=lambda r: r[0])
    if len(records) != len(tensors):
        raise RuntimeError(f"{path.name}: {len(records)} storages written for {len(tensors)} tensors")
    with open(tmp, "r+b") as f:
        for (key, info), (name, t) in zip(records, tensors):
            nbytes = t.numel() * t.element_size()
            if info.file_size != nbytes:
                raise RuntimeError(f"{path.name}: storage {key} has {info.file_size} bytes, its tensor {nbytes}")
            f.seek(info.header_offset + 26)
            name_len, extra_len = struct.unpack("<HH", f.read(4))
            f.seek(info.header_offset + 30 + name_len + extra_len)  # the stored (uncompressed) bytes
            if id(t) in valued:
                f.write(t.contiguous().view(torch.uint8).numpy().tobytes())
            else:
                rng.write(f, t.dtype, nbytes, name)
    os.replace(tmp, path)


def _iter_specs(obj):
    if isinstance(obj, _Spec):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _iter_specs(v)


def write_safetensors(path: Path, specs: dict, rng: _RandomBytes, metadata: dict | None = None) -> None:
    """A ``.safetensors`` file (8-byte header length, JSON header, raw little-endian data) written tensor by
    tensor."""
    import torch

    names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64",
             torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL"}
    header, offset = {}, 0
    for k, s in specs.items():
        n = torch.empty((), dtype=s.dtype).element_size()
        for d in s.shape:
            n *= d
        header[k] = {"dtype": names[s.dtype], "shape": list(s.shape), "data_offsets": [offset, offset + n]}
        offset += n
    if metadata:
        header["__metadata__"] = metadata
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "wb") as f:
        f.write(len(raw).to_bytes(8, "little"))
        f.write(raw)
        for k, s in specs.items():
            a, b = header[k]["data_offsets"]
            if s.value is not None:
                f.write(s.value.contiguous().view(torch.uint8).numpy().tobytes())
            else:
                rng.write(f, s.dtype, b - a, s.fill_as or k)
    os.replace(tmp, path)


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _meta(fn):
    import torch

    with torch.device("meta"):
        return fn()


def _sd15_models():
    """SD 1.5's UNet, VAE and CLIP ViT-L/14 text encoder on the meta device (the base model's architecture)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from .bench_full import SD15_UNET, VIT_L_TEXT

    return (_meta(lambda: UNet2DConditionModel(**{**SD15_UNET, "sample_size": 64})),
            _meta(lambda: AutoencoderKL(**SD15_VAE)),
            _meta(lambda: CLIPTextModel(CLIPTextConfig(**VIT_L_TEXT, vocab_size=49408, projection_dim=768))))


def _write_sd15_folder(folder: Path) -> None:
    """The ``sd15`` artefact: SD 1.5's configs and tokenizer (what the single-file base model is read with)."""
    from diffusers import DDIMScheduler

    from ..zoo.mini import load_tokenizer

    unet, vae, text = _sd15_models()
    unet.save_config(folder / "unet")
    vae.save_config(folder / "vae")
    text.config.save_pretrained(folder / "text_encoder")
    load_tokenizer().save_pretrained(folder / "tokenizer")
    DDIMScheduler().save_pretrained(folder / "scheduler")
    (folder / "model_index.json").write_text(json.dumps({
        "_class_name": "StableDiffusionPipeline", "feature_extractor": [None, None], "requires_safety_checker": False,
        "safety_checker": [None, None], "scheduler": ["diffusers", "DDIMScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]}))


def _write_file(rel: str, root: Path, rng: _RandomBytes) -> None:
    """Write one of :data:`FILES` under ``root``."""
    import torch

    from ..zoo.full import configs
    from ..zoo.full import layouts
    from ..zoo.full.loaders import unclip6_diffusers_configs
    from ..zoo.full.memory import CC2017_VOXELS

    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    f32, f16 = torch.float32, torch.float16
    name = path.name
    if name == "v3_sd15_mm.ckpt":  # flat, fp32, with AnimateDiff's pos_encoder.pe buffers
        from diffusers import MotionAdapter

        sd = layouts.animatediff_motion_state_dict(_meta(lambda: MotionAdapter(**configs.MOTION_ADAPTER_V3)))
        write_torch_checkpoint(path, _specs(sd, f32, ("pos_encoder.pe",)), rng)
    elif name == "v3_sd15_sparsectrl_rgb.ckpt":  # under "controlnet", beside a non-tensor config
        from diffusers import SparseControlNetModel

        sd = layouts.sparsectrl_state_dict(_meta(lambda: SparseControlNetModel(**configs.SPARSECTRL_RGB)))
        write_torch_checkpoint(path, {"controlnet": _specs(sd, f32, ("pos_encoder.pe",)),
                                      "animatediff_config": {"use_simplified_condition_embedding": True}}, rng)
    elif name == "realisticVisionV60B1_v51VAE.safetensors":  # LDM single file, fp16, with DDPM schedule buffers
        unet, vae, text = _sd15_models()
        sd = {**layouts.ldm_unet_state_dict(unet), **layouts.ldm_vae_state_dict(vae),
              **layouts.ldm_clip_text_state_dict(text, include_position_ids=True)}
        specs = {k: _Spec((1000,), f16) for k in LDM_SCHEDULE_BUFFERS}
        specs.update(_specs(sd, f16, ("position_ids",)))
        write_safetensors(path, specs, rng)
    elif name == "v3_sd15_adapter.ckpt":  # old attention-processor LoRA, fp32
        unet, _, _ = _sd15_models()
        specs = {}
        for module_name, module in unet.named_modules():
            if module_name.endswith((".attn1", ".attn2")):
                for proj, target in (("to_q", "to_q"), ("to_k", "to_k"), ("to_v", "to_v"), ("to_out", "to_out.0")):
                    out_f, in_f = module.get_submodule(target).weight.shape
                    specs[f"{module_name}.processor.{proj}_lora.down.weight"] = _Spec((ADAPTER_RANK, in_f), f32)
                    specs[f"{module_name}.processor.{proj}_lora.up.weight"] = _Spec((out_f, ADAPTER_RANK), f32)
        write_torch_checkpoint(path, specs, rng)
    elif name == "sd15":
        _write_folder(path, _write_sd15_folder)
    elif name == "unclip6_epoch0_step110000.ckpt":  # sgm DiffusionEngine: UNet, SDXL VAE, bigG conditioner; fp32
        import open_clip
        from diffusers import AutoencoderKL, UNet2DConditionModel

        unet_cfg, vae_cfg = unclip6_diffusers_configs()
        sd = {**layouts.ldm_unet_state_dict(_meta(lambda: UNet2DConditionModel(**unet_cfg))),
              **layouts.ldm_vae_state_dict(_meta(lambda: AutoencoderKL(**vae_cfg)))}
        bigg = _meta(lambda: open_clip.CLIP(**open_clip.get_model_config(configs.BIGG_MODEL)))
        del bigg.transformer  # sgm's FrozenOpenCLIPImageEmbedder deletes the text transformer
        sd.update({f"conditioner.embedders.0.model.{k}": v for k, v in bigg.state_dict().items()})
        write_torch_checkpoint(path, {"state_dict": _specs(sd, f32), "global_step": 110000, "epoch": 0}, rng)
    elif name == "sd_image_var_autoenc.pth":  # a diffusers AutoencoderKL state dict, fp32
        from diffusers import AutoencoderKL

        vae = _meta(lambda: AutoencoderKL(**configs.IMAGE_VARIATION_VAE))
        write_torch_checkpoint(path, _specs(vae.state_dict(), f32), rng)
    elif name == "open_clip_pytorch_model.bin":  # open_clip's whole CLIP, fp32
        import open_clip

        model = _meta(lambda: open_clip.CLIP(**open_clip.get_model_config(configs.BIGG_MODEL)))
        write_torch_checkpoint(path, _specs(model.state_dict(), f32), rng)
    elif name == "blip2":  # transformers' folder: config, processor, two fp32 safetensors shards and their index
        from transformers import Blip2Config, Blip2ForConditionalGeneration, Blip2Processor

        from ..zoo import zoo_dir

        text = configs.BLIP2_OPT_2_7B_TEXT
        config = Blip2Config(text_config=text, image_token_index=text["vocab_size"] - 1)
        specs = _specs(_meta(lambda: Blip2ForConditionalGeneration(config)).state_dict(), f32)
        # the Hub file stores OPT's tied output embedding beside the input one, with the same values
        specs["language_model.lm_head.weight"].fill_as = "language_model.model.decoder.embed_tokens.weight"

        def write(folder):
            config.save_pretrained(folder)
            Blip2Processor.from_pretrained(zoo_dir("mini") / "captioner").save_pretrained(folder)
            shards, size = [{}], 0
            for k, spec in specs.items():  # the real split: 10 GB, then the rest
                n = 4 * _numel(spec.shape)
                if size and size + n > 10 * 10**9 and len(shards) == 1:
                    shards.append({})
                    size = 0
                shards[-1][k] = spec
                size += n
            weight_map = {}
            for i, shard in enumerate(shards, 1):
                fname = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
                write_safetensors(folder / fname, shard, rng, {"format": "pt"})
                weight_map.update(dict.fromkeys(shard, fname))
            total = sum(4 * _numel(s.shape) for s in specs.values())
            (folder / "model.safetensors.index.json").write_text(json.dumps(
                {"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2))

        _write_folder(path, write)
    elif name in ("perception", "semantics"):  # a diffusers model folder: config.json + safetensors, fp32
        from ..zoo.reconstructors import reconstructor_class

        model = _meta(lambda: reconstructor_class(name)(n_voxels=CC2017_VOXELS))

        def write(folder):
            model.save_config(folder)
            write_safetensors(folder / "diffusion_pytorch_model.safetensors", _specs(model.state_dict(), f32), rng,
                              {"format": "pt"})

        _write_folder(path, write)
    else:
        raise ValueError(f"bench-load cannot write {rel}")


def _write_folder(path: Path, write) -> None:
    """``write(folder)`` into a folder beside ``path``, renamed into place when complete."""
    import shutil

    tmp = path.with_name(path.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write(tmp)
    os.replace(tmp, path)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size


def write_checkpoints(root: str | os.PathLike, components=DEFAULT_COMPONENTS, log=print) -> dict[str, int]:
    """Write the synthetic files ``components`` need under ``root`` (those already there are kept); returns each
    file's bytes."""
    root = Path(root)
    rng = _RandomBytes()
    sizes = {}
    for rel in dict.fromkeys(r for c in components for r in FILES[c]):
        path = root / rel
        if not path.exists():
            t = time.perf_counter()
            _write_file(rel, root, rng)
            log(f"wrote {rel} ({_size(path) / 1e9:.2f} GB, {time.perf_counter() - t:.0f} s)")
        sizes[rel] = _size(path)
    return sizes


# ------------------------------------------------------------------------------------------------ measuring
def _status_kib(pid="self") -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = int(rest.split()[0])
    return out


def _module_bytes(modules) -> int:
    """Bytes of the modules' parameters and buffers (each storage once)."""
    seen, total = set(), 0
    for m in modules:
        for t in list(m.parameters()) + list(m.buffers()):
            if t.device.type == "meta" or t.data_ptr() in seen:
                continue
            seen.add(t.data_ptr())
            total += t.numel() * t.element_size()
    return total


def _load(component: str, root: Path, dtype, recipe: str) -> list:
    """Load ``component`` from ``root`` with the ``neuroclips`` on ``sys.path``; returns its modules."""
    import torch

    from neuroclips.zoo.full import configs, loaders

    f32 = torch.float32
    lean = recipe == "lean"
    p = {c: [root / r for r in FILES[c]] for c in FILES}

    def cast(*modules):  # the pre-lean assemble_components: everything in fp32, cast at the end
        return [m if lean else m.to(dtype) for m in modules]

    if component == "motion_module":
        return cast(loaders.load_motion_adapter(p[component][0], None, dtype if lean else f32))
    if component == "sparsectrl":
        return cast(loaders.load_sparsectrl(p[component][0], None, dtype if lean else f32))
    if component in ("base_model", "video_unet"):
        rv, adapter, sd15 = p["base_model"]
        if lean:
            unet, vae, text, _ = loaders.load_base_model(rv, sd15, dtype, domain_adapter=adapter)
        else:
            unet, vae, text, _ = loaders.load_base_model(rv, sd15, f32)
            loaders.merge_domain_adapter(unet, adapter)
        if component == "base_model":
            return cast(unet, vae, text)
        motion = loaders.load_motion_adapter(p["motion_module"][0], None, dtype if lean else f32)
        if lean:
            return [loaders.motion_unet(unet, motion), vae, text]
        from diffusers import UNetMotionModel

        video_unet = UNetMotionModel.from_unet2d(unet, motion)
        return cast(video_unet, vae, text) + [unet, motion]  # as before: both stay alive until assembly ends
    if component == "unclip_unet":
        if lean:
            return list(loaders.load_unclip6(p[component][0], None, dtype, vae_dtype=f32))
        unet, vae = loaders.load_unclip6(p[component][0], None, f32)
        return [unet.to(dtype), vae]  # the SDXL VAE stayed fp32
    if component == "blurry_vae":
        return cast(loaders.load_image_variation_vae(p[component][0], None, dtype if lean else f32))
    if component == "blip2":  # assemble_components casts the Q-Former transformers keeps in fp32
        return [loaders.load_blip2(root / "blip2", dtype if lean else f32)[0].to(dtype)]
    if component == "bigg":
        return cast(loaders.load_bigg(p[component][0], configs.BIGG_MODEL, dtype if lean else f32))
    if component in ("perception", "semantics"):
        from neuroclips.zoo.reconstructors import load_reconstructor

        return [load_reconstructor(component, 1, root / "reconstructors", dtype)[0]]  # both recipes: the code's own
    raise ValueError(f"unknown component {component!r}; choose from {', '.join(COMPONENTS)}")


def _child(component: str, root: str, dtype_name: str, recipe: str) -> None:
    """In a fresh process: import, load one component, print one JSON line with the peaks."""
    import neuroclips  # noqa: F401 (the torchvision shim before diffusers)
    import diffusers  # noqa: F401
    import open_clip  # noqa: F401
    import torch
    import transformers  # noqa: F401

    from neuroclips.zoo.full import loaders  # noqa: F401

    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[dtype_name]
    peak = {"RssAnon": 0, "RssFile": 0}
    done = threading.Event()

    def sample():  # the anonymous and file-backed parts' peaks, sampled (ru_maxrss only has their sum)
        while not done.is_set():
            s = _status_kib()
            for k in peak:
                peak[k] = max(peak[k], s[k])
            done.wait(0.005)

    baseline = _status_kib()["VmRSS"] * 1024
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t = time.perf_counter()
    modules = _load(component, Path(root), dtype, recipe)
    seconds = time.perf_counter() - t
    done.set()
    sampler.join()
    on_meta = [type(m).__name__ for m in modules if any(p.device.type == "meta" for p in m.parameters())]
    print(json.dumps({"component": component, "recipe": recipe, "dtype": dtype_name, "torch": torch.__version__,
                      "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                      "peak_anon_bytes_sampled": peak["RssAnon"] * 1024, "peak_file_bytes_sampled": peak["RssFile"] * 1024,
                      "baseline_rss_bytes": baseline, "component_bytes": _module_bytes(modules[:3]),
                      "dtypes": sorted({str(p.dtype).replace("torch.", "") for m in modules[:3] for p in m.parameters()}),
                      "left_on_meta": on_meta, "load_seconds": round(seconds, 1)}))


def _git_revision(code: Path) -> str:
    try:
        out = subprocess.run(["git", "-C", str(code), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, timeout=30)
        dirty = subprocess.run(["git", "-C", str(code), "status", "--porcelain", "--", "neuroclips"],
                               capture_output=True, text=True, timeout=30).stdout.strip()
        return out.stdout.strip() + ("+changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def measure(component: str, root: str | os.PathLike, dtype: str = "fp16", recipe: str = "lean",
            code: str | os.PathLike | None = None, max_rss_gib: float = 13.0) -> dict:
    """Load ``component`` in a fresh process (``neuroclips`` from ``code``, default this checkout) and return its
    peaks. The child is stopped if its resident set passes ``max_rss_gib`` (then ``stopped_at_limit``)."""
    code = Path(code) if code is not None else Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(code), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    # run this very file as a script, so the neuroclips under test need not have it
    cmd = [sys.executable, "-c", "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')",
           str(Path(__file__).resolve()), "--child", component, str(Path(root).resolve()), dtype, recipe]
    import tempfile

    with tempfile.TemporaryFile("w+") as out_f, tempfile.TemporaryFile("w+") as err_f:  # no pipe to fill up
        proc = subprocess.Popen(cmd, cwd=code, env=env, stdout=out_f, stderr=err_f, text=True)
        stopped, watched_peak = False, 0
        while proc.poll() is None:
            try:
                rss = _status_kib(proc.pid)["VmRSS"] * 1024
            except (OSError, KeyError):
                rss = 0
            watched_peak = max(watched_peak, rss)
            if rss > max_rss_gib * GiB:
                proc.kill()
                stopped = True
                break
            time.sleep(0.05)
        proc.wait()
        out_f.seek(0)
        err_f.seek(0)
        out, err = out_f.read(), err_f.read()
    result = {"component": component, "recipe": recipe, "dtype": dtype, "code": _git_revision(code)}
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if stopped or proc.returncode != 0 or not lines:
        result.update(error="stopped at the bench's limit" if stopped else (err.strip().splitlines() or ["no output"])[-1],
                      stopped_at_limit=stopped, peak_rss_bytes_at_least=watched_peak, max_rss_gib=max_rss_gib)
        return result
    result.update(json.loads(lines[-1]))
    result["target_bytes"] = result["component_bytes"] + TARGET_MARGIN
    result["within_target"] = result["peak_rss_bytes"] <= result["target_bytes"]
    return result


def bench_load(components=DEFAULT_COMPONENTS, root: str | os.PathLike = "/tmp/neuroclips-bench-load", dtype="fp16",
               recipe="lean", code=None, max_rss_gib: float = 13.0, log=print) -> dict:
    """Write what ``components`` need under ``root`` (once), then measure each one's load in a fresh process."""
    for c in components:
        if c not in COMPONENTS:
            raise ValueError(f"unknown component {c!r}; choose from {', '.join(COMPONENTS)}")
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}; choose from {', '.join(RECIPES)}")
    files = write_checkpoints(root, components, log)
    results = []
    for c in components:
        r = measure(c, root, dtype, recipe, code, max_rss_gib)
        r["file_bytes"] = sum(files[f] for f in FILES[c])
        log(format_result(r))
        results.append(r)
    return {"root": str(root), "files": files, "results": results,
            "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}


def format_result(r: dict) -> str:
    if "error" in r:
        extra = f" (peak >= {r['peak_rss_bytes_at_least'] / GiB:.2f} GiB)" if r.get("stopped_at_limit") else ""
        return f"{r['component']:14s} {r['recipe']:15s} error: {r['error']}{extra}"
    return (f"{r['component']:14s} {r['recipe']:15s} peak RSS {r['peak_rss_bytes'] / GiB:6.2f} GiB (anon "
            f"{r['peak_anon_bytes_sampled'] / GiB:5.2f}, file {r['peak_file_bytes_sampled'] / GiB:5.2f}; after imports "
            f"{r['baseline_rss_bytes'] / GiB:4.2f}) | component {r['component_bytes'] / GiB:5.2f} GiB "
            f"{'/'.join(r['dtypes'])} | target {r['target_bytes'] / GiB:5.2f} GiB: "
            f"{'within' if r['within_target'] else 'ABOVE'} | {r['load_seconds']} s")


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--child":
    _child(*sys.argv[2:6])
