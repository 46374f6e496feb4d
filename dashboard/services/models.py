"""Models for the Configure page: names, layer tables, dense accuracy, weights uploads."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.services.store import store
from pruning_core.errors import UserInputError


def model_names() -> list[str]:
    """Registered model names (sample models first)."""
    from pruning_core.models.registry import MODELS

    return MODELS.names()


def model_label(name: str) -> str:
    """Name with the untrained caveat, for select boxes."""
    from pruning_core.models.registry import MODELS

    return MODELS.get(name).label


def model_description(name: str) -> str:
    """One-line description of a model."""
    from pruning_core.models.registry import MODELS

    return MODELS.get(name).description


def criteria() -> dict[str, str]:
    """Criterion name -> one-line description."""
    from pruning_core.criteria import CRITERIA

    return {name: CRITERIA.get(name).description for name in CRITERIA.names()}


@st.cache_resource(show_spinner="Building the model...")
def architecture(name: str) -> Any:
    """The model's architecture with seeded random weights (shapes only; never pruned)."""
    import torch

    from pruning_core.models.registry import MODELS

    torch.manual_seed(0)
    return MODELS.get(name).factory().eval()


@st.cache_data(show_spinner=False)
def layer_table(name: str) -> pd.DataFrame:
    """Prunable layers in model order: name, type, shape, 2-D view, params, MACs per sample."""
    from pruning_core.models.layers import prunable_layers
    from pruning_core.models.metrics import layer_macs
    from pruning_core.models.registry import MODELS

    model = architecture(name)
    macs = layer_macs(model, MODELS.get(name).input_shape)
    return pd.DataFrame(
        [
            {
                "layer": layer.name,
                "type": layer.kind,
                "shape": "x".join(map(str, layer.weight.shape)),
                "view_2d": f"{layer.shape_2d[0]}x{layer.shape_2d[1]}",
                "params": layer.weight.numel(),
                "macs": macs.get(layer.name, 0),
            }
            for layer in prunable_layers(model)
        ]
    )


def default_skip(name: str) -> list[str]:
    """Layers a recipe leaves dense when ``skip_layers`` is null (first and last)."""
    from pruning_core.models.layers import default_skip as engine_default
    from pruning_core.models.layers import prunable_layers

    return engine_default(prunable_layers(architecture(name)))


def file_stamp(path: str | None) -> float:
    """Modification time of ``path`` (0 if none), for cache keys."""
    return Path(path).stat().st_mtime if path and Path(path).is_file() else 0.0


@st.cache_data(show_spinner="Evaluating the dense model...")
def dense_accuracy(name: str, weights: str | None, stamp: float = 0.0) -> dict[str, Any]:
    """Dense val/test accuracy, params and fp32 size with ``weights`` (None: shipped ones).

    ``stamp`` (the file's mtime) only makes the cache notice a changed file.
    """
    from pruning_core.models.metrics import count_params, dense_bytes, evaluate
    from pruning_core.models.registry import MODELS, build_model

    spec = MODELS.get(name)
    facts: dict[str, Any] = {"val_accuracy": None, "test_accuracy": None, "note": ""}
    try:
        model = build_model(spec, weights)
    except UserInputError as error:
        facts["note"] = str(error)
        model = architecture(name)
    facts.update(params=count_params(model), size_bytes=dense_bytes(model, "fp32"))
    if spec.data is None or not spec.trained or facts["note"]:
        facts["note"] = facts["note"] or "untrained: structure and speed only, no accuracy"
        return facts
    splits = spec.data()
    facts["val_accuracy"] = evaluate(model, splits["val"].x, splits["val"].y)[0]
    facts["test_accuracy"] = evaluate(model, splits["test"].x, splits["test"].y)[0]
    return facts


def save_upload(model_name: str, data: bytes, filename: str) -> str:
    """Validate uploaded safetensors against the model and keep it in the store's folder.

    Returns:
        The stored file's path, for ``recipe.weights``.

    Raises:
        UserInputError: not safetensors, or names/shapes do not match the model.
    """
    from pruning_core.models.registry import MODELS
    from pruning_core.models.weights import load_weights_bytes

    if not filename.lower().endswith(".safetensors"):
        raise UserInputError("weights", f"'{filename}': only .safetensors files are accepted")
    load_weights_bytes(MODELS.get(model_name).factory(), data, f"'{filename}'")
    folder = store().uploads_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{model_name}-{hashlib.sha256(data).hexdigest()[:16]}.safetensors"
    if not path.exists():
        path.write_bytes(data)
    return str(path)


def recipe_choices() -> dict[str, list[str]]:
    """Allowed values of the recipe's choice fields, read from the recipe model itself.

    New structures, precisions or schedules added to the engine appear in the form
    without a dashboard change.
    """
    from typing import get_args

    from pruning_core.recipe import Finetune, Recipe, Schedule, Structure

    def options(model: Any, field: str) -> list[str]:
        return list(get_args(model.model_fields[field].annotation))

    return {
        "structure": options(Structure, "kind"),
        "allocation": options(Recipe, "allocation"),
        "precision": options(Recipe, "precision"),
        "schedule": options(Schedule, "kind"),
        "optimizer": options(Finetune, "optimizer"),
    }
