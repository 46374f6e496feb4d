"""Per-layer and whole-model results of a run, as plain rows (JSON/CSV ready)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from pruning_core.formats.sizes import dense_model_bytes
from pruning_core.models.layers import PrunableLayer
from pruning_core.models.metrics import count_nonzero_params, count_params, layer_macs

LAYER_COLUMNS = [
    "name",
    "type",
    "shape_original",
    "shape",
    "params_original",
    "params",
    "nonzeros",
    "sparsity",
    "dense_macs",
    "effective_macs",
    "reconstruction_error",
    "pruned",
    "note",
    "best_format",
    "best_format_bytes",
]


def layer_rows(
    model: nn.Module,
    layers: list[PrunableLayer],
    original: dict[str, dict[str, Any]],
    input_shape: tuple[int, ...],
    notes: dict[str, str],
    reconstruction: dict[str, float] | None = None,
) -> list[dict[str, Any]]:
    """One row per prunable layer, in model order.

    ``sparsity`` is ``1 - nonzeros / params_original``: for masked runs exactly the
    share of zeros in the saved weight; for channel runs it also counts removed weights.
    ``effective_macs`` scale the layer's dense MACs by its weight density.
    ``reconstruction_error`` is ``||X W^T - X Ŵ^T||² / ||X W^T||²`` of the layer right
    after the last pruning step, before finetuning, on the dense model's inputs of the
    layer over the calibration samples (see :mod:`pruning_core.pruning.reconstruction`); ``None``
    for layers not pruned, models without data, and channel runs (shapes change).
    """
    reconstruction = reconstruction or {}
    macs = layer_macs(model, input_shape)
    rows = []
    for layer in layers:
        weight = layer.weight.detach()
        nonzeros = int(torch.count_nonzero(weight))
        params = weight.numel()
        before = original[layer.name]
        rows.append(
            {
                "name": layer.name,
                "type": layer.kind,
                "shape_original": before["shape"],
                "shape": list(weight.shape),
                "params_original": before["params"],
                "params": params,
                "nonzeros": nonzeros,
                "sparsity": 1.0 - nonzeros / before["params"],
                "dense_macs": before["macs"],
                "effective_macs": round(macs.get(layer.name, 0) * nonzeros / params),
                "reconstruction_error": reconstruction.get(layer.name)
                if layer.name not in notes
                else None,
                "pruned": layer.name not in notes,
                "note": notes.get(layer.name, ""),
            }
        )
    return rows


def original_layer_facts(
    model: nn.Module, layers: list[PrunableLayer], input_shape: tuple[int, ...]
) -> dict[str, dict[str, Any]]:
    """Shape, parameter count and dense MACs of each layer before pruning."""
    macs = layer_macs(model, input_shape)
    return {
        layer.name: {
            "shape": list(layer.weight.shape),
            "params": layer.weight.numel(),
            "macs": macs.get(layer.name, 0),
        }
        for layer in layers
    }


def model_summary(
    model: nn.Module,
    rows: list[dict[str, Any]],
    params_original: int,
    precision: str,
) -> dict[str, Any]:
    """Whole-model counts: sparsity, size, MACs and the theoretical (MACs ratio) speedup."""
    pruned = [row for row in rows if row["pruned"]]
    pruned_original = sum(row["params_original"] for row in pruned)
    pruned_nonzero = sum(row["nonzeros"] for row in pruned)
    nonzero = count_nonzero_params(model)
    dense_macs = sum(row["dense_macs"] for row in rows)
    effective_macs = sum(row["effective_macs"] for row in rows)
    return {
        "params_original": params_original,
        "params": count_params(model),
        "nonzero_params": nonzero,
        "sparsity_pruned_layers": 1.0 - pruned_nonzero / pruned_original
        if pruned_original
        else 0.0,
        "sparsity_total": 1.0 - nonzero / params_original,
        "size_bytes": dense_model_bytes(model, precision),
        "dense_macs": dense_macs,
        "effective_macs": effective_macs,
        "theoretical_speedup": dense_macs / effective_macs if effective_macs else float("inf"),
    }
