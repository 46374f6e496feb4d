"""Local Hugging Face causal language models: ``model: "hf:<directory>"``.

A directory holding ``config.json``, ``*.safetensors`` weights and tokenizer files is
loaded with ``AutoModelForCausalLM`` offline (``local_files_only``, hub-offline flags
set before ``transformers`` is imported) and never with ``trust_remote_code``. What the
engine cannot load safely is refused with one line naming ``model``: no ``config.json``,
custom code (``auto_map``), pickle-only weights, a model type ``transformers`` does not
know as a causal LM, a missing tokenizer, weights that do not fit the config.

The loaded model is given an *engine view* (:func:`engine_view`): the same object, same
module names (``model.layers.N.self_attn.q_proj``...) and ``save_pretrained``, whose
``forward`` maps input ids ``(N, T)`` to logits ``(N, T, V)``. Its prunable layers are
every ``Linear``; ``lm_head`` is kept dense by default (``ModelSpec.default_skip``) and
embeddings are not ``Linear`` layers, so they are never pruned.

``transformers`` is imported on first use only: it takes seconds, and runs of the other
models never need it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from safetensors import safe_open
from torch import nn

from pruning_core.errors import UserInputError, shorten

PREFIX = "hf"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
LOADING_PROBLEMS = {  # from_pretrained's loading info: never run on random weights
    "mismatched_keys": "have shapes that do not match config.json",
    "missing_keys": "are missing from the *.safetensors files",
}
WEIGHTS_FILE, WEIGHTS_INDEX = "model.safetensors", "model.safetensors.index.json"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "spiece.model", "vocab.txt")


@contextmanager
def quiet_torchao_import() -> Iterator[None]:
    """Hide the two deprecation lines torch logs when transformers first imports torchao
    (inside ``from_pretrained``): a user error must stay one line."""
    pytree_log = logging.getLogger("torch.utils._pytree")
    level = pytree_log.level
    pytree_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        pytree_log.setLevel(level)


@cache
def transformers_module() -> ModuleType:
    """``transformers``, imported offline and quiet (hub flags set first)."""
    os.environ["HF_HUB_OFFLINE"] = os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    with quiet_torchao_import():
        import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return transformers


def refuse(directory: str, why: str) -> UserInputError:
    return UserInputError("model", f"'hf:{shorten(directory)}' {why}")


def read_config(directory: Path, shown: str) -> dict[str, Any]:
    """``config.json`` of a checkpoint directory, checked for what the engine refuses."""
    if not directory.is_dir():
        raise refuse(shown, "is not a directory (hf:<local directory with config.json>)")
    config_file = directory / "config.json"
    if not config_file.is_file():
        raise refuse(shown, "has no config.json: not a Hugging Face checkpoint directory")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise refuse(shown, f"has an unreadable config.json ({shorten(error, 120)})") from None
    if not isinstance(config, dict):
        raise refuse(shown, "has a config.json that is not a JSON object")
    if "auto_map" in config:
        raise refuse(
            shown, "needs custom code (auto_map in config.json); trust_remote_code stays off"
        )
    return config


def check_weights(directory: Path, shown: str) -> None:
    """Safetensors weights under the names ``from_pretrained`` reads, each with a readable
    header (checked without loading a tensor)."""
    files = [path.name for path in directory.iterdir() if path.is_file()]
    if not any(name.endswith(".safetensors") for name in files):
        pickled = sorted(name for name in files if name.endswith(PICKLE_SUFFIXES))
        if pickled:
            raise refuse(
                shown,
                f"has only pickle weights ({shorten(', '.join(pickled), 80)}); safetensors "
                "only: convert them with save_pretrained(..., safe_serialization=True)",
            )
        raise refuse(shown, "has no *.safetensors weights")
    for shard in _weight_shards(directory, shown):
        try:
            with safe_open(str(shard), framework="pt") as handle:
                handle.keys()
        except Exception as error:  # a truncated or foreign file: one line
            raise refuse(shown, f"has an unreadable {shard.name} ({shorten(error, 120)})") from None


def _weight_shards(directory: Path, shown: str) -> list[Path]:
    if (directory / WEIGHTS_FILE).is_file():
        return [directory / WEIGHTS_FILE]
    index = directory / WEIGHTS_INDEX
    if not index.is_file():
        raise refuse(
            shown, f"has no {WEIGHTS_FILE} or {WEIGHTS_INDEX} (the names save_pretrained writes)"
        )
    try:
        names = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise refuse(shown, f"has an unreadable {WEIGHTS_INDEX}") from None
    missing = [name for name in names if not (directory / str(name)).is_file()]
    if missing:
        raise refuse(shown, f"misses the weight files {shorten(', '.join(map(str, missing)), 120)}")
    return [directory / str(name) for name in names]


def check_model_type(
    config: dict[str, Any],
    shown: str,
    mapping: str = "MODEL_FOR_CAUSAL_LM_MAPPING",
    kind: str = "a causal language model (AutoModelForCausalLM)",
) -> None:
    """Refuse a ``model_type`` transformers does not know, or not of ``kind`` (``mapping``
    in ``transformers.models.auto.modeling_auto``)."""
    model_type = config.get("model_type")
    auto = transformers_module().models.auto
    if not isinstance(model_type, str) or model_type not in auto.configuration_auto.CONFIG_MAPPING:
        raise refuse(
            shown, f"has model_type '{shorten(model_type, 40)}', which transformers does not know"
        )
    config_class = auto.configuration_auto.CONFIG_MAPPING[model_type]
    if config_class not in getattr(auto.modeling_auto, mapping):
        raise refuse(shown, f"has model_type '{model_type}', which is not {kind} in transformers")


def _check_tokenizer(directory: Path, shown: str) -> None:
    if not any((directory / name).is_file() for name in TOKENIZER_FILES):
        raise refuse(
            shown,
            "has no tokenizer (tokenizer.json, tokenizer.model or vocab.json); "
            "save the tokenizer beside the model with tokenizer.save_pretrained(dir)",
        )


def check_checkpoint(directory: Path, shown: str | None = None) -> dict[str, Any]:
    """Every refusal that needs no weights loaded; returns the parsed config.

    Raises:
        UserInputError: (field ``model``) the directory cannot be loaded safely.
    """
    shown = shown if shown is not None else str(directory)
    config = read_config(directory, shown)
    check_weights(directory, shown)
    check_model_type(config, shown)
    _check_tokenizer(directory, shown)
    return config


_VIEWS: dict[type, type] = {}
ForwardAdapter = Callable[[Callable[..., Any]], Callable[..., torch.Tensor]]


def with_engine_forward(model: nn.Module, adapt: ForwardAdapter) -> nn.Module:
    """Swap ``model``'s class, in place, for a subclass of the same name whose ``forward``
    is ``adapt(cls.forward)``: one tensor in, one tensor out, as the engine calls models.

    Everything else (module names, state dict, ``save_pretrained``, which records the same
    architecture name) stays the Hugging Face model's.
    """
    cls = type(model)
    if getattr(cls, "_pruning_core_view", False):
        return model
    view = _VIEWS.get(cls)
    if view is None:
        attributes = {"forward": adapt(cls.forward), "_pruning_core_view": True}
        view = type(cls.__name__, (cls,), attributes)
        view.__module__ = cls.__module__
        _VIEWS[cls] = view
    model.__class__ = view
    return model


def _ids_to_logits(base_forward: Callable[..., Any]) -> Callable[..., torch.Tensor]:
    def forward(self: nn.Module, input_ids: torch.Tensor) -> torch.Tensor:
        if input_ids.is_floating_point():
            input_ids = input_ids.long()
        return base_forward(self, input_ids=input_ids, use_cache=False).logits

    return forward


def engine_view(model: nn.Module) -> nn.Module:
    """Give a ``*ForCausalLM`` model the engine's interface, in place: ids in, logits out
    (no cache); floating inputs are cast to ids, so the engine's all-zeros probes (MAC
    counting) work."""
    return with_engine_forward(model, _ids_to_logits)


def load_pretrained(auto_class: str, directory: Path, shown: str) -> nn.Module:
    """``transformers.<auto_class>.from_pretrained`` of a checked directory: offline, fp32,
    safetensors only, no remote code, and never with missing or mis-shaped weights.

    Raises:
        UserInputError: (``model``) loading failed, or weights are missing or do not fit.
    """
    auto = getattr(transformers_module(), auto_class)
    try:
        with quiet_torchao_import():
            model, info = auto.from_pretrained(
                str(directory),
                local_files_only=True,
                trust_remote_code=False,
                use_safetensors=True,
                dtype=torch.float32,
                output_loading_info=True,
            )
    except Exception as error:  # a broken checkpoint is the user's to fix: one line
        raise refuse(
            shown, f"cannot be loaded: {type(error).__name__}: {shorten(error, 300)}"
        ) from None
    for kind, what in LOADING_PROBLEMS.items():
        keys = sorted(str(key) for key in info.get(kind) or ())
        if keys:
            raise refuse(shown, f"weights {shorten(', '.join(keys), 160)} {what}")
    return model


def load_causal_lm(directory: Path, shown: str | None = None) -> nn.Module:
    """Load a checked checkpoint directory as an fp32 engine view in eval mode.

    Raises:
        UserInputError: (``model``) loading failed, or weights are missing or do not fit.
    """
    shown = shown if shown is not None else str(directory)
    check_checkpoint(directory, shown)
    return engine_view(load_pretrained("AutoModelForCausalLM", directory, shown)).eval()


@cache
def _tokenizer(directory: str, stamp: float) -> Any:
    auto = transformers_module().AutoTokenizer
    return auto.from_pretrained(directory, local_files_only=True, trust_remote_code=False)


def load_tokenizer(directory: Path, shown: str | None = None) -> Any:
    """The checkpoint's tokenizer (cached while its files are unchanged).

    Raises:
        UserInputError: (``model``) no tokenizer files, or they cannot be loaded.
    """
    shown = shown if shown is not None else str(directory)
    _check_tokenizer(directory, shown)
    stamp = max(path.stat().st_mtime for path in directory.iterdir() if path.is_file())
    try:
        return _tokenizer(str(directory.resolve()), stamp)
    except Exception as error:  # unreadable tokenizer files: one line
        raise refuse(
            shown, f"has a tokenizer that cannot be loaded: {shorten(error, 200)}"
        ) from None
