"""What a run reports by task (accuracy or perplexity) and the sparsity pattern per tensor.

Classifiers report ``metric: accuracy`` (higher is better); causal language models
``metric: perplexity`` (lower is better) with ``dense_val_perplexity``,
``dense_test_perplexity``, ``val_perplexity`` and ``test_perplexity``; their accuracy
fields stay ``None`` so every summary has the same keys. ``val_loss``/``test_loss`` are
the mean cross entropy (per predicted token for LMs: ``perplexity = exp(loss)``).
"""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import nn

from pruning_core.models.spec import METRIC_DIRECTION
from pruning_core.recipe import Structure

Metrics = tuple[float | None, float | None]  # (metric value, loss)


def metric_fields(
    metric: str, dense: dict[str, Metrics], final: dict[str, Metrics]
) -> dict[str, Any]:
    """Summary fields of the run's metric on val/test, before (``dense_``) and after pruning."""
    fields: dict[str, Any] = {"metric": metric, "metric_direction": METRIC_DIRECTION[metric]}
    accuracy = metric == "accuracy"
    for split in ("val", "test"):
        fields[f"dense_{split}_accuracy"] = dense[split][0] if accuracy else None
    for split in ("val", "test"):
        fields[f"{split}_accuracy"] = final[split][0] if accuracy else None
        fields[f"{split}_loss"] = final[split][1]
    if not accuracy:
        for split in ("val", "test"):
            fields[f"dense_{split}_{metric}"] = dense[split][0]
            fields[f"{split}_{metric}"] = final[split][0]
    return fields


def follows_nm(weight: torch.Tensor, n: int, m: int) -> bool:
    """Whether every ``m`` consecutive inputs of every row hold at most ``n`` nonzeros."""
    rows = weight.reshape(weight.shape[0], -1)
    if rows.shape[1] % m:
        return False
    groups = (rows != 0).reshape(rows.shape[0], -1, m).sum(dim=-1)
    return bool((groups <= n).all())


def tensor_patterns(
    model: nn.Module, rows: list[dict[str, Any]], structure: Structure
) -> list[dict[str, Any]]:
    """The sparsity pattern of every prunable layer's weight tensor as the model stores it.

    ``pattern`` is ``dense`` (no zeros), the recipe's ``N:M`` when every group of M holds at
    most N nonzeros (checked on the tensor, not assumed), else the structure's label
    (``unstructured``, ``block 4x4``...). ``tensor`` is the state-dict name, the name the
    exported Hugging Face ``model.safetensors`` uses.
    """
    state = model.state_dict()
    patterns = []
    for row in rows:
        name = f"{row['name']}.weight"
        weight = state.get(name)
        if weight is None:  # factorized or replaced layers: no single weight tensor
            continue
        zeros = int(weight.numel() - torch.count_nonzero(weight))
        if zeros == 0:
            pattern = "dense"
        elif structure.nm is not None and follows_nm(weight, *structure.nm):
            pattern = structure.label()
        else:
            pattern = "unstructured" if structure.nm is not None else structure.label()
        patterns.append(
            {
                "tensor": name,
                "shape": list(weight.shape),
                "pattern": pattern,
                "sparsity": zeros / weight.numel(),
                "pruned": bool(row["pruned"]),
            }
        )
    return patterns


_BLOCK_LAYER = re.compile(r"^(?P<stack>.+?)\.(?P<block>\d+)\.(?:.+\.)?(?P<projection>[^.]+)$")


def block_grid(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Layer rows placed on a block x projection grid, for heatmaps of deep models.

    ``model.layers.12.self_attn.q_proj`` becomes ``block 12``, ``projection q_proj``; rows
    outside a numbered stack (``lm_head``) are left out. Every other field of the row is
    kept (sparsity, reconstruction_error, ...).
    """
    grid = []
    for row in rows:
        found = _BLOCK_LAYER.match(str(row["name"]))
        if found is not None:
            grid.append({**row, "block": int(found["block"]), "projection": found["projection"]})
    return grid
