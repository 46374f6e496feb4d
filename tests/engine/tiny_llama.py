"""A tiny random-init Llama checkpoint in Hugging Face layout, with tokenizer and text.

Built in seconds without any download: a byte-level BPE tokenizer (vocabulary 320) trained
on part of Python's bundled documentation, a 2-block Llama of width 32, and that text.
"""

from __future__ import annotations

from pathlib import Path

import torch

from pruning_core.models.hf import transformers_module

TEXT_TOPICS = 25  # pydoc topics in the text file (~117 KB, ~40K tokens)


def pydoc_sample(topics: int = TEXT_TOPICS) -> str:
    from pydoc_data.topics import topics as all_topics

    return "\n\n".join(all_topics[name] for name in sorted(all_topics)[:topics])


def make_llama_dir(root: Path, layers: int = 2, tie: bool = False) -> Path:
    """Write ``root/model`` (checkpoint + tokenizer) and ``root/text.txt``; returns ``root``."""
    from tokenizers import ByteLevelBPETokenizer

    root.mkdir(parents=True, exist_ok=True)
    text = pydoc_sample()
    (root / "text.txt").write_text(text, encoding="utf-8")
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator([text], vocab_size=320, min_frequency=2, special_tokens=["<eos>"])
    hf = transformers_module()
    tokenizer = hf.PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, eos_token="<eos>")
    model_dir = root / "model"
    tokenizer.save_pretrained(str(model_dir))
    torch.manual_seed(0)
    config = hf.LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=128,
        tie_word_embeddings=tie,
    )
    hf.LlamaForCausalLM(config).save_pretrained(str(model_dir))
    return root
