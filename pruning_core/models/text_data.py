"""Plain text for causal LMs: ``data: {kind: text, path, seq_len, val_fraction, test_fraction}``.

The file (``.txt``, or ``.jsonl`` with a ``text`` field per line) or every such file of a
directory (sorted by relative path) is tokenized with the model's tokenizer, documents
joined by a blank line. The token stream is split into three ranges that never overlap,
in order: the first ``1 - val_fraction - test_fraction`` of the tokens are the training
part (calibration and finetuning), then validation, then test (the last tokens, as
wikitext2's test file is its own text). Each part is cut into non-overlapping windows of
``seq_len`` tokens (the remainder is dropped); a window is both the input and the labels
of one sample (the loss predicts token ``t + 1`` from tokens ``<= t``).
"""

from __future__ import annotations

import dataclasses
import json
from functools import cache
from pathlib import Path

import torch

from pruning_core.data_config import TextData
from pruning_core.errors import UserInputError, shorten
from pruning_core.models.data import Split
from pruning_core.models.hf import load_tokenizer
from pruning_core.models.hf_dirs import user_path
from pruning_core.models.sources import data_source, data_spec
from pruning_core.models.spec import ModelSpec

SUFFIXES = (".txt", ".jsonl")
SEPARATOR = "\n\n"
PARTS = ("train", "val", "test")


def text_files(path: Path) -> list[Path]:
    """The ``.txt``/``.jsonl`` files of ``path`` (a file, or a directory searched recursively).

    Raises:
        UserInputError: (``data.path``) missing, another kind of file, or no text files.
    """
    shown = shorten(path)
    if path.is_file():
        if path.suffix.lower() not in SUFFIXES:
            raise UserInputError("data.path", f"'{shown}' is not a .txt or .jsonl file")
        return [path]
    if not path.is_dir():
        raise UserInputError("data.path", f"'{shown}' does not exist")
    files = sorted(
        (p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES),
        key=lambda p: p.relative_to(path).as_posix(),
    )
    if not files:
        raise UserInputError("data.path", f"'{shown}' holds no .txt or .jsonl files")
    return files


def _jsonl_texts(path: Path, content: str) -> list[str]:
    texts = []
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise UserInputError(
                "data.path", f"line {number} of '{shorten(path)}' is not JSON"
            ) from None
        text = record.get("text") if isinstance(record, dict) else None
        if not isinstance(text, str):
            raise UserInputError(
                "data.path", f"line {number} of '{shorten(path)}' has no string field 'text'"
            )
        texts.append(text)
    return texts


def read_texts(files: list[Path]) -> list[str]:
    """The documents of ``files``: a ``.txt`` file is one, a ``.jsonl`` line is one."""
    texts: list[str] = []
    for path in files:
        try:
            content = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise UserInputError("data.path", f"'{shorten(path)}' is not UTF-8 text") from None
        except OSError as error:
            raise UserInputError(
                "data.path", f"cannot read '{shorten(path)}': {error.strerror}"
            ) from None
        texts += _jsonl_texts(path, content) if path.suffix.lower() == ".jsonl" else [content]
    return [text for text in texts if text.strip()]


def token_stream(texts: list[str], tokenizer: object) -> torch.Tensor:
    """All documents' token ids, joined by the blank-line separator, as one int64 vector."""
    encode = tokenizer.encode  # type: ignore[attr-defined]
    separator = encode(SEPARATOR, add_special_tokens=False)
    ids: list[int] = []
    for index, text in enumerate(texts):
        if index:
            ids += separator
        ids += encode(text, add_special_tokens=False)
    return torch.tensor(ids, dtype=torch.int64)


def split_ranges(
    n_tokens: int, val_fraction: float, test_fraction: float
) -> dict[str, tuple[int, int]]:
    """Token ranges ``[start, end)`` of train, val and test: consecutive, never overlapping."""
    test_start = n_tokens - round(n_tokens * test_fraction)
    val_start = test_start - round(n_tokens * val_fraction)
    return {"train": (0, val_start), "val": (val_start, test_start), "test": (test_start, n_tokens)}


def windows(ids: torch.Tensor, seq_len: int) -> torch.Tensor:
    """Non-overlapping windows ``(n, seq_len)`` of a 1-D id vector (remainder dropped)."""
    count = ids.numel() // seq_len
    return ids[: count * seq_len].reshape(count, seq_len).clone()


def splits_from_ids(
    ids: torch.Tensor, seq_len: int, val_fraction: float, test_fraction: float, shown: str
) -> dict[str, Split]:
    """Windows of each part; a part too short for one window is refused naming ``data.path``."""
    splits = {}
    for part, (start, end) in split_ranges(ids.numel(), val_fraction, test_fraction).items():
        x = windows(ids[start:end], seq_len)
        if len(x) == 0:
            raise UserInputError(
                "data.path",
                f"'{shown}' has {ids.numel():,} tokens: its {part} part ({end - start:,} tokens) "
                f"is shorter than one window of seq_len={seq_len}; give more text or lower "
                "data.seq_len",
            )
        splits[part] = Split(x, x)
    return splits


@cache
def _cached_splits(
    path: str,
    stamp: tuple[tuple[str, int, int], ...],
    tokenizer_dir: str,
    seq_len: int,
    val_fraction: float,
    test_fraction: float,
) -> dict[str, Split]:
    files = [Path(name) for name, _, _ in stamp]
    ids = token_stream(read_texts(files), load_tokenizer(Path(tokenizer_dir)))
    if ids.numel() == 0:
        raise UserInputError("data.path", f"'{shorten(path)}' holds no text")
    return splits_from_ids(ids, seq_len, val_fraction, test_fraction, shorten(path))


def text_splits(config: TextData, tokenizer_dir: Path) -> dict[str, Split]:
    """Train/val/test windows of ``config.path`` (cached while the files are unchanged)."""
    path = user_path(config.path, "data.path")
    files = text_files(path)
    stamp = tuple((str(file), file.stat().st_mtime_ns, file.stat().st_size) for file in files)
    return _cached_splits(
        str(path),
        stamp,
        str(tokenizer_dir.resolve()),
        config.seq_len,
        config.val_fraction,
        config.test_fraction,
    )


def tokenizer_dir(spec: ModelSpec) -> Path:
    """Where a causal LM's tokenizer lives; text data is refused for other models."""
    if spec.task != "causal_lm" or spec.source is None:
        raise UserInputError(
            "data.kind",
            f"text data needs a causal language model (hf:<dir>, tiny_lm); "
            f"'{shorten(spec.name)}' is a {spec.task} model",
        )
    return spec.source


@data_spec("text")
def text_spec(config: TextData, spec: ModelSpec) -> ModelSpec:
    """A causal LM fed ``config``: one sample is ``seq_len`` tokens (MACs, probes)."""
    tokenizer_dir(spec)  # refuses models that are not causal LMs
    return dataclasses.replace(spec, input_shape=(config.seq_len,))


@data_source("text")
def load_text_data(config: TextData, spec: ModelSpec) -> dict[str, Split]:
    """The recipe's ``data: {kind: text}`` for ``spec`` (see the module docstring)."""
    return text_splits(config, tokenizer_dir(spec))
