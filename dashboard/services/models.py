"""Models for the Configure page: names, layer tables, dense accuracy, weights uploads."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, get_args

import pandas as pd
import streamlit as st

import pruning_core
from dashboard.services.store import store


def model_names() -> list[str]:
    """Registered model names (sample models first)."""
    return pruning_core.MODELS.names()


def model_label(name: str) -> str:
    """Name with the untrained caveat, for select boxes."""
    return pruning_core.MODELS.get(name).label


def model_description(name: str) -> str:
    """One-line description of a model."""
    return pruning_core.MODELS.get(name).description


def criteria() -> dict[str, str]:
    """Criterion name -> one-line description."""
    registry = pruning_core.CRITERIA
    return {name: registry.get(name).description for name in registry.names()}


@st.cache_resource(show_spinner="Building the model...")
def architecture(name: str) -> Any:
    """The model's architecture with seeded random weights (shapes only; never pruned)."""
    import torch

    torch.manual_seed(0)
    return pruning_core.MODELS.get(name).factory().eval()


@st.cache_data(show_spinner=False)
def layer_table(name: str) -> pd.DataFrame:
    """Prunable layers in model order: name, type, shape, 2-D view, params, MACs per sample."""
    model = architecture(name)
    macs = pruning_core.layer_macs(model, pruning_core.MODELS.get(name).input_shape)
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
            for layer in pruning_core.prunable_layers(model)
        ]
    )


def default_skip(name: str) -> list[str]:
    """Layers a recipe leaves dense when ``skip_layers`` is null (first and last)."""
    return pruning_core.default_skip(pruning_core.prunable_layers(architecture(name)))


def file_stamp(path: str | None) -> float:
    """Modification time of ``path`` (0 if none), for cache keys."""
    return Path(path).stat().st_mtime if path and Path(path).is_file() else 0.0


@st.cache_data(show_spinner="Evaluating the dense model...")
def dense_accuracy(name: str, weights: str | None, stamp: float = 0.0) -> dict[str, Any]:
    """Dense val/test accuracy, params and fp32 size with ``weights`` (None: shipped ones).

    ``stamp`` (the file's mtime) only makes the cache notice a changed file.
    """
    spec = pruning_core.MODELS.get(name)
    facts: dict[str, Any] = {"val_accuracy": None, "test_accuracy": None, "note": ""}
    try:
        model = pruning_core.build_model(spec, weights)
    except pruning_core.UserInputError as error:
        facts["note"] = str(error)
        model = architecture(name)
    facts.update(
        params=pruning_core.count_params(model), size_bytes=pruning_core.dense_bytes(model, "fp32")
    )
    if spec.data is None or not spec.trained or facts["note"]:
        facts["note"] = facts["note"] or "untrained: structure and speed only, no accuracy"
        return facts
    try:
        splits = pruning_core.load_data(spec)
    except pruning_core.UserInputError as error:
        facts["note"] = str(error)
        return facts
    assert splits is not None  # the spec has data
    for split in ("val", "test"):
        part = splits[split]
        facts[f"{split}_accuracy"] = pruning_core.evaluate(model, part.x, part.y)[0]
    return facts


def save_upload(model_name: str, data: bytes, filename: str) -> str:
    """Validate uploaded safetensors against the model and keep it in the store's folder.

    Returns:
        The stored file's path, for ``recipe.weights``.

    Raises:
        UserInputError: not safetensors, or names/shapes do not match the model.
    """
    if not filename.lower().endswith(".safetensors"):
        raise pruning_core.UserInputError(
            "weights", f"'{filename}': only .safetensors files are accepted"
        )
    pruning_core.load_weights_bytes(
        pruning_core.MODELS.get(model_name).factory(), data, f"'{filename}'"
    )
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
    fields = pruning_core.Recipe.model_fields

    def options(model: Any, field: str) -> list[str]:
        return list(get_args(model.model_fields[field].annotation))

    return {
        "structure": options(pruning_core.Structure, "kind"),
        "allocation": options(pruning_core.Recipe, "allocation"),
        "precision": options(pruning_core.Recipe, "precision"),
        "schedule": options(fields["schedule"].annotation, "kind"),
        "optimizer": options(fields["finetune"].annotation, "optimizer"),
    }
