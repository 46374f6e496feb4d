"""Per-layer latency of each format/precision against dense, and CSR/BSR crossover sparsity.

Each Linear/Conv layer is timed as the matrix product it performs: its 2-D weight
``(out, in * kernel)`` times ``(in * kernel, columns)`` with ``columns = batch x output
positions`` (the im2col view of a convolution; for a Linear, the tokens). Dense fp32,
bf16 and fp16 use ``W @ X``; CSR/BSR use torch's sparse ``@`` on the same operands; int8
runs the layer as a Linear through torchao (dynamic activations) and through torch.ao's
deprecated ``quantize_dynamic`` (activation quantization included in the time).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from pruning_core.compression.quantization import quantize_dynamic_int8, quantize_linear_int8
from pruning_core.latency import measured_rows, time_interleaved
from pruning_core.models.layers import as_2d, prunable_layers
from pruning_core.models.metrics import layer_macs

Action = Callable[[], object]


def _matmul(a: torch.Tensor, b: torch.Tensor) -> Action:
    return lambda: a @ b


def call_action(module: nn.Module, x: torch.Tensor) -> Action:
    """A no-argument callable running ``module(x)``."""
    return lambda: module(x)


def gemm_shapes(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, tuple[int, int, int]]:
    """Layer name -> ``(out, in * kernel, columns per sample)``."""
    macs = layer_macs(model, input_shape)
    shapes = {}
    for layer in prunable_layers(model):
        out_f, in_f = as_2d(layer.weight).shape
        shapes[layer.name] = (
            int(out_f),
            int(in_f),
            max(1, macs.get(layer.name, 0) // (out_f * in_f)),
        )
    return shapes


def gemm_actions(
    weight_2d: torch.Tensor, columns: int, block: tuple[int, int], int8: bool = True
) -> dict[str, Action]:
    """The product ``W @ X`` in every format/precision this CPU can run."""
    w = weight_2d.detach().float().contiguous()
    x = torch.randn(w.shape[1], columns)
    actions: dict[str, Action] = {"dense fp32": _matmul(w, x)}
    for name, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16)):
        actions[f"dense {name}"] = _matmul(w.to(dtype), x.to(dtype))
    csr = w.to_sparse_csr()
    actions["csr fp32"] = _matmul(csr, x)
    if w.shape[0] % block[0] == 0 and w.shape[1] % block[1] == 0:
        bsr = w.to_sparse_bsr(block)
        actions[f"bsr {block[0]}x{block[1]} fp32"] = _matmul(bsr, x)
    if int8:
        linear = nn.Linear(w.shape[1], w.shape[0], bias=False)
        with torch.no_grad():
            linear.weight.copy_(w)
        tokens = x.t().contiguous()
        dynamic = quantize_dynamic_int8(nn.Sequential(copy.deepcopy(linear)))
        torchao = quantize_linear_int8(nn.Sequential(copy.deepcopy(linear)))
        actions["int8 quantize_dynamic"] = call_action(dynamic, tokens)
        actions["int8 torchao eager"] = call_action(torchao, tokens)
    return actions


def layer_rows(
    model: nn.Module,
    input_shape: tuple[int, ...],
    batch: int,
    block: tuple[int, int],
    repeats: int,
    warmup: int,
    common: dict[str, Any],
) -> list[dict[str, Any]]:
    """Per-layer rows of every format/precision against dense fp32 at ``batch``."""
    rows = []
    for layer in prunable_layers(model):
        out_f, in_f, per_sample = gemm_shapes(model, input_shape)[layer.name]
        weight = as_2d(layer.weight)
        times = time_interleaved(gemm_actions(weight, batch * per_sample, block), repeats, warmup)
        sparsity = 1.0 - int(torch.count_nonzero(weight)) / weight.numel()
        info = {
            **common,
            "layer": layer.name,
            "out": out_f,
            "in": in_f,
            "columns": batch * per_sample,
            "batch": batch,
            "weight_sparsity": sparsity,
        }
        rows += measured_rows(times, "dense fp32", info)
    return rows


def _weights(
    out_f: int, in_f: int, sparsity: float, block: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    dense = torch.randn(out_f, in_f, generator=generator)
    unstructured = dense * (torch.rand(out_f, in_f, generator=generator) >= sparsity)
    bh, bw = block
    keep = torch.rand(out_f // bh, 1, in_f // bw, 1, generator=generator) >= sparsity
    return unstructured, dense * keep.expand(-1, bh, -1, bw).reshape(out_f, in_f)


def crossover_rows(
    out_f: int,
    in_f: int,
    columns: int,
    sparsities: list[float],
    block: tuple[int, int],
    repeats: int,
    warmup: int,
    common: dict[str, Any],
) -> list[dict[str, Any]]:
    """Dense vs CSR (unstructured zeros) vs BSR (block zeros) at each sparsity."""
    rows = []
    x = torch.randn(in_f, columns)
    for sparsity in sparsities:
        unstructured, blocked = _weights(out_f, in_f, sparsity, block)
        csr, bsr = unstructured.to_sparse_csr(), blocked.to_sparse_bsr(block)
        actions: dict[str, Action] = {
            "dense": _matmul(unstructured, x),
            "csr": _matmul(csr, x),
            f"bsr {block[0]}x{block[1]}": _matmul(bsr, x),
        }
        info = {
            **common,
            "out": out_f,
            "in": in_f,
            "columns": columns,
            "sparsity": sparsity,
            "dtype": "fp32",
        }
        rows += measured_rows(time_interleaved(actions, repeats, warmup), "dense", info)
    return rows


def crossover_points(
    rows: list[dict[str, Any]], key: str = "speedup"
) -> dict[str, dict[str, float | None]]:
    """Per format: the lowest measured sparsity from which it stays faster than dense.

    Args:
        rows: crossover rows of one shape.
        key: ``speedup`` (medians) or ``speedup_min`` (fastest repetitions).

    Returns ``{format: {"crossover": s or None, "below": last sparsity where it was not}}``.
    """
    points: dict[str, dict[str, float | None]] = {}
    for variant in sorted({row["variant"] for row in rows} - {"dense"}):
        measured = sorted((r["sparsity"], r[key]) for r in rows if r["variant"] == variant)
        crossover: float | None = None
        below: float | None = None
        for sparsity, speedup in reversed(measured):
            if speedup is None or speedup <= 1.0:
                below = sparsity
                break
            crossover = sparsity
        points[variant] = {"crossover": crossover, "below": below}
    return points
