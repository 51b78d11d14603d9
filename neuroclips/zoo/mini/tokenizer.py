"""An offline CLIP tokenizer for the mini zoo, with a BPE vocabulary learned from the project's own text.

The full zoo uses OpenAI CLIP's 49,408-token BPE; it cannot be downloaded here, so the mini zoo learns a
small BPE (the `tokenizers` library) on the training clips' captions and the prompts of γ guidance, with
CLIP's normalisation, word splitting and end-of-word suffix. Words outside the vocabulary (e.g. the
test-only categories) fall back to byte-level pieces, as in any BPE.
"""

from __future__ import annotations

import json

SPECIAL_TOKENS = ("<|startoftext|>", "<|endoftext|>")
_CLIP_SPLIT = r"'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"  # CLIP's word pattern


def train_clip_tokenizer(corpus: list[str], vocab_size: int = 512, model_max_length: int = 77):
    """A ``transformers.CLIPTokenizer`` whose BPE vocabulary and merges are learned on ``corpus``."""
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import CLIPTokenizer

    bpe = Tokenizer(models.BPE(end_of_word_suffix="</w>", unk_token=SPECIAL_TOKENS[1]))
    bpe.normalizer = normalizers.Lowercase()
    bpe.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(_CLIP_SPLIT), behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False),
    ])
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
                                  end_of_word_suffix="</w>", initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    bpe.train_from_iterator(corpus, trainer)
    model = json.loads(bpe.to_str())["model"]
    return CLIPTokenizer(vocab=model["vocab"], merges=[tuple(m) for m in model["merges"]],
                         model_max_length=model_max_length)


def train_caption_tokenizer(corpus: list[str], vocab_size: int = 384):
    """The captioner's tokenizer: a byte-level BPE learned on ``corpus``, in OPT's conventions (``</s>`` as
    both BOS and EOS, ``<pad>``), as BLIP-2 OPT uses GPT-2's BPE. Returns a ``GPT2TokenizerFast``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2TokenizerFast

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.normalizer = None
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<pad>", "</s>", "<unk>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    bpe.train_from_iterator(corpus, trainer)
    return GPT2TokenizerFast(tokenizer_object=bpe, bos_token="</s>", eos_token="</s>", unk_token="<unk>",
                             pad_token="<pad>")
