"""The full zoo's memory plan and the random-weight bench: architectures checked against the real files' sizes."""

import json

import torch

from neuroclips.zoo.full.memory import checkpoint_parameter_counts, format_plan, parameter_counts, plan
from neuroclips.zoo.full.manifest import MANIFEST_PATH


def test_architectures_match_the_real_checkpoint_sizes():
    """fp32 files hold 4 bytes per parameter: the written-down architectures must account for each real file's
    bytes (its manifest size) within 1.5 % (pickle overhead, buffers such as positional encodings)."""
    sizes = {f["path"]: f["size"] for a in json.loads(MANIFEST_PATH.read_text())["artefacts"] for f in a["files"]}
    for name, n in checkpoint_parameter_counts().items():
        assert abs(4 * n - sizes[name]) / sizes[name] < 0.015, (name, 4 * n, sizes[name])


def test_memory_plan_fits_the_targets():
    counts = parameter_counts()
    assert 225e6 < counts["perception"] < 235e6  # spec §9.2: PR has 229 M parameters
    assert 3.7e9 < counts["caption_model"] < 3.8e9  # BLIP-2 OPT-2.7b
    p = plan(counts)
    assert p["fits_24gb_with_offload"] and p["fits_48gb_resident"]
    assert p["resident_weights_gib"] > 20  # so 24 GB needs offload: the plan must say so, not hide it
    assert "| keyframe (SR + prior + unclip6) |" in format_plan(p)


def test_random_weight_bench_runs_every_stage(tmp_path):
    """The GPU bench's code path at toy sizes on the CPU (the full-size numbers need a GPU: docs/benchmarks.md)."""
    import open_clip
    from diffusers.loaders.single_file_utils import create_unet_diffusers_config_from_ldm

    from neuroclips.zoo.full import configs
    from neuroclips.evaluation.bench_full import bench_random, full_architectures

    full = full_architectures()
    expected = create_unet_diffusers_config_from_ldm(configs.UNCLIP6_ORIGINAL_CONFIG, {})
    assert full["keyframe_unet"] == {**expected, "sample_size": 96}
    assert full["keyframe_unet"]["cross_attention_dim"] == 1664 and full["n_voxels"] == 13447
    (tmp_path / "ToyBigG.json").write_text(json.dumps(
        {"embed_dim": 8, "vision_cfg": {"image_size": 28, "layers": 1, "width": 16, "head_width": 8, "patch_size": 7},
         "text_cfg": {"context_length": 77, "vocab_size": 64, "width": 16, "heads": 2, "layers": 1}}))
    open_clip.add_model_config(tmp_path)
    vae = dict(block_out_channels=(16, 32), norm_num_groups=8, latent_channels=4, layers_per_block=1,
               down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2)
    unet = dict(block_out_channels=(32, 64), layers_per_block=1, norm_num_groups=8, cross_attention_dim=16,
                attention_head_dim=4, sample_size=8, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"))
    toy = {"perception": dict(inception_dim=16, hidden_dim=32, map_channels=32, map_size=4, upsampler_channels=(16, 32),
                              upsampler_groups=8, aux_dim=64),
           "semantics": dict(hidden_dim=32, n_tokens=4, token_dim=16, text_dim=16, prior_depth=1, prior_dim_head=8,
                             prior_ff_mult=1.0),
           "blurry_vae": vae, "keyframe_vae": {**vae, "scaling_factor": 0.13025, "force_upcast": True},
           "keyframe_unet": {**unet, "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D"),
                             "up_block_types": ("CrossAttnUpBlock2D", "UpBlock2D"), "class_embed_type": "projection",
                             "projection_class_embeddings_input_dim": 8},
           "blip2_vision": dict(hidden_size=16, intermediate_size=24, num_hidden_layers=1, num_attention_heads=2,
                                image_size=16, patch_size=8),
           "blip2_qformer": dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=24,
                                 encoder_hidden_size=16, vocab_size=64, max_position_embeddings=32),
           "blip2_text": dict(model_type="opt", vocab_size=64, hidden_size=16, num_hidden_layers=1, ffn_dim=24,
                              num_attention_heads=2, max_position_embeddings=64, word_embed_proj_dim=16),
           "text_encoder": dict(vocab_size=1024, hidden_size=16, intermediate_size=24, num_hidden_layers=1,
                                num_attention_heads=2, max_position_embeddings=77),
           "unet": unet,
           "motion_adapter": dict(block_out_channels=(32, 64), motion_layers_per_block=1, motion_num_attention_heads=2,
                                  motion_norm_num_groups=8, use_motion_mid_block=False),
           "sparsectrl": dict(block_out_channels=(32, 64), layers_per_block=1, norm_num_groups=8, cross_attention_dim=16,
                              attention_head_dim=4, down_block_types=("CrossAttnDownBlockMotion", "DownBlockMotion"),
                              motion_num_attention_heads=2, conditioning_embedding_out_channels=(8, 16)),
           "bigg_model": "ToyBigG", "n_voxels": 50}
    result = bench_random("cpu", torch.float32, repeats=1, architectures=toy, num_inference_steps=2, keyframe_steps=2,
                          prior_steps=2)
    assert set(result["cold_seconds"]) == {"blurry", "keyframe", "caption", "video"}
    assert all(v > 0 for v in result["warm_seconds_median"].values())
    assert result["steps"] == {"video": 2, "keyframe": 2, "prior": 2} and result["keyframe_size"] == 16
