"""The shipped tiny language model ``tiny_lm`` and its default text data.

A Llama trained by :mod:`sample_models.train_tiny_lm` on Python's bundled documentation
(``pydoc_data.topics``), stored in Hugging Face layout in ``tiny_lm/`` with its tokenizer
and the text it was trained on. ``model: tiny_lm`` without ``data:`` calibrates and
evaluates on that text, split exactly as ``data: {kind: text, path:
sample_models/tiny_lm/pydoc_topics.txt, seq_len: 128}`` would split it.
"""

from __future__ import annotations

from pathlib import Path

from pruning_core.data_config import TextData
from pruning_core.models.data import Split
from pruning_core.models.hf_causal import causal_lm_spec
from pruning_core.models.spec import ModelSpec
from pruning_core.models.text_data import text_splits

TINY_LM_DIR = Path(__file__).resolve().parent / "tiny_lm"
TEXT_FILE = "pydoc_topics.txt"
SEQ_LEN = 128
VAL_FRACTION = TEST_FRACTION = 0.1


def tiny_lm_data_config(directory: Path = TINY_LM_DIR) -> TextData:
    """The tiny LM's default data: its text file, 128-token windows, 10% val, 10% test."""
    return TextData(
        path=str(directory / TEXT_FILE),
        seq_len=SEQ_LEN,
        val_fraction=VAL_FRACTION,
        test_fraction=TEST_FRACTION,
    )


def tiny_lm_splits() -> dict[str, Split]:
    """Train (calibration) / val / test windows of the shipped pydoc text."""
    return text_splits(tiny_lm_data_config(), TINY_LM_DIR)


def tiny_lm_shipped() -> bool:
    """Whether the trained checkpoint is there (``python -m sample_models.train_tiny_lm``)."""
    return (TINY_LM_DIR / "config.json").is_file() and (TINY_LM_DIR / TEXT_FILE).is_file()


def tiny_lm_spec() -> ModelSpec:
    """The registry entry ``tiny_lm`` (a causal LM: perplexity, ``lm_head`` kept dense)."""
    return causal_lm_spec(
        "tiny_lm",
        TINY_LM_DIR,
        "Tiny Llama (6 blocks, width 160, 2.2M params) trained on Python's pydoc text",
        data=tiny_lm_splits,
        seq_len=SEQ_LEN,
        shipped=True,
    )
