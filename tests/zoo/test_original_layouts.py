"""Self-checks of ``tests.zoo.original_layouts``: every synthetic original-layout checkpoint converts back, through
diffusers' own converters and public ``from_single_file`` loaders, to exactly the model it was written from."""

import pytest
import torch
import yaml
from safetensors.torch import save_file

from tests.zoo import original_layouts as layouts


def randomised(model, seed=0):
    """Distinct random values in every parameter, so that a tensor landing in the wrong place cannot compare equal
    (default inits have many identical ones/zeros tensors)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    return model.eval()


def assert_exact(converted: dict, model, ignore_suffix=()):
    """``converted`` has exactly ``model``'s state-dict keys (but those ending in ``ignore_suffix``) and tensors."""
    expected = {k: v for k, v in model.state_dict().items() if not k.endswith(tuple(ignore_suffix))}
    missing, unexpected = sorted(set(expected) - set(converted)), sorted(set(converted) - set(expected))
    assert not missing and not unexpected, f"missing {missing[:5]}, unexpected {unexpected[:5]}"
    for k, v in expected.items():
        assert converted[k].shape == v.shape and torch.equal(converted[k], v), k


def assert_loaded(loaded, source):
    """A model from ``from_single_file`` equals ``source``: no parameter left on the meta device (diffusers does
    not report missing keys), every tensor (buffers included) identical."""
    meta = [n for n, p in loaded.named_parameters() if p.device.type == "meta"]
    assert not meta, f"not loaded: {meta[:5]}"
    assert_exact(loaded.state_dict(), source)


def same_config(a, b, keys):
    """Config values equal, lists and tuples alike."""
    def norm(v):
        return list(v) if isinstance(v, (list, tuple)) else v

    for key in keys:
        assert norm(a[key]) == norm(b[key]), (key, a[key], b[key])


def shares_memory(original_layout: dict, model) -> bool:
    ptrs = {v.data_ptr() for v in model.state_dict().values()}
    return all(v.data_ptr() in ptrs for k, v in original_layout.items() if not k.endswith(("pos_encoder.pe",
                                                                                          "position_ids")))


# ------------------------------------------------------------------------------------------------ tiny models
# LDM/sgm GroupNorms always have 32 groups and diffusers' original_config mapping cannot change that, so the models
# loaded through `original_config=` use norm_num_groups=32 (and channel counts that are multiples of 32).
SD15_UNET = dict(block_out_channels=(32, 64, 64), layers_per_block=2, norm_num_groups=32, cross_attention_dim=16,
                 attention_head_dim=2, sample_size=8,
                 down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
                 up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"))
SDXL_UNET = dict(block_out_channels=(32, 64, 64), layers_per_block=1, norm_num_groups=32, cross_attention_dim=12,
                 attention_head_dim=(2, 4, 4), transformer_layers_per_block=[1, 2, 3], use_linear_projection=True,
                 down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
                 up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
                 class_embed_type="projection", projection_class_embeddings_input_dim=8, sample_size=8)
SMALL_UNET = dict(block_out_channels=(32, 64), layers_per_block=1, norm_num_groups=8, cross_attention_dim=16,
                  attention_head_dim=4, sample_size=8, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                  up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"))
VAE = dict(block_out_channels=(16, 32), norm_num_groups=8, latent_channels=4, layers_per_block=1, sample_size=32,
           down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2)
VAE32 = dict(VAE, block_out_channels=(32, 64), norm_num_groups=32, scaling_factor=0.13025)
CLIP = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, vocab_size=100,
            max_position_embeddings=77, bos_token_id=0, eos_token_id=1, pad_token_id=1)
MOTION_V3 = dict(block_out_channels=(32, 64), motion_layers_per_block=1, motion_num_attention_heads=2,
                 motion_norm_num_groups=8, motion_max_seq_length=32, use_motion_mid_block=False)
MOTION_V2 = dict(MOTION_V3, motion_layers_per_block=2, use_motion_mid_block=True)
SPARSECTRL = dict(block_out_channels=(32, 64), layers_per_block=1, norm_num_groups=8, cross_attention_dim=16,
                  attention_head_dim=4, down_block_types=("CrossAttnDownBlockMotion", "DownBlockMotion"),
                  conditioning_channels=4, use_simplified_condition_embedding=True, motion_max_seq_length=32,
                  motion_num_attention_heads=2)


@pytest.fixture(scope="module")
def models():
    from diffusers import AutoencoderKL, MotionAdapter, SparseControlNetModel, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    return {
        "sd15": randomised(UNet2DConditionModel(**SD15_UNET), 1),
        "sdxl": randomised(UNet2DConditionModel(**SDXL_UNET), 2),
        "vae": randomised(AutoencoderKL(**VAE), 3),
        "vae32": randomised(AutoencoderKL(**VAE32), 4),
        "clip": randomised(CLIPTextModel(CLIPTextConfig(**CLIP)), 5),
        "mm_v3": randomised(MotionAdapter(**MOTION_V3), 6),
        "mm_v2": randomised(MotionAdapter(**MOTION_V2), 7),
        "sparsectrl": randomised(SparseControlNetModel(**SPARSECTRL), 8),
    }


# ------------------------------------------------------------------------------------------------ UNet
@pytest.mark.parametrize("name", ["sd15", "sdxl"])
def test_ldm_unet_layout_converts_back_exactly(models, name):
    from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint

    unet = models[name]
    sd = layouts.ldm_unet_state_dict(unet)
    assert all(k.startswith("model.diffusion_model.") for k in sd) and shares_memory(sd, unet)
    assert {"model.diffusion_model.time_embed.0.weight", "model.diffusion_model.out.2.weight",
            "model.diffusion_model.middle_block.1.proj_in.weight",
            "model.diffusion_model.middle_block.2.emb_layers.1.weight"} <= set(sd)
    if name == "sd15":  # conv proj_in, attention on the first level, 2 res blocks per level
        assert sd["model.diffusion_model.input_blocks.1.1.proj_in.weight"].ndim == 4
        assert "model.diffusion_model.input_blocks.3.0.op.weight" in sd
        assert "model.diffusion_model.output_blocks.2.1.conv.weight" in sd  # UpBlock2D's upsampler
        assert "model.diffusion_model.output_blocks.5.2.conv.weight" in sd  # after a SpatialTransformer
    else:  # sgm: no attention at the first level, depth list, linear projections, label_emb
        assert not any(k.startswith("model.diffusion_model.input_blocks.1.1.") for k in sd)
        assert sd["model.diffusion_model.input_blocks.3.1.proj_in.weight"].ndim == 2
        assert "model.diffusion_model.input_blocks.5.1.transformer_blocks.2.attn2.to_k.weight" in sd
        assert sd["model.diffusion_model.label_emb.0.0.weight"].shape == (128, 8)
        assert "model.diffusion_model.label_emb.0.2.bias" in sd
    assert_exact(convert_ldm_unet_checkpoint(sd, dict(unet.config)), unet)


def test_sd15_unet_from_single_file(models, tmp_path):
    from diffusers import UNet2DConditionModel

    unet, vae = models["sd15"], models["vae32"]
    save_file(layouts.ldm_unet_state_dict(unet), tmp_path / "sd15.safetensors")
    path = str(tmp_path / "sd15.safetensors")
    # diffusers-folder config: the folder holding config.json, or a pipeline folder with subfolder="unet"
    unet.save_config(tmp_path / "pipe" / "unet")
    assert_loaded(UNet2DConditionModel.from_single_file(path, config=str(tmp_path / "pipe" / "unet")), unet)
    assert_loaded(UNet2DConditionModel.from_single_file(path, config=str(tmp_path / "pipe"), subfolder="unet"), unet)
    # LDM original config, as a dict and as a yaml file path (a str: a pathlib.Path would be taken for a dict)
    cfg = layouts.ldm_original_config(unet, vae)
    (tmp_path / "v1-inference.yaml").write_text(yaml.safe_dump(cfg))
    for original_config in (cfg, str(tmp_path / "v1-inference.yaml")):
        loaded = UNet2DConditionModel.from_single_file(path, original_config=original_config)
        assert_loaded(loaded, unet)
        same_config(loaded.config, unet.config, ("down_block_types", "up_block_types", "block_out_channels",
                                                 "attention_head_dim", "cross_attention_dim", "layers_per_block",
                                                 "use_linear_projection", "transformer_layers_per_block"))
        # sample_size is not read from the config: a tiny checkpoint is taken for SD 1.x, 512 px // VAE factor
        assert loaded.config.sample_size == 512 // 2


def test_sgm_original_config_reproduces_the_unet(models, tmp_path):
    from diffusers import UNet2DConditionModel
    from diffusers.loaders.single_file_utils import create_unet_diffusers_config_from_ldm

    unet, vae = models["sdxl"], models["vae32"]
    cfg = layouts.sgm_original_config(unet, vae)
    net = cfg["model"]["params"]["network_config"]["params"]
    assert net["num_classes"] == "sequential" and net["adm_in_channels"] == 8 and net["num_head_channels"] == 16
    assert net["transformer_depth"] == [1, 2, 3] and net["attention_resolutions"] == [2, 4]
    assert cfg["model"]["params"]["scale_factor"] == 0.13025
    sd = layouts.ldm_unet_state_dict(unet)
    config = create_unet_diffusers_config_from_ldm(cfg, sd)
    same_config(config, unet.config, ("down_block_types", "up_block_types", "block_out_channels", "layers_per_block",
                                      "cross_attention_dim", "use_linear_projection", "class_embed_type",
                                      "projection_class_embeddings_input_dim", "in_channels", "out_channels",
                                      "attention_head_dim", "transformer_layers_per_block"))
    rebuilt = UNet2DConditionModel(**config).state_dict()
    assert {k: v.shape for k, v in rebuilt.items()} == {k: v.shape for k, v in unet.state_dict().items()}

    save_file(sd, tmp_path / "unclip.safetensors")
    assert_loaded(UNet2DConditionModel.from_single_file(str(tmp_path / "unclip.safetensors"), original_config=cfg),
                  unet)


def test_original_configs_refuse_what_they_cannot_express():
    from diffusers import AutoencoderKL, UNet2DConditionModel

    with torch.device("meta"):
        unet, vae = UNet2DConditionModel(**SMALL_UNET), AutoencoderKL(**VAE)
        unet32, vae32 = UNet2DConditionModel(**SD15_UNET), AutoencoderKL(**VAE32)
    with pytest.raises(ValueError, match="norm_num_groups"):
        layouts.ldm_original_config(unet, vae32)
    with pytest.raises(ValueError, match="norm_num_groups"):
        layouts.sgm_original_config(unet32, vae)


# ------------------------------------------------------------------------------------------------ VAE
def test_ldm_vae_layout_converts_back_exactly(models):
    from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint

    vae = models["vae"]
    sd = layouts.ldm_vae_state_dict(vae)
    assert shares_memory(sd, vae)
    p = "first_stage_model."
    assert sd[p + "encoder.mid.attn_1.q.weight"].shape == (32, 32, 1, 1)
    assert sd[p + "decoder.mid.attn_1.proj_out.weight"].shape == (32, 32, 1, 1)
    assert {p + "encoder.down.0.downsample.conv.weight", p + "encoder.down.1.block.0.nin_shortcut.weight",
            p + "decoder.up.1.upsample.conv.weight", p + "decoder.up.0.block.0.nin_shortcut.weight",
            p + "encoder.norm_out.weight", p + "quant_conv.weight", p + "post_quant_conv.weight",
            p + "encoder.mid.block_2.conv2.weight"} <= set(sd)
    # decoder.up is numbered from the lowest resolution: up.1 is diffusers' first up block (32 channels)
    assert sd[p + "decoder.up.1.block.0.conv1.weight"].shape[0] == 32
    assert_exact(convert_ldm_vae_checkpoint(sd, dict(vae.config)), vae)
    bare = layouts.ldm_vae_state_dict(vae, prefix="")  # a standalone VAE file
    assert_exact(convert_ldm_vae_checkpoint(bare, dict(vae.config)), vae)


def test_vae_from_single_file(models, tmp_path):
    from diffusers import AutoencoderKL

    vae = models["vae"]
    save_file(layouts.ldm_vae_state_dict(vae, prefix=""), tmp_path / "vae.safetensors")
    vae.save_config(tmp_path / "vae")
    assert_loaded(AutoencoderKL.from_single_file(str(tmp_path / "vae.safetensors"), config=str(tmp_path / "vae")), vae)

    # through an sgm original config, from a .ckpt nesting the weights under "state_dict" (unwrapped by diffusers)
    vae32 = models["vae32"]
    cfg = layouts.sgm_original_config(models["sdxl"], vae32)
    torch.save({"state_dict": layouts.ldm_vae_state_dict(vae32), "global_step": 3}, tmp_path / "model.ckpt")
    loaded = AutoencoderKL.from_single_file(str(tmp_path / "model.ckpt"), original_config=cfg)
    assert_loaded(loaded, vae32)
    assert loaded.config.scaling_factor == 0.13025 and list(loaded.config.block_out_channels) == [32, 64]
    assert loaded.config.sample_size == 512  # not vae.config.sample_size: inferred from the checkpoint's keys


# ------------------------------------------------------------------------------------------------ CLIP text
@pytest.mark.parametrize("prefix", ["cond_stage_model.transformer.text_model.",
                                    "conditioner.embedders.0.transformer.text_model."])
def test_ldm_clip_layout_loads_through_diffusers(models, tmp_path, prefix):
    from diffusers.loaders.single_file_utils import convert_ldm_clip_checkpoint, create_diffusers_clip_model_from_ldm
    from transformers import CLIPTextModel

    clip = models["clip"]
    sd = layouts.ldm_clip_text_state_dict(clip, prefix=prefix, include_position_ids=True)
    assert sd[prefix + "embeddings.position_ids"].dtype == torch.int64 and shares_memory(sd, clip)
    # the converter yields transformers' pre-5.6 names; diffusers strips "text_model." for the flattened class
    converted = {k.removeprefix("text_model."): v for k, v in convert_ldm_clip_checkpoint(sd).items()}
    assert_exact({k: v for k, v in converted.items() if k != "embeddings.position_ids"}, clip)
    clip.config.save_pretrained(tmp_path / "text_encoder")
    loaded = create_diffusers_clip_model_from_ldm(CLIPTextModel, sd, config=str(tmp_path / "text_encoder"),
                                                  local_files_only=True)
    assert_loaded(loaded, clip)


# ------------------------------------------------------------------------------------------------ AnimateDiff
@pytest.mark.parametrize("name", ["mm_v3", "mm_v2"])
def test_animatediff_motion_layout(models, tmp_path, name):
    from diffusers import MotionAdapter
    from diffusers.loaders.single_file_utils import convert_animatediff_checkpoint_to_diffusers

    adapter = models[name]
    sd = layouts.animatediff_motion_state_dict(adapter)
    assert shares_memory(sd, adapter)
    t = "down_blocks.0.motion_modules.0.temporal_transformer."
    assert {t + "norm.weight", t + "proj_in.weight", t + "proj_out.bias",
            t + "transformer_blocks.0.attention_blocks.1.to_out.0.weight", t + "transformer_blocks.0.norms.0.bias",
            t + "transformer_blocks.0.norms.1.weight", t + "transformer_blocks.0.ff_norm.weight",
            t + "transformer_blocks.0.ff.net.0.proj.weight"} <= set(sd)
    pes = {k: v for k, v in sd.items() if k.endswith("pos_encoder.pe")}
    n_blocks = len({k.rsplit(".attention_blocks", 1)[0] for k in pes})
    assert len(pes) == 2 * n_blocks  # one per attention block: (Temporal_Self, Temporal_Self)
    assert sd[t + "transformer_blocks.0.attention_blocks.0.pos_encoder.pe"].shape == (1, 32, 32)
    assert any(k.startswith("mid_block.motion_modules.0.temporal_transformer.") for k in sd) == (name == "mm_v2")
    own_pe = adapter.state_dict()["down_blocks.1.motion_modules.0.transformer_blocks.0.pos_embed.pe"]
    assert torch.allclose(sd["down_blocks.1.motion_modules.0.temporal_transformer.transformer_blocks.0."
                             "attention_blocks.1.pos_encoder.pe"], own_pe)
    assert_exact(convert_animatediff_checkpoint_to_diffusers(sd), adapter, ignore_suffix=["pos_embed.pe"])
    assert not any("pos_encoder" in k for k in layouts.animatediff_motion_state_dict(adapter, max_len=None))
    assert layouts.animatediff_motion_state_dict(adapter, max_len=24)[t + "transformer_blocks.0.attention_blocks.0."
                                                                       "pos_encoder.pe"].shape == (1, 24, 32)

    save_file(sd, tmp_path / "mm.safetensors")
    adapter.save_config(tmp_path / "adapter")
    assert_loaded(MotionAdapter.from_single_file(str(tmp_path / "mm.safetensors"), config=str(tmp_path / "adapter")),
                  adapter)


def test_sparsectrl_layout(models, tmp_path):
    from diffusers import SparseControlNetModel
    from diffusers.loaders.single_file_utils import convert_animatediff_checkpoint_to_diffusers

    controlnet = models["sparsectrl"]
    sd = layouts.sparsectrl_state_dict(controlnet)
    assert shares_memory(sd, controlnet)
    t = "down_blocks.1.motion_modules.0.temporal_transformer.transformer_blocks.0."
    assert {"controlnet_cond_embedding.weight", "conv_in.weight", "controlnet_mid_block.weight",
            "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight",  # spatial names stay diffusers'
            t + "attention_blocks.0.to_q.weight", t + "attention_blocks.0.pos_encoder.pe", t + "norms.0.weight",
            t + "ff_norm.weight"} <= set(sd)
    # SparseCtrl's temporal blocks have a single self-attention ("Temporal_Self",): no attention_blocks.1 / norms.1
    assert not any(".attention_blocks.1." in k or ".norms.1." in k for k in sd)
    assert_exact(convert_animatediff_checkpoint_to_diffusers(sd), controlnet, ignore_suffix=["pos_embed.pe"])

    save_file(sd, tmp_path / "sparsectrl.safetensors")
    controlnet.save_config(tmp_path / "controlnet")
    loaded = SparseControlNetModel.from_single_file(str(tmp_path / "sparsectrl.safetensors"),
                                                    config=str(tmp_path / "controlnet"))
    assert_loaded(loaded, controlnet)
