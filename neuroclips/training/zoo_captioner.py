"""Training of the mini zoo's captioner (BLIP-2 architecture) on simulated keyframe-caption pairs."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path



@dataclass(frozen=True)
class CaptionerTrainingConfig:
    seed: int = 0
    steps: int = 1500
    batch_size: int = 64
    lr: float = 5e-4
    checkpoint_every: int = 250
    threads: int = 2


def build_processor(captions: list[str], resolution: int = 64, num_query_tokens: int = 8):
    """``Blip2Processor`` with the project's tokenizer (learned on ``captions``) and CLIP normalisation."""
    from transformers import Blip2Processor, BlipImageProcessor

    from ..zoo.clip import CLIP_MEAN, CLIP_STD
    from ..zoo.mini.tokenizer import train_caption_tokenizer

    image_processor = BlipImageProcessor(size={"height": resolution, "width": resolution},
                                         image_mean=list(CLIP_MEAN), image_std=list(CLIP_STD))
    return Blip2Processor(image_processor=image_processor, tokenizer=train_caption_tokenizer(captions),
                          num_query_tokens=num_query_tokens)


def caption_batch(tokenizer, captions: list[str], image_token_id: int, num_query_tokens: int):
    """Input ids ``<image>*Q </s> caption </s> <pad>...`` as BLIP-2's generate starts them, and LM labels
    on the caption and its end token only."""
    import torch

    ids = [tokenizer(c, add_special_tokens=False).input_ids for c in captions]
    length = num_query_tokens + 2 + max(len(i) for i in ids)
    input_ids = torch.full((len(ids), length), tokenizer.pad_token_id)
    labels = torch.full((len(ids), length), -100)
    mask = torch.zeros((len(ids), length), dtype=torch.long)
    for r, seq in enumerate(ids):
        full = [image_token_id] * num_query_tokens + [tokenizer.bos_token_id] + seq + [tokenizer.eos_token_id]
        input_ids[r, : len(full)] = torch.tensor(full)
        mask[r, : len(full)] = 1
        labels[r, num_query_tokens + 1 : len(full)] = torch.tensor(seq + [tokenizer.eos_token_id])
    return input_ids, mask, labels


def train_captioner(out_dir: Path, work_dir: Path, data, cfg: CaptionerTrainingConfig = CaptionerTrainingConfig(),
                    resume: bool = False, progress: bool = True) -> dict:
    """Train ``Blip2ForConditionalGeneration`` on ``data`` (:class:`~neuroclips.training.data.CaptionedFrames`)."""
    import time

    import torch
    import torch.nn.functional as F
    from transformers import Blip2Config, Blip2ForConditionalGeneration

    from ..io import atomic_write_json
    from ..zoo.clip import pixel_values
    from ..zoo.mini.configs import blip2_config
    from .data import shift_augment
    from .loop import LoopConfig, history_summary, run_loop

    t0 = time.perf_counter()
    processor = build_processor(data.captions, data.frames.shape[1])
    tok = processor.tokenizer
    torch.manual_seed(cfg.seed)
    model = Blip2ForConditionalGeneration(Blip2Config(**blip2_config(tok, processor.num_query_tokens,
                                                                      data.frames.shape[1])))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-2)
    batches = caption_batch(tok, data.captions, model.config.image_token_index, model.config.num_query_tokens)

    def step_fn(step, rng):
        idx = rng.integers(0, len(data.frames), cfg.batch_size)
        x = pixel_values(shift_augment(data.frames[idx], rng))
        c = data.caption_index[idx]
        input_ids, mask, labels = (b[c] for b in batches)
        logits = model(pixel_values=x, input_ids=input_ids, attention_mask=mask).logits
        logits, labels = logits[:, :-1], labels[:, 1:]
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)
        valid = labels != -100
        acc = (logits.argmax(-1) == labels)[valid].float().mean()
        return loss, {"token_acc": acc}

    loop = LoopConfig(steps=cfg.steps, lr=cfg.lr, seed=cfg.seed, checkpoint_every=cfg.checkpoint_every,
                      threads=cfg.threads)
    result = run_loop("captioner", model, opt, step_fn, loop, work_dir, resume, progress)
    model.to(torch.float16).save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    info = {"steps": cfg.steps, "seconds_this_run": round(time.perf_counter() - t0, 1),
            "resumed_from": result["resumed_from"], "n_pairs": int(len(data.frames)),
            "final": history_summary(result["history"], result["metrics"]), "config": asdict(cfg)}
    atomic_write_json(Path(out_dir) / "training.json", info)
    return info
