"""Configs of the mini zoo's components, sized for the simulated world's 64-px frames on 2 CPU cores."""

from __future__ import annotations


def vae_config(resolution: int = 64) -> dict:
    """``AutoencoderKL`` with SD's layout: 4 blocks (downsampling factor 8) and 4 latent channels, so a
    64-px frame becomes a 4x8x8 latent as a 224-px frame becomes 4x28x28 in the full zoo (spec §2)."""
    return dict(in_channels=3, out_channels=3, latent_channels=4, sample_size=resolution,
                down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                block_out_channels=(24, 48, 96, 96), layers_per_block=1, norm_num_groups=8, act_fn="silu")


def clip_config(tokenizer, resolution: int = 64) -> dict:
    """``CLIPModel``: a ViT image tower with 8-px patches (an 8x8 grid of tokens, the mini zoo's 256x1664
    bigG tokens, spec §3.1) and a text tower over the mini BPE that doubles as the text-to-video text
    encoder, as SD 1.5's CLIP-L text tower does."""
    width = 128
    return dict(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=width, intermediate_size=4 * width, num_hidden_layers=4,
                         num_attention_heads=4, max_position_embeddings=tokenizer.model_max_length,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id),
        vision_config=dict(hidden_size=width, intermediate_size=4 * width, num_hidden_layers=4, num_attention_heads=4,
                           image_size=resolution, patch_size=8),
        projection_dim=128)


def keyframe_unet_config(cross_attention_dim: int = 128, latent_size: int = 8) -> dict:
    """unCLIP ``UNet2DConditionModel`` over the VAE's 4x8x8 latents, cross-attending to the CLIP image
    tokens as MindEye2's unclip6 UNet attends to bigG's 256x1664 tokens (spec §3.4)."""
    return dict(sample_size=latent_size, in_channels=4, out_channels=4, layers_per_block=1,
                block_out_channels=(48, 96, 96),
                down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
                cross_attention_dim=cross_attention_dim, attention_head_dim=4, norm_num_groups=16)


def sd_scheduler_config() -> dict:
    """SD's noise schedule (scaled-linear betas 0.00085-0.012 over 1,000 steps, epsilon prediction), shared by
    the keyframe generator and the text-to-video model for training (``DDPMScheduler``)."""
    return dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                clip_sample=False, prediction_type="epsilon")


def ddim_config() -> dict:
    """Sampling with DDIM and SD 1.5's offsets ('leading' spacing, steps_offset 1: 25 steps start at t=961)."""
    return dict(sd_scheduler_config(), set_alpha_to_one=False, steps_offset=1, timestep_spacing="leading")


def blip2_config(tokenizer, num_query_tokens: int = 8, resolution: int = 64) -> dict:
    """``Blip2Config``: ViT image encoder, Q-Former and an OPT language model, at the mini zoo's size.
    ``tokenizer`` is the captioner's tokenizer *after* the processor added ``<image>``."""
    width = 128
    return dict(
        vision_config=dict(hidden_size=width, intermediate_size=4 * width, num_hidden_layers=3, num_attention_heads=4,
                           image_size=resolution, patch_size=8),
        qformer_config=dict(hidden_size=width, num_hidden_layers=2, num_attention_heads=4, intermediate_size=4 * width,
                            encoder_hidden_size=width, vocab_size=16, max_position_embeddings=32),
        text_config=dict(model_type="opt", vocab_size=len(tokenizer), hidden_size=width, num_hidden_layers=3,
                         ffn_dim=4 * width, num_attention_heads=4, max_position_embeddings=64, word_embed_proj_dim=width,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id),
        num_query_tokens=num_query_tokens, image_token_index=tokenizer.convert_tokens_to_ids("<image>"))


def t2v_configs(cross_attention_dim: int = 128, latent_size: int = 8) -> dict:
    """The text-to-video model as the full zoo splits it (spec §5): a spatial ``UNet2DConditionModel`` (SD 1.5's
    role), a ``MotionAdapter`` (AnimateDiff v3's motion modules) and a ``SparseControlNetModel`` fed VAE latents
    of the keyframe plus a mask (SparseCtrl RGB, ``use_simplified_condition_embedding``)."""
    channels, groups, heads = (64, 128), 16, 4
    unet = dict(sample_size=latent_size, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=channels,
                down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
                cross_attention_dim=cross_attention_dim, attention_head_dim=heads, norm_num_groups=groups)
    motion_adapter = dict(block_out_channels=channels, motion_layers_per_block=1, motion_num_attention_heads=heads,
                          motion_norm_num_groups=groups, motion_max_seq_length=32, use_motion_mid_block=False)
    controlnet = dict(in_channels=4, conditioning_channels=4, block_out_channels=channels, layers_per_block=1,
                      down_block_types=("CrossAttnDownBlockMotion", "DownBlockMotion"),
                      cross_attention_dim=cross_attention_dim, attention_head_dim=heads, norm_num_groups=groups,
                      motion_num_attention_heads=heads, motion_max_seq_length=32, concat_conditioning_mask=True,
                      use_simplified_condition_embedding=True)
    return {"unet": unet, "motion_adapter": motion_adapter, "controlnet": controlnet}
