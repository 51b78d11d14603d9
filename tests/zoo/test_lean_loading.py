"""Lean loading (issue 19): every full-zoo loader reads its checkpoint straight into the target dtype, one tensor at a
time, so loading holds the model plus about one tensor of the file, never an fp32 copy of the whole component; and
the loaded weights are exactly what loading in fp32 and casting gave."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from neuroclips.zoo.full import lean, loaders
from tests.zoo import original_layouts as layouts
from tests.zoo.test_full_loaders import (TINY_MOTION, randomised, sd15_folder,  # noqa: F401 (fixtures)
                                         tiny_full_zoo, unclip_like)

REPO = Path(__file__).resolve().parents[2]
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self (Linux)")


def _mapping_rss_kib(path) -> int:
    """Resident KiB of this process's mappings of ``path`` (``/proc/self/smaps``)."""
    ino, total, inside = os.stat(path).st_ino, 0, False
    with open("/proc/self/smaps") as f:
        for line in f:
            fields = line.split()
            if "-" in fields[0] and len(fields) >= 5 and fields[4].isdigit():  # a mapping's header line
                inside = int(fields[4]) == ino
            elif inside and fields[0] == "Rss:":
                total += int(fields[1])
    return total


@linux_only
@pytest.mark.parametrize("suffix", [".ckpt", ".safetensors"])
def test_cast_state_dict_hands_the_file_pages_back(tmp_path, suffix):
    """Copying a memory-mapped checkpoint into fp16 leaves (almost) none of the file resident, although the mapping
    stays open, and the copies equal the file's tensors cast."""
    g = torch.Generator().manual_seed(0)
    sd = {f"w{i}": torch.randn(1024, 1024, generator=g) for i in range(16)}  # 64 MiB of fp32
    sd["big"] = torch.randn(80 << 20 >> 2, generator=g)  # 80 MiB: copied in slices
    path = tmp_path / f"ckpt{suffix}"
    torch.save(sd, path) if suffix == ".ckpt" else save_file(sd, path)
    lazy = lean.read_lazy(path)
    assert _mapping_rss_kib(path) < 4096  # opening reads nothing
    out = lean.cast_state_dict(lazy, torch.float16, path)
    assert _mapping_rss_kib(path) < 4096, "the file's pages stayed resident after the cast"
    for k, v in sd.items():
        assert out[k].dtype == torch.float16 and torch.equal(out[k], v.to(torch.float16)), k
        assert torch.equal(lazy[k], v), k  # the mapping still reads the file's values
    del lazy


def test_fp16_loads_equal_the_fp32_loads_cast(tmp_path, unclip_like):
    from diffusers import MotionAdapter

    motion = randomised(MotionAdapter(**TINY_MOTION), 1)
    torch.save(layouts.animatediff_motion_state_dict(motion), tmp_path / "mm.ckpt")
    unet, vae = unclip_like
    cfg = layouts.sgm_original_config(unet, vae)
    torch.save({"state_dict": {**layouts.ldm_unet_state_dict(unet), **layouts.ldm_vae_state_dict(vae)}},
               tmp_path / "unclip6.ckpt")
    pairs = [(loaders.load_motion_adapter(tmp_path / "mm.ckpt", TINY_MOTION, torch.float32),
              loaders.load_motion_adapter(tmp_path / "mm.ckpt", TINY_MOTION, torch.float16))]
    u32, v32 = loaders.load_unclip6(tmp_path / "unclip6.ckpt", cfg, torch.float32)
    u16, v16 = loaders.load_unclip6(tmp_path / "unclip6.ckpt", cfg, torch.float16, vae_dtype=torch.float32)
    pairs += [(u32, u16)]
    for a, b in pairs:
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys()
        for k in sa:
            assert sb[k].dtype == torch.float16 and torch.equal(sb[k], sa[k].to(torch.float16)), k
    assert all(p.dtype == torch.float32 for p in v16.parameters())
    assert all(torch.equal(x, y) for x, y in zip(v32.state_dict().values(), v16.state_dict().values()))


def test_domain_adapter_merged_before_the_cast_equals_merging_in_fp32(tmp_path, sd15_folder):  # noqa: F811
    """The base model with the domain adapter, loaded in fp16: exactly the fp32 UNet merged, then cast."""
    f = sd15_folder
    sd = {**layouts.ldm_unet_state_dict(f["unet"]), **layouts.ldm_vae_state_dict(f["vae"]),
          **layouts.ldm_clip_text_state_dict(f["text_encoder"])}
    save_file({k: v.contiguous() for k, v in sd.items()}, tmp_path / "rv.safetensors")
    g = torch.Generator().manual_seed(2)
    lora = {}
    for name, module in f["unet"].named_modules():
        if name.endswith((".attn1", ".attn2")):
            w = module.to_v.weight
            lora[f"{name}.processor.to_v_lora.down.weight"] = torch.randn(2, w.shape[1], generator=g)
            lora[f"{name}.processor.to_v_lora.up.weight"] = torch.randn(w.shape[0], 2, generator=g) * 1e-3
    torch.save(lora, tmp_path / "adapter.ckpt")
    reference, *_ = loaders.load_base_model(tmp_path / "rv.safetensors", f["root"], torch.float32)
    assert loaders.merge_domain_adapter(reference, tmp_path / "adapter.ckpt") == len(lora) // 2
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        unet, vae, text, _ = loaders.load_base_model(tmp_path / "rv.safetensors", f["root"], dtype,
                                                     domain_adapter=tmp_path / "adapter.ckpt")
        for k, v in reference.state_dict().items():
            assert torch.equal(unet.state_dict()[k], v.to(dtype)), (dtype, k)
        assert {p.dtype for m in (unet, vae, text) for p in m.parameters()} == {dtype}


def test_assemble_components_loads_every_component_in_the_target_dtype(tmp_path, sd15_folder, monkeypatch):  # noqa: F811
    """No component is loaded in fp32 to be cast afterwards (the SDXL VAE alone is kept in fp32)."""
    from neuroclips.paths import demo_data_dir
    from neuroclips.zoo.full import assemble_components

    root, arch, arts, _ = tiny_full_zoo(tmp_path, sd15_folder)
    seen = []
    for name in ("load_motion_adapter", "load_sparsectrl", "load_base_model", "load_unclip6", "load_blip2",
                 "load_image_variation_vae", "load_bigg"):
        original = getattr(loaders, name)

        def spy(*args, _name=name, _original=original, **kwargs):
            out = _original(*args, **kwargs)
            for m in out if isinstance(out, tuple) else (out,):
                if isinstance(m, torch.nn.Module):
                    seen.append((_name, type(m).__name__, {p.dtype for p in m.parameters()}))
            return out

        monkeypatch.setattr(loaders, name, spy)
    components, _ = assemble_components(subject=1, reconstructors=demo_data_dir() / "reconstructors", root=root,
                                        dtype=torch.float16, architectures=arch, artefacts=arts)
    assert len({s[0] for s in seen}) == 7
    for name, cls, dtypes in seen:
        expected = torch.float32 if (name, cls) == ("load_unclip6", "AutoencoderKL") else torch.float16
        if name == "load_blip2":  # transformers keeps the Q-Former in fp32; assemble_components casts it
            assert torch.float16 in dtypes
            continue
        assert dtypes == {expected}, (name, cls, dtypes)
    for name, m in components.items():
        if isinstance(m, torch.nn.Module) and name not in ("perception", "semantics"):
            assert {p.dtype for p in m.parameters()} == {torch.float32 if name == "keyframe_vae" else torch.float16}, name


# ------------------------------------------------------------------------------------------------ peak memory
_CHILD = r"""
import ctypes, gc, json, sys
import neuroclips  # the torchvision shim first
import open_clip, torch
from transformers import Blip2ForConditionalGeneration, CLIPTextModel  # imported before the first measurement
from diffusers import AutoencoderKL, MotionAdapter, UNet2DConditionModel
from neuroclips.zoo.full import loaders
from neuroclips.zoo.reconstructors import load_reconstructor

jobs = json.loads(sys.argv[1])
open_clip.add_model_config(jobs["open_clip_configs"])
f16 = torch.float16


def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))


def load(kind, j):
    if kind == "motion_module":
        return [loaders.load_motion_adapter(j["path"], j["config"], f16)]
    if kind == "unclip6":
        return list(loaders.load_unclip6(j["path"], j["config"], f16, 64))
    if kind == "base_model":
        return list(loaders.load_base_model(j["path"], j["sd15"], f16)[:3])
    if kind == "blip2":
        return [loaders.load_blip2(j["path"], f16)[0]]
    if kind == "bigg":
        return [loaders.load_bigg(j["path"], "MediumBigG", f16)]
    if kind == "reconstructor":
        return [load_reconstructor("semantics", 1, j["path"], f16)[0]]


results = {}
libc = ctypes.CDLL(None)
for kind, j in jobs["jobs"].items():
    gc.collect()
    libc.malloc_trim(0)  # hand the previous job's freed memory back, so that this job's growth is its own
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM, the peak resident set, to the current one
    before = status("VmRSS")
    models = load(kind, j)
    peak = status("VmHWM")
    tensors = {t.data_ptr(): t for m in models for t in list(m.parameters()) + list(m.buffers())}
    results[kind] = {"growth": peak - before, "model_bytes": sum(t.numel() * t.element_size() for t in tensors.values())}
    del models, tensors
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def medium_checkpoints(tmp_path_factory):
    """Checkpoints of 150-400 MB in the real files' formats and dtypes (fp32), big enough that an fp32 copy of
    the component, or its whole file resident, stands out of the noise."""
    import open_clip
    from diffusers import AutoencoderKL, DDIMScheduler, MotionAdapter, UNet2DConditionModel
    from transformers import (Blip2Config, Blip2ForConditionalGeneration, Blip2Processor, CLIPTextConfig,
                              CLIPTextModel)

    from neuroclips.models import SemanticsReconstructor
    from neuroclips.zoo import zoo_dir
    from neuroclips.zoo.mini import load_tokenizer

    root = tmp_path_factory.mktemp("medium")
    jobs = {}
    motion_cfg = dict(block_out_channels=(128, 256, 512, 512), motion_layers_per_block=2, motion_num_attention_heads=8,
                      motion_norm_num_groups=32, motion_max_seq_length=32, use_motion_mid_block=False)
    torch.save(layouts.animatediff_motion_state_dict(MotionAdapter(**motion_cfg)), root / "mm.ckpt")
    jobs["motion_module"] = {"path": str(root / "mm.ckpt"), "config": motion_cfg}

    unet = UNet2DConditionModel(block_out_channels=(128, 256, 256), layers_per_block=2, cross_attention_dim=512,
                                attention_head_dim=(2, 4, 4), transformer_layers_per_block=(1, 2, 2),
                                use_linear_projection=True, class_embed_type="projection",
                                projection_class_embeddings_input_dim=256,
                                down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"))
    vae = AutoencoderKL(block_out_channels=(32, 64), layers_per_block=1, down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2)
    torch.save({"state_dict": {**layouts.ldm_unet_state_dict(unet), **layouts.ldm_vae_state_dict(vae)}},
               root / "unclip6.ckpt")
    jobs["unclip6"] = {"path": str(root / "unclip6.ckpt"), "config": layouts.sgm_original_config(unet, vae)}

    tok = load_tokenizer()
    sd15 = root / "sd15"
    unet = UNet2DConditionModel(block_out_channels=(128, 256, 512), cross_attention_dim=256, attention_head_dim=8,
                                layers_per_block=2, down_block_types=("CrossAttnDownBlock2D",) * 2 + ("DownBlock2D",),
                                up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 2)
    text = CLIPTextModel(CLIPTextConfig(vocab_size=len(tok), hidden_size=256, intermediate_size=1024,
                                        num_hidden_layers=4, num_attention_heads=4))
    for name, obj in (("unet", unet), ("vae", vae), ("text_encoder", text), ("tokenizer", tok)):
        obj.save_pretrained(sd15 / name)
    DDIMScheduler().save_pretrained(sd15 / "scheduler")
    (sd15 / "model_index.json").write_text(json.dumps({  # as the sd15 artefact: StableDiffusionPipeline's layout
        "_class_name": "StableDiffusionPipeline", "feature_extractor": [None, None], "requires_safety_checker": False,
        "safety_checker": [None, None], "scheduler": ["diffusers", "DDIMScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]}))
    rv = {**layouts.ldm_unet_state_dict(unet), **layouts.ldm_vae_state_dict(vae), **layouts.ldm_clip_text_state_dict(text)}
    save_file({k: v.contiguous() for k, v in rv.items()}, root / "rv.safetensors")
    jobs["base_model"] = {"path": str(root / "rv.safetensors"), "sd15": str(sd15)}

    proc = Blip2Processor.from_pretrained(zoo_dir("mini") / "captioner")
    Blip2ForConditionalGeneration(Blip2Config(
        vision_config=dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=6, num_attention_heads=8),
        qformer_config=dict(hidden_size=512, num_hidden_layers=2, num_attention_heads=8, intermediate_size=2048,
                            encoder_hidden_size=512),
        text_config=dict(model_type="opt", vocab_size=50272, hidden_size=512, num_hidden_layers=8, ffn_dim=2048,
                         num_attention_heads=8, word_embed_proj_dim=512),
        image_token_index=50271)).save_pretrained(root / "blip2", max_shard_size="150MB")
    proc.save_pretrained(root / "blip2")
    jobs["blip2"] = {"path": str(root / "blip2")}

    cfg = {"embed_dim": 512, "vision_cfg": {"image_size": 224, "layers": 8, "width": 768, "head_width": 64,
                                            "patch_size": 14},
           "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 512, "heads": 8, "layers": 4}}
    (root / "MediumBigG.json").write_text(json.dumps(cfg))
    torch.save(open_clip.CLIP(**cfg).state_dict(), root / "open_clip_pytorch_model.bin")
    jobs["bigg"] = {"path": str(root / "open_clip_pytorch_model.bin")}

    SemanticsReconstructor(n_voxels=2000, hidden_dim=512, n_tokens=64, token_dim=512, text_dim=256,
                           prior_dim_head=64).save_pretrained(root / "reconstructors" / "sub-01" / "semantics")
    jobs["reconstructor"] = {"path": str(root / "reconstructors")}
    files = {"motion_module": [root / "mm.ckpt"], "unclip6": [root / "unclip6.ckpt"], "base_model": [root / "rv.safetensors"],
             "blip2": sorted((root / "blip2").glob("*.safetensors")), "bigg": [root / "open_clip_pytorch_model.bin"],
             "reconstructor": sorted((root / "reconstructors").rglob("*.safetensors"))}
    return {"jobs": jobs, "open_clip_configs": str(root)}, {k: sum(p.stat().st_size for p in v) for k, v in files.items()}


@linux_only
def test_loading_holds_the_model_plus_a_fraction_of_the_file(medium_checkpoints):
    """Each loader, in fp16, from fp32 files: the peak resident set grows by the loaded model plus less than half
    the file (an fp32 copy of the component, or every page of the file kept mapped, would be the whole file)."""
    spec, file_bytes = medium_checkpoints
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    run = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(spec)], capture_output=True, text=True, env=env,
                         cwd=REPO, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads(run.stdout.strip().splitlines()[-1])
    assert set(results) == set(file_bytes)
    over = {k: (f"grew {r['growth'] / 2**20:.0f} MiB for a {r['model_bytes'] / 2**20:.0f} MiB model from "
                f"{file_bytes[k] / 2**20:.0f} MiB of files")
            for k, r in results.items() if r["growth"] > r["model_bytes"] + file_bytes[k] // 2}
    assert not over, over


def test_legacy_torch_files_are_read_whole(tmp_path):
    """A pre-zip torch file cannot be mapped: it is read whole, with a warning, and cast all the same."""
    torch.save({"state_dict": {"w": torch.arange(6.0)}}, tmp_path / "old.pth", _use_new_zipfile_serialization=False)
    sd = lean.read_state_dict(tmp_path / "old.pth", torch.bfloat16, ("state_dict",))
    assert torch.equal(sd["w"], torch.arange(6.0, dtype=torch.bfloat16))


def test_bench_writers_stream_the_real_formats(tmp_path):
    """bench-load's writers: torch's zip format (nested container, a tensor's own values kept, the others random)
    and safetensors, each read back by the libraries themselves."""
    from safetensors import safe_open

    from neuroclips.evaluation import bench_load as bench

    pe = layouts.sinusoidal_positional_encoding(8, 32)
    container = {"controlnet": {"a.weight": bench._Spec((64, 32), torch.float32),
                                "a.pos_encoder.pe": bench._Spec(pe.shape, pe.dtype, pe),
                                "ids": bench._Spec((1, 77), torch.int64, torch.arange(77)[None])},
                 "animatediff_config": {"x": 1}, "global_step": 3}
    rng = bench._RandomBytes()
    bench.write_torch_checkpoint(tmp_path / "x.ckpt", container, rng)
    for mmap in (True, False):
        back = torch.load(tmp_path / "x.ckpt", mmap=mmap, weights_only=True)
        assert back["global_step"] == 3 and back["animatediff_config"] == {"x": 1}
        assert torch.equal(back["controlnet"]["a.pos_encoder.pe"], pe)
        assert torch.equal(back["controlnet"]["ids"], torch.arange(77)[None])
        w = back["controlnet"]["a.weight"]
        assert w.shape == (64, 32) and torch.isfinite(w).all() and 0.01 < w.std() < 0.03
    specs = {"w": bench._Spec((10, 3), torch.float16), "tied": bench._Spec((10, 3), torch.float16, fill_as="w"),
             "ids": bench._Spec((4,), torch.int64, torch.arange(4))}
    bench.write_safetensors(tmp_path / "x.safetensors", specs, rng, {"format": "pt"})
    with safe_open(str(tmp_path / "x.safetensors"), "pt") as f:
        assert f.metadata() == {"format": "pt"}
        assert torch.equal(f.get_tensor("w"), f.get_tensor("tied")) and f.get_tensor("w").dtype == torch.float16
        assert torch.equal(f.get_tensor("ids"), torch.arange(4))
