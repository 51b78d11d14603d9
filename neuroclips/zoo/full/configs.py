"""Architectures of the full zoo's real checkpoints, written down so that nothing is fetched to build them.

Numbers follow spec §4.2 (unclip6), §5.1 (AnimateDiff v3, SparseCtrl RGB, DDIM), §4.3 (BLIP-2 OPT-2.7b) and the
diffusers/transformers class defaults that match the real files (noted per constant).
"""

from __future__ import annotations

# AnimateDiff v3 motion module (spec §5.1: motion modules at every resolution, none in the mid block, 8 heads,
# positional encoding up to 32 frames). MotionAdapter's other defaults are SD 1.5's widths.
MOTION_ADAPTER_V3 = {"block_out_channels": [320, 640, 1280, 1280], "motion_layers_per_block": 2,
                     "motion_num_attention_heads": 8, "motion_norm_num_groups": 32, "motion_max_seq_length": 32,
                     "use_motion_mid_block": False}

# SparseCtrl RGB (spec §5.1: latent condition with the simplified embedding, 4 channels + mask, 32-frame PE).
SPARSECTRL_RGB = {"conditioning_channels": 4, "use_simplified_condition_embedding": True, "concat_conditioning_mask": True,
                  "motion_max_seq_length": 32, "motion_num_attention_heads": 8, "attention_head_dim": 8,
                  "cross_attention_dim": 768, "block_out_channels": [320, 640, 1280, 1280]}

# The video sampler: AnimateDiff's linear β schedule, not SD's scaled_linear (spec §5.1).
VIDEO_SCHEDULER = {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "linear",
                   "steps_offset": 1, "clip_sample": False, "set_alpha_to_one": True}

# MindEye2's unclip6 as sgm describes it (src/generative_models/configs/unclip6.yaml, spec §4.2), in the shape
# diffusers' single-file converters read: network_config -> UNet2DConditionModel with cross_attention_dim 1664 and
# a 1024-d "projection" class embedding; first_stage_config -> the SDXL VAE.
UNCLIP6_ORIGINAL_CONFIG = {"model": {"target": "sgm.models.diffusion.DiffusionEngine", "params": {
    "scale_factor": 0.13025,
    "network_config": {"target": "sgm.modules.diffusionmodules.openaimodel.UNetModel", "params": {
        "adm_in_channels": 1024, "num_classes": "sequential", "in_channels": 4, "out_channels": 4,
        "model_channels": 320, "attention_resolutions": [4, 2], "num_res_blocks": 2, "channel_mult": [1, 2, 4],
        "num_head_channels": 64, "use_linear_in_transformer": True, "transformer_depth": [1, 2, 10],
        "context_dim": 1664}},
    "first_stage_config": {"target": "sgm.models.autoencoder.AutoencoderKL", "params": {
        "embed_dim": 4, "ddconfig": {"double_z": True, "z_channels": 4, "resolution": 256, "in_channels": 3,
                                     "out_ch": 3, "ch": 128, "ch_mult": [1, 2, 4, 4], "num_res_blocks": 2,
                                     "attn_resolutions": [], "dropout": 0.0}}}}}}
UNCLIP6_SIZE = 768  # 96x96 latents (spec §4.2)
UNCLIP6_STEPS = 38  # EulerEDMSampler, num_steps overridden from 50 to 38 (spec §4.2)
UNCLIP6_OFFSET_NOISE = 0.04
# sgm's LegacyDDPMDiscretization (sqrt-linear β 0.00085-0.012) with EpsScaling is diffusers' Euler on the
# scaled_linear schedule with epsilon prediction; the 38 timesteps themselves are sgm's (see pipeline.unclip).
UNCLIP6_SCHEDULER = {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012,
                     "beta_schedule": "scaled_linear", "prediction_type": "epsilon", "timestep_spacing": "leading"}

# The SD image-variation VAE that decodes PR's latents (MindEye2's sd_image_var_autoenc.pth): SD's VAE.
IMAGE_VARIATION_VAE = {"in_channels": 3, "out_channels": 3, "latent_channels": 4, "layers_per_block": 2,
                       "block_out_channels": [128, 256, 512, 512], "sample_size": 256,
                       "down_block_types": ["DownEncoderBlock2D"] * 4, "up_block_types": ["UpDecoderBlock2D"] * 4}

# BLIP-2 OPT-2.7b (spec §4.3); transformers' Blip2Config defaults are its vision tower and Q-Former.
BLIP2_OPT_2_7B_TEXT = {"model_type": "opt", "hidden_size": 2560, "ffn_dim": 10240, "num_hidden_layers": 32,
                       "num_attention_heads": 32, "vocab_size": 50272, "max_position_embeddings": 2048,
                       "word_embed_proj_dim": 2560}

# OpenCLIP ViT-bigG-14 laion2b_s39b_b160k: open_clip's built-in config of that name (spec §3.1).
BIGG_MODEL = "ViT-bigG-14"
BIGG_PRETRAINED_TAG = "laion2b_s39b_b160k"
