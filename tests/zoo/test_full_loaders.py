"""Every loader of the full zoo on a tiny synthetic checkpoint in the real file's key layout and container: no key
missing or unexpected, and every tensor lands where the source model had it."""

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from neuroclips.zoo.full import configs, loaders
from tests.zoo import original_layouts as layouts

TINY_UNET = dict(block_out_channels=(32, 64), layers_per_block=1, norm_num_groups=8, cross_attention_dim=16,
                 attention_head_dim=4, sample_size=8, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                 up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"))
TINY_MOTION = dict(block_out_channels=(32, 64), motion_layers_per_block=1, motion_num_attention_heads=2,
                   motion_norm_num_groups=8, motion_max_seq_length=32, use_motion_mid_block=False)
TINY_SPARSECTRL = dict(block_out_channels=(32, 64), layers_per_block=1, norm_num_groups=8, cross_attention_dim=16,
                       attention_head_dim=4, down_block_types=("CrossAttnDownBlockMotion", "DownBlockMotion"),
                       conditioning_channels=4, use_simplified_condition_embedding=True, motion_max_seq_length=32,
                       motion_num_attention_heads=2, conditioning_embedding_out_channels=(8, 16))
TINY_VAE = dict(block_out_channels=(16, 32), norm_num_groups=8, latent_channels=4, layers_per_block=1,
                down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2, sample_size=32)


def randomised(model, seed=0):
    """Distinct random values in every tensor, so a tensor in the wrong place cannot compare equal."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    return model.eval()


def assert_same_weights(loaded, source):
    a, b = loaded.state_dict(), source.state_dict()
    assert set(a) == set(b)
    for k in b:
        assert torch.equal(a[k].float(), b[k].float()), k


def test_motion_module_from_the_original_ckpt(tmp_path):
    from diffusers import MotionAdapter

    src = randomised(MotionAdapter(**TINY_MOTION))
    sd = layouts.animatediff_motion_state_dict(src)
    assert any(".temporal_transformer." in k for k in sd) and any("pos_encoder.pe" in k for k in sd)
    # the real file is a plain torch pickle; the reference keeps only motion_modules keys
    torch.save({"state_dict": {**sd, "extra.not_a_motion_module": torch.zeros(1)}}, tmp_path / "mm.ckpt")
    assert_same_weights(loaders.load_motion_adapter(tmp_path / "mm.ckpt", config=TINY_MOTION), src)

    del sd[next(k for k in sd if k.endswith("to_q.weight"))]
    torch.save(sd, tmp_path / "broken.ckpt")
    with pytest.raises(loaders.CheckpointMismatchError, match="1 missing keys"):
        loaders.load_motion_adapter(tmp_path / "broken.ckpt", config=TINY_MOTION)


def test_motion_module_with_another_positional_encoding_length_is_refused(tmp_path):
    from diffusers import MotionAdapter

    sd = layouts.animatediff_motion_state_dict(randomised(MotionAdapter(**TINY_MOTION)), max_len=24)
    torch.save(sd, tmp_path / "mm24.ckpt")
    with pytest.raises(loaders.CheckpointMismatchError, match="positional encoding"):
        loaders.load_motion_adapter(tmp_path / "mm24.ckpt", config=TINY_MOTION)


def test_sparsectrl_rgb_from_the_original_ckpt(tmp_path):
    from diffusers import SparseControlNetModel

    src = randomised(SparseControlNetModel(**TINY_SPARSECTRL))
    # weights under "controlnet", beside a non-tensor config entry, as v3_sd15_sparsectrl_rgb.ckpt
    torch.save({"controlnet": {**layouts.sparsectrl_state_dict(src), "animatediff_config": {"use_simplified": True}}},
               tmp_path / "sparsectrl.ckpt")
    assert_same_weights(loaders.load_sparsectrl(tmp_path / "sparsectrl.ckpt", config=TINY_SPARSECTRL), src)


def test_domain_adapter_lora_is_merged_as_the_reference(tmp_path):
    from diffusers import UNet2DConditionModel

    unet = randomised(UNet2DConditionModel(**TINY_UNET))
    before = {k: v.clone() for k, v in unet.state_dict().items()}
    g = torch.Generator().manual_seed(1)
    lora, expected = {}, {}
    for name, module in unet.named_modules():
        if name.endswith((".attn1", ".attn2")):
            for proj, target in (("to_q", "to_q"), ("to_k", "to_k"), ("to_v", "to_v"), ("to_out", "to_out.0")):
                w = module.get_submodule(target).weight
                down, up = torch.randn(2, w.shape[1], generator=g), torch.randn(w.shape[0], 2, generator=g)
                lora[f"{name}.processor.{proj}_lora.down.weight"] = down
                lora[f"{name}.processor.{proj}_lora.up.weight"] = up
                expected[f"{name}.{target}.weight"] = before[f"{name}.{target}.weight"] + up @ down
    torch.save({"state_dict": lora}, tmp_path / "adapter.ckpt")
    assert loaders.merge_domain_adapter(unet, tmp_path / "adapter.ckpt") == len(expected)
    after = unet.state_dict()
    for k, v in after.items():
        torch.testing.assert_close(v, expected.get(k, before[k]), rtol=0, atol=1e-6, msg=k)
    lora["mid_block.nowhere.processor.to_q_lora.down.weight"] = lora.popitem()[1]
    torch.save(lora, tmp_path / "bad.ckpt")
    with pytest.raises(loaders.CheckpointMismatchError):
        loaders.merge_domain_adapter(unet, tmp_path / "bad.ckpt")


@pytest.fixture(scope="module")
def sd15_folder(tmp_path_factory):
    """A tiny SD 1.5-layout pipeline folder (configs + tokenizer, as the manifest downloads) and its models."""
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from neuroclips.zoo.mini import load_tokenizer

    root = tmp_path_factory.mktemp("sd15")
    tok = load_tokenizer()
    unet = randomised(UNet2DConditionModel(**{**TINY_UNET, "down_block_types": ("CrossAttnDownBlock2D", "DownBlock2D")}))
    vae = randomised(AutoencoderKL(**TINY_VAE), 1)
    text = randomised(CLIPTextModel(CLIPTextConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32,
                                                   num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=77,
                                                   bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                                                   pad_token_id=tok.pad_token_id)), 2)
    for name, obj in (("unet", unet), ("vae", vae), ("text_encoder", text), ("tokenizer", tok)):
        obj.save_pretrained(root / name)
    DDIMScheduler().save_pretrained(root / "scheduler")
    (root / "model_index.json").write_text(
        '{"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.42.1", "feature_extractor": [null, null], '
        '"requires_safety_checker": false, "safety_checker": [null, null], "scheduler": ["diffusers", "DDIMScheduler"], '
        '"text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"], '
        '"unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]}')
    return {"root": root, "unet": unet, "vae": vae, "text_encoder": text, "tokenizer": tok}


def test_realistic_vision_single_file_into_sd15_components(tmp_path, sd15_folder):
    f = sd15_folder
    sd = {**layouts.ldm_unet_state_dict(f["unet"]), **layouts.ldm_vae_state_dict(f["vae"]),
          **layouts.ldm_clip_text_state_dict(f["text_encoder"])}
    save_file({k: v.contiguous() for k, v in sd.items()}, tmp_path / "rv.safetensors")
    unet, vae, text, tok = loaders.load_base_model(tmp_path / "rv.safetensors", f["root"])
    assert_same_weights(unet, f["unet"])
    assert_same_weights(vae, f["vae"])
    assert_same_weights(text, f["text_encoder"])
    assert tok("a cat").input_ids == f["tokenizer"]("a cat").input_ids


@pytest.fixture(scope="module")
def unclip_like():
    """A tiny unclip6-shaped UNet (no attention at the first level, depth list, linear projections, projection class
    embedding fed with the size vector) and SDXL-shaped VAE."""
    from diffusers import AutoencoderKL, UNet2DConditionModel

    # sgm configs cannot say norm_num_groups: diffusers' converter always builds 32 groups
    unet = randomised(UNet2DConditionModel(
        block_out_channels=(32, 64, 64), layers_per_block=1, norm_num_groups=32, cross_attention_dim=12,
        attention_head_dim=(2, 4, 4), transformer_layers_per_block=(1, 2, 2), use_linear_projection=True,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"), class_embed_type="projection",
        projection_class_embeddings_input_dim=8, sample_size=8), 3)
    vae = randomised(AutoencoderKL(**{**TINY_VAE, "block_out_channels": (32, 64), "norm_num_groups": 32,
                                      "scaling_factor": 0.13025}), 4)
    return unet, vae


def test_unclip6_sgm_checkpoint_into_diffusers(tmp_path, unclip_like):
    unet, vae = unclip_like
    cfg = layouts.sgm_original_config(unet, vae)
    sd = {**layouts.ldm_unet_state_dict(unet), **layouts.ldm_vae_state_dict(vae),
          "conditioner.embedders.0.model.visual.proj": torch.zeros(4, 4)}  # the bigG conditioner is not needed
    torch.save({"state_dict": sd, "global_step": 110000}, tmp_path / "unclip6.ckpt")
    k_unet, k_vae = loaders.load_unclip6(tmp_path / "unclip6.ckpt", original_config=cfg)
    assert_same_weights(k_unet, unet)
    assert_same_weights(k_vae, vae)
    assert k_unet.config.class_embed_type == "projection" and k_unet.config.cross_attention_dim == 12
    assert k_vae.config.scaling_factor == 0.13025 and k_vae.config.force_upcast
    assert k_unet.config.sample_size == 768 // 2  # unclip6's 768 px through this VAE's factor 2
    del sd[next(k for k in sd if k.startswith("model.diffusion_model.output_blocks"))]
    with pytest.raises(loaders.CheckpointMismatchError, match="unclip6 UNet"):
        loaders.load_unclip6(sd, original_config=cfg)


def test_unclip6_real_architecture_from_its_config():
    """The written-down unclip6 config converts to the architecture spec §4.2 describes."""
    cfg, vae_cfg = loaders.unclip6_diffusers_configs()
    assert vae_cfg["scaling_factor"] == 0.13025 and vae_cfg["force_upcast"]
    assert cfg["cross_attention_dim"] == 1664 and cfg["class_embed_type"] == "projection"
    assert cfg["projection_class_embeddings_input_dim"] == 1024 and cfg["sample_size"] == 96
    assert list(cfg["transformer_layers_per_block"]) == [1, 2, 10] and list(cfg["attention_head_dim"]) == [5, 10, 20]
    assert cfg["down_block_types"][0] == "DownBlock2D" and cfg["use_linear_projection"]


def test_keyframe_sampler_follows_sgm(unclip_like):
    """Euler on sgm's 38 timesteps, the size/crop vector as class labels, N(0,1) unconditional tokens, offset noise
    and the clamp(0.8x + 0.2) colour mapping (spec §4.2)."""
    from diffusers import EulerDiscreteScheduler

    from neuroclips.pipeline.unclip import UnCLIPKeyframePipeline, sgm_timesteps, size_conditioning

    unet, vae = unclip_like
    pipe = UnCLIPKeyframePipeline(unet, EulerDiscreteScheduler(**configs.UNCLIP6_SCHEDULER), vae,
                                  colour_mapping="mindeye2", offset_noise=0.04, discretization="sgm")
    steps = sgm_timesteps(38)
    assert steps[0] == 999 and steps[-1] == 26 and len(steps) == 38  # linspace(999, 0, 38, endpoint=False)
    pipe.set_timesteps(38, "cpu")
    assert pipe.scheduler.timesteps.long().tolist() == steps
    # sgm's sigmas: sqrt((1 - abar) / abar) on the sqrt-linear schedule, at exactly those timesteps
    betas = torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=torch.float64) ** 2
    abar = torch.cumprod(1 - betas, 0)
    torch.testing.assert_close(pipe.scheduler.sigmas[:-1].double(), ((1 - abar) / abar).sqrt()[steps], rtol=1e-5, atol=0)
    # vector: cos|sin of (768, 768, 0, 0), 256 each for the real 1024-d input
    v = size_conditioning((768, 768), (0, 0), 1024)[0]
    freqs = torch.exp(-np.log(10000) * torch.arange(128) / 128)
    torch.testing.assert_close(v[:256], torch.cat([torch.cos(768 * freqs), torch.sin(768 * freqs)]))
    torch.testing.assert_close(v[512:768], torch.cat([torch.ones(128), torch.zeros(128)]))
    seen = []
    unet_forward = unet.forward
    unet.forward = lambda *a, **k: seen.append(k["class_labels"]) or unet_forward(*a, **k)
    try:
        out = pipe(torch.randn(1, 6, 12), num_inference_steps=3, guidance_scale=5.0, unconditional="noise",
                   generator=torch.Generator().manual_seed(0))
    finally:
        unet.forward = unet_forward
    assert len(seen) == 3 and seen[0].shape == (2, 8)  # CFG batch, both branches with the same vector
    torch.testing.assert_close(seen[0][0], size_conditioning((pipe.image_size,) * 2, (0, 0), 8)[0])
    z = out.latents
    decoded = vae.decode(z / vae.config.scaling_factor).sample
    expected = ((0.8 * decoded + 0.2).clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()
    np.testing.assert_array_equal(out.images, expected)


def test_keyframe_from_an_init_image_with_euler_runs_the_tail_of_the_schedule(unclip_like):
    """keyframe_init="blurry" on unclip6's Euler: noise to σ at the start step, then down to σ = 0."""
    from diffusers import EulerDiscreteScheduler

    from neuroclips.pipeline.unclip import UnCLIPKeyframePipeline

    unet, vae = unclip_like
    pipe = UnCLIPKeyframePipeline(unet, EulerDiscreteScheduler(**configs.UNCLIP6_SCHEDULER), vae, discretization="sgm")
    calls = []
    unet_forward = unet.forward
    unet.forward = lambda *a, **k: calls.append(a[1]) or unet_forward(*a, **k)
    try:
        pipe(torch.randn(1, 6, 12), num_inference_steps=8, guidance_scale=1.0, strength=0.5,
             image=np.zeros((1, pipe.image_size, pipe.image_size, 3), np.uint8), generator=torch.Generator().manual_seed(0))
    finally:
        unet.forward = unet_forward
    assert len(calls) == 4 and int(calls[0]) == pipe.scheduler.timesteps[4]
    assert pipe.scheduler.step_index == 8  # ended on the last σ (0), not half-way down the schedule


def test_image_variation_vae_with_old_attention_names(tmp_path):
    from diffusers import AutoencoderKL

    src = randomised(AutoencoderKL(**TINY_VAE))
    old = {k.replace(".to_q.", ".query.").replace(".to_k.", ".key.").replace(".to_v.", ".value.")
           .replace(".to_out.0.", ".proj_attn."): v for k, v in src.state_dict().items()}
    assert any(".query." in k for k in old)
    torch.save(old, tmp_path / "sd_image_var_autoenc.pth")
    assert_same_weights(loaders.load_image_variation_vae(tmp_path / "sd_image_var_autoenc.pth", config=TINY_VAE), src)


def test_bigg_tokens_through_open_clip(tmp_path):
    """Patch tokens after ln_post, CLS dropped, not projected, as sgm's FrozenOpenCLIPImageEmbedder returns them;
    the pooled output is open_clip's image embedding."""
    import json

    import open_clip

    cfg = {"embed_dim": 8, "vision_cfg": {"image_size": 28, "layers": 2, "width": 16, "head_width": 8, "patch_size": 7},
           "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 1}}
    (tmp_path / "TinyBigG.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(tmp_path)
    model = randomised(open_clip.create_model("TinyBigG", pretrained=None), 5)
    torch.save(model.state_dict(), tmp_path / "open_clip_pytorch_model.bin")
    enc = loaders.load_bigg(tmp_path / "open_clip_pytorch_model.bin", model_name="TinyBigG")
    images = torch.rand(2, 3, 28, 28) * 2 - 1
    tokens = enc.sgm_tokens(images)
    assert tokens.shape == (2, 16, 16)  # (28/7)^2 patches x width
    v = model.visual
    mean, std = torch.tensor(open_clip.OPENAI_DATASET_MEAN), torch.tensor(open_clip.OPENAI_DATASET_STD)
    x = ((images + 1) / 2 - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
    with torch.no_grad():
        h = v.conv1(x).flatten(2).transpose(1, 2)
        h = torch.cat([v.class_embedding.expand(2, 1, -1), h], 1) + v.positional_embedding
        h = v.ln_post(v.transformer(v.ln_pre(h)))
        torch.testing.assert_close(tokens, h[:, 1:])
        torch.testing.assert_close(enc(x).image_embeds, model.encode_image(x))


def _blip2(proc, seed):
    from transformers import Blip2Config, Blip2ForConditionalGeneration

    cfg = Blip2Config(vision_config=dict(hidden_size=16, intermediate_size=24, num_hidden_layers=1, num_attention_heads=2,
                                         image_size=proc.image_processor.size["height"], patch_size=8),
                      qformer_config=dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=24,
                                          encoder_hidden_size=16, vocab_size=64, max_position_embeddings=32),
                      text_config=dict(model_type="opt", vocab_size=len(proc.tokenizer), hidden_size=16,
                                       num_hidden_layers=1, ffn_dim=24, num_attention_heads=2,
                                       max_position_embeddings=64, word_embed_proj_dim=16),
                      num_query_tokens=proc.num_query_tokens,
                      image_token_index=proc.tokenizer.convert_tokens_to_ids("<image>"))
    return randomised(Blip2ForConditionalGeneration(cfg), seed)


def test_blip2_from_the_downloaded_folder(tmp_path):
    from transformers import Blip2Processor

    from neuroclips.pipeline.caption import Captioner
    from neuroclips.zoo import zoo_dir

    proc = Blip2Processor.from_pretrained(zoo_dir("mini") / "captioner")
    src = _blip2(proc, 6)
    src.save_pretrained(tmp_path)
    proc.save_pretrained(tmp_path)
    model, processor = loaders.load_blip2(tmp_path)
    assert_same_weights(model, src)
    caption = Captioner(model, processor)(np.zeros((1, 32, 32, 3), np.uint8))
    assert isinstance(caption[0], str)


def tiny_full_zoo(tmp_path, sd15_folder):
    """A whole full-zoo folder of tiny checkpoints in the real files' formats under ``tmp_path / "full"``: (root,
    architectures, manifest artefacts with the tiny files' sizes, the domain adapter's LoRA)."""
    import dataclasses
    import json
    import shutil

    import open_clip
    from diffusers import AutoencoderKL, MotionAdapter, SparseControlNetModel, UNet2DConditionModel
    from transformers import Blip2Processor

    from neuroclips.paths import reconstructor_dir
    from neuroclips.zoo import zoo_dir
    from neuroclips.zoo.full import load_manifest

    root = tmp_path / "full"
    f = sd15_folder
    shutil.copytree(f["root"], root / "sd15")
    (root / "base_model").mkdir()
    rv = {**layouts.ldm_unet_state_dict(f["unet"]), **layouts.ldm_vae_state_dict(f["vae"]),
          **layouts.ldm_clip_text_state_dict(f["text_encoder"])}
    save_file({k: v.contiguous() for k, v in rv.items()}, root / "base_model" / "realisticVisionV60B1_v51VAE.safetensors")
    (root / "animatediff").mkdir()
    motion = randomised(MotionAdapter(**TINY_MOTION), 7)
    torch.save(layouts.animatediff_motion_state_dict(motion), root / "animatediff" / "v3_sd15_mm.ckpt")
    lora = {}
    for name, module in f["unet"].named_modules():
        if name.endswith(".attn1"):
            w = module.to_q.weight
            lora[f"{name}.processor.to_q_lora.down.weight"] = torch.randn(2, w.shape[1])
            lora[f"{name}.processor.to_q_lora.up.weight"] = torch.randn(w.shape[0], 2)
    torch.save(lora, root / "animatediff" / "v3_sd15_adapter.ckpt")
    sparse = randomised(SparseControlNetModel(**TINY_SPARSECTRL), 8)
    torch.save({"controlnet": layouts.sparsectrl_state_dict(sparse)}, root / "animatediff" / "v3_sd15_sparsectrl_rgb.ckpt")
    # unclip6-shaped UNet attending to the shipped SR's tokens
    sr_config = json.loads((reconstructor_dir(1, "semantics") / "config.json").read_text())
    k_unet = randomised(UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, norm_num_groups=32, cross_attention_dim=sr_config["token_dim"],
        attention_head_dim=(2, 4), use_linear_projection=True, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), class_embed_type="projection",
        projection_class_embeddings_input_dim=8), 9)
    k_vae = randomised(AutoencoderKL(**{**TINY_VAE, "block_out_channels": (32, 64), "norm_num_groups": 32,
                                        "scaling_factor": 0.13025}), 10)
    unclip_cfg = layouts.sgm_original_config(k_unet, k_vae)
    (root / "mindeye2").mkdir()
    torch.save({"state_dict": {**layouts.ldm_unet_state_dict(k_unet), **layouts.ldm_vae_state_dict(k_vae)}},
               root / "mindeye2" / "unclip6_epoch0_step110000.ckpt")
    blurry_vae = randomised(AutoencoderKL(**TINY_VAE), 11)
    torch.save(blurry_vae.state_dict(), root / "mindeye2" / "sd_image_var_autoenc.pth")
    proc = Blip2Processor.from_pretrained(zoo_dir("mini") / "captioner")
    _blip2(proc, 12).save_pretrained(root / "blip2")
    proc.save_pretrained(root / "blip2")
    cfg = {"embed_dim": 8, "vision_cfg": {"image_size": 28, "layers": 1, "width": 16, "head_width": 8, "patch_size": 7},
           "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 1}}
    (tmp_path / "TinyBigG.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(tmp_path)
    (root / "bigg").mkdir()
    torch.save(open_clip.create_model("TinyBigG", pretrained=None).state_dict(), root / "bigg" / "open_clip_pytorch_model.bin")

    # the real manifest, with the tiny files' sizes and BLIP-2 saved as one shard
    arts = []
    for a in load_manifest(subjects=(1,)):
        files = tuple(dataclasses.replace(x, exact_size=False) for x in a.files)
        if a.name == "blip2":
            files = tuple(dataclasses.replace(files[0], path=p) for p in ("config.json", "model.safetensors"))
        if a.name == "sd15":  # the tiny tokenizer is saved as tokenizer.json, the real one as vocab.json + merges.txt
            files = tuple(dataclasses.replace(files[0], path=str(p.relative_to(root / "sd15")))
                          for p in sorted((root / "sd15").rglob("*.json")))
        arts.append(dataclasses.replace(a, files=files))
    arch = {"motion_adapter": TINY_MOTION, "sparsectrl": TINY_SPARSECTRL, "unclip6": unclip_cfg, "unclip6_size": 32,
            "image_variation_vae": TINY_VAE, "bigg_model": "TinyBigG"}
    return root, arch, arts, lora


def test_full_zoo_assembles_from_real_formats_and_reconstructs(tmp_path, sd15_folder):
    """A whole full-zoo folder of tiny checkpoints in the real files' formats -> NeuroClipsPipeline -> one clip."""
    import json

    from neuroclips.data import load_subject
    from neuroclips.paths import demo_data_dir, reconstructor_dir
    from neuroclips.pipeline import NeuroClipsPipeline
    from neuroclips.zoo.full import assemble_components

    root, arch, arts, lora = tiny_full_zoo(tmp_path, sd15_folder)
    f = sd15_folder
    sr_config = json.loads((reconstructor_dir(1, "semantics") / "config.json").read_text())
    components, versions = assemble_components(subject=1, reconstructors=demo_data_dir() / "reconstructors", root=root,
                                               dtype=torch.float32, architectures=arch, artefacts=arts)
    assert versions["zoo/full/animatediff"] == "fdfe36afa161" and versions["zoo/full/blip2"] == "51572668da0e"
    pipe = NeuroClipsPipeline(**components)
    pipe.set_progress_bar_config(disable=True)
    pipe.versions = versions
    # the LoRA landed in the video UNet's spatial attention on top of the base model's weights
    name = next(iter(lora)).rsplit(".processor.", 1)[0]
    up, down = lora[f"{name}.processor.to_q_lora.up.weight"], lora[f"{name}.processor.to_q_lora.down.weight"]
    torch.testing.assert_close(pipe.unet.get_submodule(f"{name}.to_q").weight,
                               f["unet"].get_submodule(f"{name}.to_q").weight + up @ down)
    clip = load_subject("simulated", 1).clip("test", 0)
    out = pipe(clip.fmri, num_inference_steps=2, prior_steps=2, keyframe_steps=2, seed=0)
    assert out.video.shape == (16, 16, 16, 3) and out.keyframe.shape == (32, 32, 3)
    assert out.settings["keyframe_unconditional"] == "noise"  # the full zoo's default, as the reference
    assert isinstance(out.caption, str) and out.settings["versions"]["zoo/full/mindeye2"] == "26421f100e4c"
    same, score = pipe.same_class(out.keyframe, out.keyframe, "cosine")  # bigG embeddings for fusion
    assert same and score == pytest.approx(1.0, abs=1e-5) and pipe.fusion_thresholds["cosine"] == 0.8
    # retrieval's two sides: SR's clip_voxels and bigG's tokens of the same width
    tokens = pipe.image_tokens(np.zeros((2, 32, 32, 3), np.uint8))
    assert tokens.shape == (2, 16, 16)
    assert pipe.clip_voxels(torch.as_tensor(clip.fmri)[None]).shape[-1] == sr_config["token_dim"]
    assert versions["zoo/full/base_model"].startswith("files-")  # unpinned: a digest of the files, not "main"


def test_full_zoo_runs_in_fp16_and_bf16_on_the_cpu(tmp_path, sd15_folder):
    """The full zoo's sampling (sgm Euler with offset noise, bigG, BLIP-2, the SDXL VAE kept in fp32) in fp16 and bf16:
    every module in its dtype, no NaN/inf anywhere, and outputs near fp32's (one seed, the same noise in every
    dtype; measured on these tiny random models: ≤ 0.03 grey levels on average, with the outputs' std 5-16)."""
    from neuroclips.data import load_subject
    from neuroclips.evaluation.doctor import watch_nonfinite
    from neuroclips.paths import demo_data_dir
    from neuroclips.pipeline import NeuroClipsPipeline
    from neuroclips.zoo.full import GUIDANCE_DEFAULTS, assemble_components

    root, arch, arts, _ = tiny_full_zoo(tmp_path, sd15_folder)
    fmri = load_subject("simulated", 1).clip("test", 0).fmri
    outs = {}
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        components, _ = assemble_components(subject=1, reconstructors=demo_data_dir() / "reconstructors", root=root,
                                            dtype=dtype, architectures=arch, artefacts=arts)
        pipe = NeuroClipsPipeline(**components, guidance_defaults=GUIDANCE_DEFAULTS)
        pipe.set_progress_bar_config(disable=True)
        with watch_nonfinite(pipe) as nonfinite:
            outs[dtype] = pipe(fmri, num_inference_steps=2, prior_steps=2, keyframe_steps=2, seed=0)
        assert nonfinite == [], (dtype, nonfinite)
        assert pipe.keyframe_vae.dtype == torch.float32 and pipe.unet.dtype == dtype and pipe.caption_model.dtype == dtype
    for dtype in (torch.float16, torch.bfloat16):
        for key in ("blurry_frames", "keyframe", "video"):
            a, b = getattr(outs[dtype], key).astype(float), getattr(outs[torch.float32], key).astype(float)
            assert np.abs(a - b).mean() <= 0.3 and np.abs(a - b).mean() < 0.05 * b.std(), (dtype, key)
