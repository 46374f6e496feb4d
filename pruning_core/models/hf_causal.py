"""Causal language models from a checkpoint directory: their :class:`ModelSpec`, and the
architecture without weights (meta device) for checks and layer tables.

Loading itself (offline, safetensors only, no remote code) lives in :mod:`.hf`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from pruning_core.errors import shorten
from pruning_core.models.data import DataFn
from pruning_core.models.hf import (
    PREFIX,
    check_checkpoint,
    engine_view,
    load_causal_lm,
    quiet_torchao_import,
    read_config,
    refuse,
    transformers_module,
)
from pruning_core.models.spec import ModelSpec

DEFAULT_SEQ_LEN = 128  # tokens per sample when no data says otherwise (MACs, probes)
LM_DEFAULT_SKIP = ("lm_head",)


def causal_lm_skeleton(directory: Path, shown: str) -> nn.Module:
    """The checkpoint's architecture on the meta device: every module name and weight
    shape, no memory and no weights read (a 7B model's layer table in a second).

    Raises:
        UserInputError: (``model``) the directory or its config cannot be used.
    """
    check_checkpoint(directory, shown)
    hf = transformers_module()
    try:
        with quiet_torchao_import():
            config = hf.AutoConfig.from_pretrained(
                str(directory), local_files_only=True, trust_remote_code=False
            )
            with torch.device("meta"):
                model = hf.AutoModelForCausalLM.from_config(config, trust_remote_code=False)
    except Exception as error:  # a config transformers cannot build: one line
        raise refuse(
            shown, f"has a config that cannot be built: {type(error).__name__}: {shorten(error)}"
        ) from None
    return engine_view(model).eval()


def causal_lm_spec(
    name: str,
    directory: Path,
    description: str = "",
    data: DataFn | None = None,
    seq_len: int | None = None,
    shipped: bool = False,
) -> ModelSpec:
    """A :class:`ModelSpec` for a checkpoint directory (checked here, loaded by its factory).

    Args:
        name: the registry or recipe name (``hf:<dir>``, ``tiny_lm``).
        directory: the checkpoint directory (tokenizer files beside the weights).
        description: one line for listings (default: built from the config).
        data: the model's own ``{"train", "val", "test"}`` splits, if it has any.
        seq_len: tokens per sample for MAC counts (default: 128, at most the context).
        shipped: a checkpoint shipped with a plugin: only its config is read here, so
            listing models never imports ``transformers`` (loading still checks it all).
    """
    shown = name.removeprefix(f"{PREFIX}:")
    config = read_config(directory, shown) if shipped else check_checkpoint(directory, shown)
    context = config.get("max_position_embeddings")
    tokens = seq_len or DEFAULT_SEQ_LEN
    if isinstance(context, int) and context > 0:
        tokens = min(tokens, context)
    layers = config.get("num_hidden_layers", "?")
    factory: Callable[[], nn.Module] = lambda: load_causal_lm(directory, shown)  # noqa: E731
    skeleton: Callable[[], nn.Module] = lambda: causal_lm_skeleton(directory, shown)  # noqa: E731
    return ModelSpec(
        name=name,
        factory=factory,
        input_shape=(tokens,),
        data=data,
        description=description
        or f"{config.get('model_type')} causal LM, {layers} layers, from {shorten(directory, 60)}",
        task="causal_lm",
        source=directory,
        default_skip=LM_DEFAULT_SKIP,
        skeleton=skeleton,
    )
