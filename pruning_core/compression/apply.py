"""Other compression after pruning: low-rank factorization or weight sharing.

Called by the orchestrator with the recipe's ``compression`` field on the layers that
were pruned (skipped layers stay as they are), after the masks are baked in.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from pruning_core.compression.lowrank import LowRank, factorize_layers
from pruning_core.compression.weight_sharing import share_layers
from pruning_core.models.layers import module_weight
from pruning_core.models.metrics import layer_macs


def compress(model: nn.Module, names: list[str], kind: str, **options: Any) -> dict[str, str]:
    """Apply ``kind`` (``lowrank`` or ``weight_sharing``) to the named layers in place.

    Args:
        model: dense with zeros.
        names: layers to compress.
        kind: ``lowrank`` (options ``energy``, ``ratio``) or ``weight_sharing``
            (option ``clusters``).

    Returns:
        One note per layer describing what was done.
    """
    if kind == "lowrank":
        return factorize_layers(model, names, options.get("energy"), options.get("ratio"))
    if kind == "weight_sharing":
        return share_layers(model, names, int(options["clusters"]))
    raise ValueError(f"unknown compression '{kind}'")


def apply_notes(rows: list[dict[str, Any]], notes: dict[str, str]) -> None:
    """Append each layer's compression note to its row's ``note``."""
    for row in rows:
        if row["name"] in notes:
            row["note"] = "; ".join(filter(None, [row["note"], notes[row["name"]]]))


def factorized_rows(
    model: nn.Module, rows: list[dict[str, Any]], input_shape: tuple[int, ...]
) -> None:
    """Rewrite the rows of factorized layers: weights and MACs of both factors.

    ``shape`` stays the layer's original shape (its function is unchanged);
    ``params``/``nonzeros`` count both factors, so ``sparsity`` is the share of weights
    saved against the original layer.
    """
    macs = layer_macs(model, input_shape)
    for row in rows:
        module = model.get_submodule(row["name"])
        if not isinstance(module, LowRank):
            continue
        factors = [module_weight(module.first), module_weight(module.second)]
        params = sum(int(w.numel()) for w in factors)
        nonzeros = sum(int(torch.count_nonzero(w)) for w in factors)
        row.update(
            params=params,
            nonzeros=nonzeros,
            sparsity=1.0 - nonzeros / row["params_original"],
            effective_macs=macs.get(f"{row['name']}.first", 0)
            + macs.get(f"{row['name']}.second", 0),
        )
