"""Models for the Configure page: names, layer tables, dense metrics, weights uploads."""

from __future__ import annotations

import hashlib
import json
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


def data_key(data: dict[str, Any] | None) -> str:
    """A recipe's ``data`` as a cache key (``""``: the model's own data)."""
    return json.dumps(data, sort_keys=True) if data else ""


@st.cache_data(show_spinner="Reading the model...", max_entries=16)
def _facts(model: str, weights: str | None, data: str, stamp: float) -> Any:
    return pruning_core.describe_model(model, weights, json.loads(data) if data else None)


def model_facts(model: str, weights: str | None = None, data: dict[str, Any] | None = None) -> Any:
    """The engine's :class:`~pruning_core.ModelFacts`: layers as a run sees them (attention
    split into q/k/v/proj), default skips, task and metric, size.

    Raises:
        UserInputError: the model, weights or data cannot be used.
    """
    return _facts(model, weights, data_key(data), file_stamp(weights))


LAYER_COLUMNS = ["layer", "type", "shape", "view_2d", "params", "macs"]


def _usable_facts(model: str, weights: str | None, data: dict[str, Any] | None) -> Any:
    """Facts with ``data``, else without it (a data problem is reported by the recipe
    check), else ``None`` (the model itself cannot be built)."""
    for attempt in (data, None):
        try:
            return model_facts(model, weights, attempt)
        except pruning_core.UserInputError:
            continue
    return None


def layer_table(
    model: str, weights: str | None = None, data: dict[str, Any] | None = None
) -> pd.DataFrame:
    """Prunable layers in model order: name, type, shape, 2-D view, params, MACs per sample.

    Empty when the model cannot be built: the recipe check says why.
    """
    facts = _usable_facts(model, weights, data)
    return pd.DataFrame(facts.layers if facts else [], columns=LAYER_COLUMNS)


def default_skip(
    model: str, weights: str | None = None, data: dict[str, Any] | None = None
) -> list[str]:
    """Layers a recipe leaves dense when ``skip_layers`` is null (the model's own default:
    ``lm_head`` for language models, else the first and the last layer)."""
    facts = _usable_facts(model, weights, data)
    return list(facts.default_skip) if facts else []


AUTO_MEASURE_PARAMS = 50_000_000  # larger models measure their dense metric on request


def model_summary(
    model: str,
    weights: str | None = None,
    data: dict[str, Any] | None = None,
    measure: bool = False,
) -> dict[str, Any]:
    """Parameters, dense fp32 size and the dense metric on val/test (see
    :func:`dense_metrics`); sizes are ``None`` when the model cannot be built.

    Models above :data:`AUTO_MEASURE_PARAMS` are only evaluated with ``measure`` (a
    perplexity over a large text on the CPU takes minutes); ``measured`` says whether.
    """
    facts = _usable_facts(model, weights, data)
    summary: dict[str, Any] = {
        "params": facts.params if facts else None,
        "size_bytes": facts.size_bytes if facts else None,
        "metric": facts.metric if facts else "accuracy",
        "val": None,
        "test": None,
        "note": "",
        "measured": False,
    }
    if measure or facts is None or facts.params <= AUTO_MEASURE_PARAMS:
        summary.update(dense_metrics(model, weights, data), measured=True)
    return summary


def file_stamp(path: str | None) -> float:
    """Modification time of ``path`` (0 if none), for cache keys."""
    return Path(path).stat().st_mtime if path and Path(path).is_file() else 0.0


@st.cache_data(show_spinner="Evaluating the dense model...", max_entries=16)
def _dense(model: str, weights: str | None, data: str, stamp: float) -> dict[str, Any]:
    return pruning_core.dense_metrics(model, weights, json.loads(data) if data else None)


def dense_metrics(
    model: str, weights: str | None = None, data: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The dense model's ``metric`` (accuracy or perplexity) on ``val`` and ``test`` with
    these weights and data, and a ``note`` when it cannot be measured (cached per file
    version)."""
    return _dense(model, weights, data_key(data), file_stamp(weights))


def save_upload(model: str, data: bytes, filename: str) -> str:
    """Keep uploaded safetensors in the store's folder once they fit ``model``.

    Returns:
        The stored file's path, for ``recipe.weights``.

    Raises:
        UserInputError: not safetensors, or names/shapes do not match the model (for
            ``torchvision:<arch>`` the number of classes comes from the file).
    """
    if not filename.lower().endswith(".safetensors"):
        raise pruning_core.UserInputError(
            "weights", f"'{filename}': only .safetensors files are accepted"
        )
    folder = store().uploads_dir
    folder.mkdir(parents=True, exist_ok=True)
    stem = "".join(c if c.isalnum() else "-" for c in model)[:60]
    path = folder / f"{stem}-{hashlib.sha256(data).hexdigest()[:16]}.safetensors"
    fresh = not path.exists()
    if fresh:
        path.write_bytes(data)
    try:
        pruning_core.build_model(pruning_core.spec_for(model, str(path)), path)
    except pruning_core.UserInputError as error:
        if fresh:
            path.unlink(missing_ok=True)
        raise pruning_core.UserInputError(
            "weights", error.message.replace(str(path), f"'{filename}'")
        ) from None
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
