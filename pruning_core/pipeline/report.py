"""Per-layer and whole-model results of a run, as plain rows (JSON/CSV ready)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from pruning_core.compression.lowrank import LowRank
from pruning_core.formats.sizes import dense_model_bytes
from pruning_core.models.layers import PrunableLayer, module_weight
from pruning_core.models.metrics import count_nonzero_params, count_params, layer_macs

LAYER_COLUMNS = [
    "name",
    "type",
    "shape_original",
    "shape",
    "rank",
    "params_original",
    "params",
    "params_ratio",
    "nonzeros",
    "sparsity",
    "precision_new_zeros",
    "dense_macs",
    "effective_macs",
    "reconstruction_error",
    "pruned",
    "note",
    "best_format",
    "best_format_bytes",
]


def stored_weights(model: nn.Module, name: str) -> list[torch.Tensor]:
    """The weight tensors layer ``name`` is stored as: its weight, or both low-rank factors."""
    module = model.get_submodule(name)
    if isinstance(module, LowRank):
        return [module_weight(module.first).detach(), module_weight(module.second).detach()]
    return [module_weight(module).detach()]


def nonzero_counts(model: nn.Module, layers: list[PrunableLayer]) -> dict[str, int]:
    """Nonzero stored weights of each layer (both factors of a factorized layer)."""
    return {
        layer.name: sum(int(torch.count_nonzero(w)) for w in stored_weights(model, layer.name))
        for layer in layers
    }


def _note(*parts: str | None) -> str:
    return "; ".join(part for part in parts if part)


def layer_rows(
    model: nn.Module,
    layers: list[PrunableLayer],
    original: dict[str, dict[str, Any]],
    input_shape: tuple[int, ...],
    notes: dict[str, str],
    reconstruction: dict[str, float] | None = None,
    changes: dict[str, str] | None = None,
    pruned_nonzeros: dict[str, int] | None = None,
) -> list[dict[str, Any]]:
    """One row per prunable layer, in model order, describing the layer as ``model`` stores it.

    ``shape`` is the stored weight's shape, or for a layer factorized by low-rank
    compression the list of both factors' shapes (``[[r, in], [out, r]]``, convolutions
    with their kernels), with the ``rank``. ``params`` counts the stored weights and
    ``params_ratio = params / params_original``.

    ``nonzeros`` are the nonzero weights after pruning (and compression), before the
    precision conversion; ``precision_new_zeros`` the weights that conversion (int8 rounding,
    fp16 underflow) turned to zero on top (``pruned_nonzeros`` gives the counts before it).
    ``sparsity`` counts zeros only: ``1 - nonzeros / params_original`` (for masked runs
    exactly the share of zeros in the weight; for channel runs it also counts removed
    weights); for a factorized layer ``1 - nonzeros / params`` (factors without zeros: 0).
    ``effective_macs`` scale the layer's current MACs by its weight density.
    ``reconstruction_error`` is ``||X W^T - X Ŵ^T||² / ||X W^T||²`` on the dense model's
    inputs of the layer over the calibration samples (see
    :mod:`pruning_core.pruning.reconstruction`): for pruned layers right after the last
    pruning step, before finetuning; for factorized layers the stored factors' product
    ``Ŵ`` against the dense layer. ``None`` for layers left alone, models without data,
    and channel runs (shapes change).

    ``pruned`` says whether the layer's own weights (or output channels) were pruned;
    ``note`` why a layer was left alone and every change it underwent through other
    layers (``changes``: coupled channel groups) or compression.
    """
    reconstruction = reconstruction or {}
    changes = changes or {}
    macs = layer_macs(model, input_shape)
    rows = []
    for layer in layers:
        name = layer.name
        weights = stored_weights(model, name)
        module = model.get_submodule(name)
        factorized = isinstance(module, LowRank)
        stored_nonzeros = sum(int(torch.count_nonzero(w)) for w in weights)
        nonzeros = (pruned_nonzeros or {}).get(name, stored_nonzeros)
        params = sum(w.numel() for w in weights)
        before = original[name]
        layer_macs_now = (
            macs.get(f"{name}.first", 0) + macs.get(f"{name}.second", 0)
            if factorized
            else macs.get(name, 0)
        )
        rows.append(
            {
                "name": name,
                "type": layer.kind,
                "shape_original": before["shape"],
                "shape": [list(w.shape) for w in weights] if factorized else list(weights[0].shape),
                "rank": module.rank if factorized else None,
                "params_original": before["params"],
                "params": params,
                "params_ratio": params / before["params"],
                "nonzeros": nonzeros,
                "sparsity": 1.0 - nonzeros / (params if factorized else before["params"]),
                "precision_new_zeros": nonzeros - stored_nonzeros,
                "dense_macs": before["macs"],
                "effective_macs": round(layer_macs_now * nonzeros / params),
                "reconstruction_error": reconstruction.get(name) if name not in notes else None,
                "pruned": name not in notes,
                "note": _note(notes.get(name), changes.get(name)),
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
    nonzero_params: int | None = None,
) -> dict[str, Any]:
    """Whole-model counts: sparsity, size, MACs and the theoretical (MACs ratio) speedup.

    Sparsities count zeros (and removed channels), never the weights low-rank factors
    save: those show in ``params`` and ``params_ratio_pruned_layers``.

    ``nonzero_params`` (all parameters, counted before the precision conversion) keeps
    zeros made by int8 rounding or fp16 underflow out of the sparsities (the run reports
    those as ``precision_new_zeros``).
    """
    pruned = [row for row in rows if row["pruned"]]
    pruned_original = sum(row["params_original"] for row in pruned)
    pruned_zeros = sum(row["sparsity"] * row["params_original"] for row in pruned)
    nonzero = count_nonzero_params(model) if nonzero_params is None else nonzero_params
    # weights saved by factorization are not zeros: counted as if the layer were still whole
    factorized_saving = sum(
        row["params_original"] - row["params"] for row in rows if row["rank"] is not None
    )
    dense_macs = sum(row["dense_macs"] for row in rows)
    effective_macs = sum(row["effective_macs"] for row in rows)
    return {
        "params_original": params_original,
        "params": count_params(model),
        "nonzero_params": nonzero,
        "sparsity_pruned_layers": pruned_zeros / pruned_original if pruned_original else 0.0,
        "params_ratio_pruned_layers": sum(row["params"] for row in pruned) / pruned_original
        if pruned_original
        else 1.0,
        "sparsity_total": 1.0 - (nonzero + factorized_saving) / params_original,
        "size_bytes": dense_model_bytes(model, precision),
        "dense_macs": dense_macs,
        "effective_macs": effective_macs,
        "theoretical_speedup": dense_macs / effective_macs if effective_macs else float("inf"),
    }
