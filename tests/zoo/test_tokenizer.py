"""The mini zoo's offline CLIP tokenizer."""

import pytest
from transformers import CLIPTextConfig, CLIPTextModel

from neuroclips.pipeline.prompts import GENERIC_PROMPT, NEGATIVE_PROMPT, QUALITY_SUFFIX, video_prompt
from neuroclips.zoo import zoo_dir
from neuroclips.zoo.mini import load_tokenizer
from neuroclips.zoo.mini.tokenizer import train_clip_tokenizer

CORPUS = ["a tabby cat with a horse running to the left, zooming in", "a cup of coffee on a table"] * 5


def test_learned_vocabulary_keeps_corpus_words_whole_and_falls_back_to_bytes(tmp_path):
    tok = train_clip_tokenizer(CORPUS + [NEGATIVE_PROMPT], vocab_size=400)
    ids = tok("A tabby cat, zooming in").input_ids
    pieces = tok.convert_ids_to_tokens(ids)
    assert pieces[0] == "<|startoftext|>" and pieces[-1] == "<|endoftext|>"
    assert pieces[1:-1] == ["a</w>", "tabby</w>", "cat</w>", ",</w>", "zooming</w>", "in</w>"]  # lower-cased
    unseen = tok.convert_ids_to_tokens(tok("moon").input_ids)[1:-1]
    assert len(unseen) > 1  # an unseen word falls back to smaller pieces
    tok.save_pretrained(tmp_path)
    again = type(tok).from_pretrained(tmp_path)
    assert again("a tabby cat").input_ids == tok("a tabby cat").input_ids
    # Usable by a CLIP text tower of the same vocabulary size (as the T2V text encoder).
    model = CLIPTextModel(CLIPTextConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32,
                                         num_attention_heads=2, num_hidden_layers=1, max_position_embeddings=77,
                                         bos_token_id=0, eos_token_id=1, pad_token_id=1))
    batch = tok([video_prompt("a tabby cat")], padding="max_length", max_length=77, return_tensors="pt")
    assert model(**batch).last_hidden_state.shape == (1, 77, 16)


def test_prompts_follow_the_reference():
    assert video_prompt("a cat") == "a cat" + QUALITY_SUFFIX
    assert video_prompt(None) == GENERIC_PROMPT == "a smooth video"


@pytest.mark.skipif(not (zoo_dir("mini") / "tokenizer").exists(), reason="tokenizer not built")
@pytest.mark.shipped
def test_shipped_tokenizer_covers_the_captions_and_prompts(shipped_subject):
    tok = load_tokenizer()
    for i in range(0, 1200, 97):
        caption = shipped_subject.caption("train", i * 3)
        pieces = tok.convert_ids_to_tokens(tok(caption).input_ids)[1:-1]
        assert len(pieces) == len(caption.replace(",", " ,").split())  # one token per word
    assert len(tok(video_prompt("a tabby cat")).input_ids) <= 77
    assert len(tok(NEGATIVE_PROMPT, truncation=True).input_ids) <= 77
