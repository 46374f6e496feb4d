"""What a model is before any run: its layers as a run prunes them, and its dense metric.

Layers and sizes come from the architecture alone where the spec can build it without
weights (large language-model checkpoints: the meta device), so a 7B model's table does
not load 28 GB; the dense metric needs the weights.

For the model, weights and data a recipe names (a registered name, ``torchvision:<arch>``
with ``weights``, ``hf:<dir>``; the model's own data or the recipe's ``data:``), so the
dashboard's Configure page shows the same layers, default skips and metric a run uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from pruning_core.data_config import ImageFolderData, TextData
from pruning_core.errors import UserInputError
from pruning_core.models.layers import prunable_layers, resolve_skip
from pruning_core.models.metrics import count_params, dense_bytes, layer_macs, split_metrics
from pruning_core.models.registry import has_data, load_data, spec_for
from pruning_core.models.spec import METRIC_DIRECTION, ModelSpec
from pruning_core.pruning.layer_selection import build_prunable_model, shapes_only_model
from pruning_core.recipe import parse_recipe

DataInput = TextData | ImageFolderData | Mapping[str, Any] | None


@dataclass(frozen=True)
class ModelFacts:
    """A model's layers and size as a run sees them.

    Attributes:
        name: the recipe's ``model``.
        task: ``classification`` or ``causal_lm``.
        metric: ``accuracy`` (higher is better) or ``perplexity`` (lower is better).
        layers: one row per prunable layer in model order: ``layer``, ``type``, ``shape``,
            ``view_2d`` (the matrix the criteria score), ``params``, ``macs`` (per sample).
        default_skip: layers kept dense when the recipe's ``skip_layers`` is null.
        params: all parameters; ``size_bytes``: dense fp32 bytes.
        trained: trained weights with data to measure them on.
        has_data: the run has train/val/test splits (the model's own or ``data:``).
        input_shape: one sample's shape (``(seq_len,)`` token ids for language models).
    """

    name: str
    task: str
    metric: str
    layers: list[dict[str, Any]]
    default_skip: list[str]
    params: int
    size_bytes: int
    trained: bool
    has_data: bool
    input_shape: tuple[int, ...]

    @property
    def higher_is_better(self) -> bool:
        return METRIC_DIRECTION[self.metric] == "higher"


def _spec(model: str, weights: str | Path | None, data: DataInput) -> tuple[ModelSpec, Any]:
    """The spec as the recipe's ``data`` feeds it, and the parsed data config."""
    if isinstance(data, Mapping):
        data = parse_recipe({"model": model, "data": dict(data)}).data
    return spec_for(model, None if weights is None else str(weights), data), data


def describe_model(
    model: str, weights: str | Path | None = None, data: DataInput = None
) -> ModelFacts:
    """The layers, default skips and size of ``model`` with ``weights`` and ``data``.

    Raises:
        UserInputError: the model, weights or data cannot be used (the field is named).
    """
    spec, config = _spec(model, weights, data)
    network = shapes_only_model(spec, weights)
    layers = prunable_layers(network)
    if spec.task == "causal_lm":  # every token passes every Linear once
        macs = {layer.name: spec.input_shape[0] * layer.weight.numel() for layer in layers}
    else:
        macs = layer_macs(network, spec.input_shape)
    rows = [
        {
            "layer": layer.name,
            "type": layer.kind,
            "shape": "x".join(map(str, layer.weight.shape)),
            "view_2d": f"{layer.shape_2d[0]}x{layer.shape_2d[1]}",
            "params": layer.weight.numel(),
            "macs": macs.get(layer.name, 0),
        }
        for layer in layers
    ]
    return ModelFacts(
        name=model,
        task=spec.task,
        metric=spec.metric,
        layers=rows,
        default_skip=resolve_skip(layers, None, spec.default_skip),
        params=count_params(network),
        size_bytes=dense_bytes(network, "fp32"),
        trained=spec.trained,
        has_data=has_data(spec, config),
        input_shape=spec.input_shape,
    )


def dense_metrics(
    model: str, weights: str | Path | None = None, data: DataInput = None
) -> dict[str, Any]:
    """The dense model's metric on the validation and test splits a run would use.

    Returns:
        ``metric``, ``val`` and ``test`` (``None`` when not measurable) and ``note``
        (why not, e.g. an untrained model or no data; empty when measured).
    """
    facts: dict[str, Any] = {"metric": "accuracy", "val": None, "test": None, "note": ""}
    try:
        spec, config = _spec(model, weights, data)
        facts["metric"] = spec.metric
        if not has_data(spec, config):
            facts["note"] = "no data: structure and speed only, no " + facts["metric"]
            return facts
        if not spec.trained:
            facts["note"] = "untrained: structure and speed only, no " + facts["metric"]
            return facts
        network: nn.Module = build_prunable_model(spec, weights)
        splits = load_data(spec, config)
    except UserInputError as error:
        facts["note"] = str(error)
        return facts
    assert splits is not None  # has_data
    for split in ("val", "test"):
        facts[split] = split_metrics(network, splits[split], facts["metric"])[0]
    return facts
