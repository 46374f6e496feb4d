"""Performance profile: each layer's share of parameters, MACs and (measured) latency.

MACs come from :func:`pruning_core.models.metrics.layer_macs` (theoretical). Latency is either
measured here on this CPU (each Linear/Conv module run on its own captured input,
interleaved, median of >= 30 repetitions) or read from per-layer benchmark result files
(``benchmarks/results/**/*_layers.json``, e.g. from ``pruning-core bench`` or a GPU
run), always with the device they were measured on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pruning_core.latency import RESULTS_DIR, machine_metadata, summarize, time_interleaved
from pruning_core.models.layers import PrunableLayer
from pruning_core.models.metrics import layer_macs
from pruning_core.recipe import Structure

Row = dict[str, Any]


def groups_of(structure: Structure, layer: PrunableLayer) -> tuple[int, float]:
    """``(groups, sparsity per group)`` of a layer under ``structure`` (N:M: on/off)."""
    implied = structure.implied_sparsity
    if implied is not None:
        return 1, implied
    count = structure.group_count(layer.shape_2d)
    return count, 1.0 / count


def layer_facts(
    model: nn.Module,
    layers: list[PrunableLayer],
    profiled: dict[str, str],
    input_shape: tuple[int, ...],
    structure: Structure,
) -> list[Row]:
    """One row per prunable layer: shape, params, MACs, their shares, groups and its note.

    Args:
        model: the dense model.
        layers: every prunable layer, in model order.
        profiled: layer name -> note (``""`` for profiled layers, else why it is not).
        input_shape: one sample's shape.
        structure: the structure groups are counted in.
    """
    macs = layer_macs(model, input_shape)
    total_params = sum(layer.weight.numel() for layer in layers) or 1
    total_macs = sum(macs.get(layer.name, 0) for layer in layers) or 1
    rows = []
    for layer in layers:
        groups, step = groups_of(structure, layer)
        rows.append(
            {
                "layer": layer.name,
                "type": layer.kind,
                "shape": list(layer.weight.shape),
                "params": layer.weight.numel(),
                "macs": macs.get(layer.name, 0),
                "params_share": layer.weight.numel() / total_params,
                "macs_share": macs.get(layer.name, 0) / total_macs,
                "groups": groups,
                "group_sparsity": step,
                "profiled": not profiled.get(layer.name),
                "note": profiled.get(layer.name, ""),
            }
        )
    return rows


@torch.inference_mode()
def _captured_inputs(model: nn.Module, layers: list[PrunableLayer], batch: torch.Tensor) -> dict:
    inputs: dict[str, torch.Tensor] = {}

    def hook(name: str) -> Callable[..., None]:
        def record(module: nn.Module, args: tuple[torch.Tensor, ...], output: Any) -> None:
            inputs.setdefault(name, args[0].detach().clone())

        return record

    handles = [layer.module.register_forward_hook(hook(layer.name)) for layer in layers]
    try:
        model.eval()(batch)
    finally:
        for handle in handles:
            handle.remove()
    return inputs


def cpu_latency(
    model: nn.Module,
    layers: list[PrunableLayer],
    batch: torch.Tensor,
    repeats: int = 30,
    warmup: int = 5,
) -> tuple[dict[str, Row], dict[str, Any]]:
    """Measured latency of each layer on its own input at this batch; and the metadata.

    Returns:
        Layer name -> ``{"latency_ms", "latency_iqr_ms"}`` (median and IQR), and the
        machine metadata with the batch size and repetitions.
    """
    inputs = _captured_inputs(model, layers, batch)
    actions: dict[str, Callable[[], object]] = {
        layer.name: partial(layer.module, inputs[layer.name])
        for layer in layers
        if layer.name in inputs
    }
    times = time_interleaved(actions, repeats, warmup)
    measured = {}
    for name, samples in times.items():
        stats = summarize(samples)
        measured[name] = {"latency_ms": stats["median_ms"], "latency_iqr_ms": stats["iqr_ms"]}
    meta = {**machine_metadata(), "batch": int(batch.shape[0]), "repetitions": repeats}
    meta["source"] = "measured per layer by the sensitivity job (module on its captured input)"
    return measured, meta


def add_latency(rows: list[Row], latency: dict[str, Row]) -> None:
    """Add ``latency_ms``, ``latency_iqr_ms`` and ``latency_share`` to the layer rows."""
    total = sum(latency[row["layer"]]["latency_ms"] for row in rows if row["layer"] in latency)
    for row in rows:
        entry = latency.get(row["layer"])
        row["latency_ms"] = entry["latency_ms"] if entry else None
        row["latency_iqr_ms"] = entry["latency_iqr_ms"] if entry else None
        row["latency_share"] = entry["latency_ms"] / total if entry and total > 0 else None


def result_file_latency(model_name: str, results_dir: Path = RESULTS_DIR) -> list[Row]:
    """Dense per-layer latency rows for ``model_name`` found in benchmark result files.

    Reads ``*_layers.json`` under ``results_dir`` (lists of rows with ``layer``,
    ``variant``, ``median_ms``, ``model`` and ``device``); keeps the dense variants.
    """
    rows: list[Row] = []
    for path in sorted(results_dir.rglob("*_layers.json")) if results_dir.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for row in data if isinstance(data, list) else []:
            if (
                isinstance(row, dict)
                and row.get("model") == model_name
                and str(row.get("variant", "")).startswith("dense")
                and row.get("layer")
            ):
                rows.append(
                    {
                        "layer": row["layer"],
                        "variant": row["variant"],
                        "latency_ms": row.get("median_ms"),
                        "device": row.get("device"),
                        "batch": row.get("batch"),
                        "date": row.get("date"),
                        "file": path.name,
                    }
                )
    return rows
