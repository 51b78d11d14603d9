"""A tiny random model zoo built from configs, as diffusers tests its pipelines (the tests, and ``doctor`` on a new
host): every component of
:class:`~neuroclips.pipeline.NeuroClipsPipeline` at the mini zoo's frame and latent sizes (64 px, 4x8x8 latents,
16 frames) but a few channels wide, so pipeline, app and UI behaviour is tested in seconds. The outputs mean
nothing; shapes, switches, caching, determinism and files are what the tests check. ``register_tiny_zoo`` makes it
loadable by name ("tiny") through the zoo registry, with PR/SR checkpoints per subject written to a folder."""

from __future__ import annotations

from pathlib import Path

import torch

from .reconstructors import load_reconstructors
from .registry import Zoo, register_zoo

WIDTH = 16  # CLIP width = SR token width = cross-attention width


def _seeded(seed: int, build):
    """Build a module with a fixed seed, and give the layers diffusers initialises at zero (SparseCtrl's outputs,
    zero convs) small random values, so every guidance input changes the output."""
    torch.manual_seed(seed)
    module = build()
    with torch.no_grad():
        for p in module.parameters():
            if p.ndim > 1 and not p.any():
                p.normal_(0.0, 0.1)
    return module.eval()


def tiny_reconstructors(n_voxels: int, seed: int = 0) -> dict:
    from ..models import PerceptionReconstructor, SemanticsReconstructor

    return {"perception": _seeded(seed, lambda: PerceptionReconstructor(
                n_voxels, inception_dim=4, hidden_dim=16, n_blocks=1, map_channels=8, map_size=4,
                upsampler_channels=(8, 8), upsampler_groups=4, aux_dim=8)),
            "semantics": _seeded(seed + 1, lambda: SemanticsReconstructor(
                n_voxels, hidden_dim=16, n_blocks=1, n_tokens=64, token_dim=WIDTH, text_dim=WIDTH, prior_depth=1,
                prior_dim_head=8, prior_ff_mult=1.0, prior_timesteps=20))}


def tiny_components(seed: int = 0) -> dict:
    """The zoo's components (no PR/SR), random and deterministic for ``seed``."""
    from diffusers import (AutoencoderKL, DDIMScheduler, MotionAdapter, SparseControlNetModel, UNet2DConditionModel,
                           UNetMotionModel)
    from transformers import Blip2Config, Blip2ForConditionalGeneration, Blip2Processor, CLIPConfig, CLIPModel

    from ..models import KeyframeSimilarityClassifier
    from .mini import image_encoder, load_tokenizer, mini_root, text_encoder
    from .mini.configs import ddim_config

    tokenizer = load_tokenizer()  # the shipped mini BPE (kilobytes): real prompts tokenise as in the mini zoo
    processor = Blip2Processor.from_pretrained(mini_root() / "captioner")
    ctok = processor.tokenizer
    vae = _seeded(seed, lambda: AutoencoderKL(
        latent_channels=4, sample_size=64, down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(8, 8, 8, 8), layers_per_block=1,
        norm_num_groups=4))
    clip = _seeded(seed + 1, lambda: CLIPModel(CLIPConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=WIDTH, intermediate_size=2 * WIDTH, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=tokenizer.model_max_length,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id),
        vision_config=dict(hidden_size=WIDTH, intermediate_size=2 * WIDTH, num_hidden_layers=1, num_attention_heads=2,
                           image_size=64, patch_size=8),
        projection_dim=WIDTH)))
    keyframe_unet = _seeded(seed + 2, lambda: UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(16, 16),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=WIDTH, attention_head_dim=2, norm_num_groups=4))
    caption_model = _seeded(seed + 3, lambda: Blip2ForConditionalGeneration(Blip2Config(
        vision_config=dict(hidden_size=WIDTH, intermediate_size=2 * WIDTH, num_hidden_layers=1, num_attention_heads=2,
                           image_size=64, patch_size=16),
        qformer_config=dict(hidden_size=WIDTH, num_hidden_layers=1, num_attention_heads=2, intermediate_size=2 * WIDTH,
                            encoder_hidden_size=WIDTH, vocab_size=16, max_position_embeddings=32),
        text_config=dict(model_type="opt", vocab_size=len(ctok), hidden_size=WIDTH, num_hidden_layers=1, ffn_dim=2 * WIDTH,
                         num_attention_heads=2, max_position_embeddings=64, word_embed_proj_dim=WIDTH, tie_word_embeddings=False,
                         bos_token_id=ctok.bos_token_id, eos_token_id=ctok.eos_token_id, pad_token_id=ctok.pad_token_id),
        num_query_tokens=4, image_token_index=ctok.convert_tokens_to_ids("<image>"))))
    # random weights would caption in control characters or stop at once: only printable tokens, at least three
    # random weights would caption in control characters, or stop at once: the output layer only reaches words
    # (in the weights, so that save_pretrained keeps it)
    with torch.no_grad():
        caption_model.language_model.get_output_embeddings().weight[
            [i for i in range(len(ctok)) if not ctok.decode([i]).strip().isalpha()]] = 0.0
    blocks = dict(block_out_channels=(16, 16), norm_num_groups=4)
    unet2d = _seeded(seed + 4, lambda: UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, cross_attention_dim=WIDTH, attention_head_dim=2,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        **blocks))
    adapter = _seeded(seed + 5, lambda: MotionAdapter(
        block_out_channels=(16, 16), motion_layers_per_block=1, motion_num_attention_heads=2, motion_norm_num_groups=4,
        motion_max_seq_length=32, use_motion_mid_block=False))
    controlnet = _seeded(seed + 6, lambda: SparseControlNetModel(
        in_channels=4, conditioning_channels=4, layers_per_block=1, cross_attention_dim=WIDTH, attention_head_dim=2,
        down_block_types=("CrossAttnDownBlockMotion", "DownBlockMotion"), motion_num_attention_heads=2,
        motion_max_seq_length=32, concat_conditioning_mask=True, use_simplified_condition_embedding=True,
        conditioning_embedding_out_channels=(8, 8), **blocks))
    return {"blurry_vae": vae, "keyframe_unet": keyframe_unet, "keyframe_scheduler": DDIMScheduler(**ddim_config()),
            "keyframe_vae": vae, "caption_model": caption_model, "caption_processor": processor, "vae": vae,
            "text_encoder": text_encoder(clip), "tokenizer": tokenizer,
            "unet": UNetMotionModel.from_unet2d(unet2d, adapter).eval(), "controlnet": controlnet,
            "scheduler": DDIMScheduler(**ddim_config()), "image_encoder": image_encoder(clip),
            "fusion_classifier": _seeded(seed + 7, lambda: KeyframeSimilarityClassifier(embed_dim=WIDTH, hidden_dim=8)),
            "perception": None, "semantics": None}


def _digest(components: dict) -> str:
    import hashlib

    h = hashlib.sha256()
    for name, module in sorted(components.items()):
        if isinstance(module, torch.nn.Module):
            for key, value in module.state_dict().items():
                h.update(f"{name}.{key}".encode())
                h.update(value.detach().float().numpy().tobytes())
    return h.hexdigest()[:12]


def write_reconstructors(root: Path, n_voxels: dict[int, int]) -> Path:
    """Tiny PR/SR checkpoints ``root/sub-0N/{perception,semantics}`` for each subject (its voxel count)."""
    for subject, n in n_voxels.items():
        for name, model in tiny_reconstructors(n, seed=10 * subject).items():
            model.save_pretrained(root / f"sub-{subject:02d}" / name)
    return root


def register_tiny_zoo(reconstructors: Path, name: str = "tiny") -> Zoo:
    """Register the tiny zoo; its subjects' PR/SR come from ``reconstructors`` (see :func:`write_reconstructors`).
    Its guidance defaults are the mini zoo's, with few steps."""

    def load(subject=1, reconstructors=None, root=None, dtype=None):
        components = tiny_components()
        if dtype is not None:
            components = {k: v.to(dtype) if isinstance(v, torch.nn.Module) else v for k, v in components.items()}
        versions = {"zoo/tiny": _digest(components)}  # results cached under an older tiny zoo are not reused
        if subject is not None:
            folder = Path(reconstructors) if reconstructors is not None else rec_root
            models, model_versions = load_reconstructors(subject, folder, dtype)
            components.update(models)
            versions.update(model_versions)
        return components, versions

    rec_root = Path(reconstructors)
    return register_zoo(Zoo(name=name, description="tiny random components (tests)", load=load,
                            root=lambda root=None: rec_root, reconstructors_root=lambda root=None: rec_root,
                            defaults={"keyframe_steps": 2, "keyframe_unconditional": "zeros", "num_inference_steps": 2,
                                      "prior_steps": 2}))
