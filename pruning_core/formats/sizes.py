"""Exact storage size of every prunable layer and of the whole model, per format and precision.

The whole model in format F stores each prunable weight in F where F can hold it and
densely where it cannot; all other tensors (biases, norms, embeddings) are stored densely:
at the precision for fp32/fp16/bf16 and at fp32 for int8 (int8 quantizes the Linear/Conv
weights only, as torchao and ``quantize_dynamic`` do). Integer buffers keep their own size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from pruning_core.formats.builtin import FORMATS, FormatOptions
from pruning_core.formats.layout import PRECISION_BYTES, PRECISIONS, ByteCount, Layout
from pruning_core.models.layers import prunable_layers


def layer_layouts(weight: torch.Tensor, options: FormatOptions) -> dict[str, Layout | None]:
    """Every registered format's layout of one weight (``None``: the format cannot hold it)."""
    return {name: FORMATS.get(name).layout(weight, options) for name in FORMATS}


def other_bytes(model: nn.Module, precision: str) -> int:
    """Bytes of every parameter and buffer that is not a prunable layer's weight."""
    weights = {id(layer.weight) for layer in prunable_layers(model)}
    seen: set[int] = set()
    total = 0
    for tensor in list(model.parameters()) + list(model.buffers()):
        if id(tensor) in weights or id(tensor) in seen:
            continue
        seen.add(id(tensor))
        if not tensor.is_floating_point():
            total += tensor.numel() * tensor.element_size()
        else:
            total += tensor.numel() * (4 if precision == "int8" else PRECISION_BYTES[precision])
    return total


def dense_model_bytes(model: nn.Module, precision: str) -> int:
    """Bytes of the whole model stored densely (int8: Linear/Conv weights + scales)."""
    weights = sum(
        Layout(values=layer.weight.numel(), scale_groups=layer.weight.shape[0])
        .priced(precision)
        .total
        for layer in prunable_layers(model)
    )
    return weights + other_bytes(model, precision)


@dataclass
class ModelSizes:
    """Per-layer breakdowns and whole-model totals.

    Attributes:
        rows: one row per (layer, format, precision) with values/indices/metadata/scales/total
            bytes (formats that cannot hold a layer are left out).
        by_format: ``{format: {precision: bytes}}`` for the whole model.
        best_by_layer: ``{layer: {precision: format}}``: the smallest format of each layer.
        best: ``{precision: bytes}`` of the whole model with every layer in its best format.
        options: the block shape and index width used.
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    by_format: dict[str, dict[str, int]] = field(default_factory=dict)
    best_by_layer: dict[str, dict[str, str]] = field(default_factory=dict)
    best: dict[str, int] = field(default_factory=dict)
    options: FormatOptions = field(default_factory=FormatOptions)


def model_sizes(
    model: nn.Module,
    options: FormatOptions | None = None,
    precisions: tuple[str, ...] = PRECISIONS,
) -> ModelSizes:
    """Exact bytes of ``model`` in every registered format at every precision.

    Args:
        model: weights are read as dense tensors with zeros (the pruning contract).
        options: BSR block shape and index width (default: 4x4 blocks, int64 indices).
        precisions: which precisions to price.
    """
    options = options or FormatOptions()
    result = ModelSizes(options=options)
    others = {precision: other_bytes(model, precision) for precision in precisions}
    result.by_format = {name: dict(others) for name in FORMATS}
    result.best = dict(others)
    for layer in prunable_layers(model):
        layouts = layer_layouts(layer.weight, options)
        dense = layouts["dense"]
        assert dense is not None
        result.best_by_layer[layer.name] = {}
        for precision in precisions:
            priced: dict[str, ByteCount] = {}
            for name, layout in layouts.items():
                if layout is None:
                    result.by_format[name][precision] += dense.priced(precision).total
                    continue
                priced[name] = layout.priced(precision)
                result.by_format[name][precision] += priced[name].total
                result.rows.append(
                    {
                        "layer": layer.name,
                        "shape": list(layer.weight.shape),
                        "format": name,
                        "precision": precision,
                        **priced[name].as_dict(),
                    }
                )
            best = min(priced, key=lambda name: priced[name].total)
            result.best_by_layer[layer.name][precision] = best
            result.best[precision] += priced[best].total
    return result


def summary_fields(sizes: ModelSizes, precision: str) -> dict[str, Any]:
    """Keys added to a run's summary: size per format and precision, and the best mix."""
    return {
        "size_bytes_by_format": sizes.by_format,
        "size_bytes_best": sizes.best.get(precision),
        "size_index_bytes": sizes.options.index_bytes,
        "size_block": list(sizes.options.block),
    }


def best_format_of(sizes: ModelSizes, name: str, precision: str) -> tuple[str, int] | None:
    """Smallest format and its bytes for layer ``name``; factorized layers sum their factors."""
    parts = (
        [name]
        if name in sizes.best_by_layer
        else [layer for layer in sizes.best_by_layer if layer.startswith(f"{name}.")]
    )
    if not parts:
        return None
    chosen = [sizes.best_by_layer[part][precision] for part in parts]
    total = sum(
        row["total"]
        for row in sizes.rows
        if row["precision"] == precision
        and any(
            row["layer"] == p and row["format"] == f for p, f in zip(parts, chosen, strict=True)
        )
    )
    label = chosen[0] if parts == [name] else "+".join(chosen)
    return label, total
