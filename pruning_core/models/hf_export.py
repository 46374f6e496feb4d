"""Export a pruned ``hf:`` model as a Hugging Face checkpoint directory (``--out DIR`` ->
``DIR/hf``).

The directory holds ``config.json`` (and ``generation_config.json``), the source's
tokenizer files or ``preprocessor_config.json``, and ``model.safetensors`` with dense
tensors (the pruned zeros included), so ``AutoModelForCausalLM`` (or
``AutoModelForImageClassification``) ``.from_pretrained(DIR/hf)`` loads it with plain
``transformers`` and computes what the run reported.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from torch import nn

from pruning_core.models.hf import TOKENIZER_FILES, load_tokenizer
from pruning_core.models.hf_vision import PREPROCESSOR

HF_DIR = "hf"


def _untie_if_changed(model: nn.Module) -> None:
    """Record untied embeddings when pruning changed ``lm_head`` apart from the embedding."""
    config = getattr(model, "config", None)
    if config is None or not getattr(config, "tie_word_embeddings", False):
        return
    head = model.get_output_embeddings()  # type: ignore[operator]
    embedding = model.get_input_embeddings()  # type: ignore[operator]
    if head is None or embedding is None or head.weight is embedding.weight:
        return
    if not torch.equal(head.weight, embedding.weight):
        config.tie_word_embeddings = False


def export_hf(model: nn.Module, source: Path, out: Path) -> Path:
    """Write ``model`` (a loaded Hugging Face model) with the tokenizer or the image
    preprocessor of ``source`` into ``out``.

    Args:
        model: the run's stored model (plain tensors, masks baked in).
        source: the checkpoint directory the model came from (its tokenizer or
            ``preprocessor_config.json`` is copied).
        out: the directory to write (created).
    """
    out.mkdir(parents=True, exist_ok=True)
    _untie_if_changed(model)
    model.save_pretrained(str(out), safe_serialization=True)  # type: ignore[operator]
    if (source / PREPROCESSOR).is_file():
        shutil.copyfile(source / PREPROCESSOR, out / PREPROCESSOR)
    if any((source / name).is_file() for name in TOKENIZER_FILES):
        load_tokenizer(source).save_pretrained(str(out))
    return out
