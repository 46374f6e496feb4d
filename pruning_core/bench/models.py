"""End-to-end latency, accuracy and size of a pruned model's variants against the original.

Eager variants are timed together (interleaved), against the original fp32 model;
compiled variants (``torch.compile``) are timed together against the original compiled:
compiled is only ever compared with compiled.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import Any, cast

import torch
from torch import nn

from pruning_core.bench.layers import call_action
from pruning_core.compression.quantization import quantize_dynamic_int8, quantize_linear_int8
from pruning_core.formats import FormatOptions, model_sizes
from pruning_core.formats.modules import sparsify_linears
from pruning_core.formats.sizes import dense_model_bytes
from pruning_core.latency import measured_rows, time_interleaved

Variant = tuple[nn.Module, torch.dtype, str, int | None]  # module, input dtype, precision, bytes


@torch.inference_mode()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, dtype: torch.dtype) -> float:
    """Share of ``x`` that ``model`` classifies as ``y`` (inputs cast to ``dtype``)."""
    correct = 0
    for start in range(0, len(y), 512):
        logits = model(x[start : start + 512].to(dtype))
        correct += int((logits.float().argmax(dim=1) == y[start : start + 512]).sum())
    return correct / len(y)


def eager_variants(
    original: nn.Module, pruned: nn.Module, block: tuple[int, int], int8: bool = True
) -> dict[str, Variant]:
    """Original fp32, pruned fp32/bf16/fp16, int8 (torchao, quantize_dynamic), CSR/BSR Linears."""
    pruned = copy.deepcopy(pruned).float().eval()
    sizes = model_sizes(pruned, FormatOptions(block=block))
    variants: dict[str, Variant] = {
        "original fp32": (original, torch.float32, "fp32", dense_model_bytes(original, "fp32")),
        "pruned fp32": (pruned, torch.float32, "fp32", sizes.by_format["dense"]["fp32"]),
        "pruned bf16": (
            copy.deepcopy(pruned).to(torch.bfloat16),
            torch.bfloat16,
            "bf16",
            sizes.by_format["dense"]["bf16"],
        ),
        "pruned fp16": (
            copy.deepcopy(pruned).to(torch.float16),
            torch.float16,
            "fp16",
            sizes.by_format["dense"]["fp16"],
        ),
    }
    if int8:
        variants["pruned int8 torchao"] = (
            quantize_linear_int8(copy.deepcopy(pruned)),
            torch.float32,
            "int8",
            sizes.by_format["dense"]["int8"],
        )
        variants["pruned int8 quantize_dynamic"] = (
            quantize_dynamic_int8(copy.deepcopy(pruned)),
            torch.float32,
            "int8",
            sizes.by_format["dense"]["int8"],
        )
    for layout in ("csr", "bsr"):
        model = copy.deepcopy(pruned)
        if sparsify_linears(model, layout, block):
            variants[f"pruned {layout} Linears fp32"] = (
                model,
                torch.float32,
                "fp32",
                sizes.by_format[layout]["fp32"],
            )
    return variants


def _compiled(module: nn.Module) -> nn.Module:
    return cast(nn.Module, torch.compile(module))


def compiled_variants(
    original: nn.Module, pruned: nn.Module, int8: bool = True
) -> dict[str, Variant]:
    """``torch.compile`` of the original, the pruned fp32 and the torchao int8 model."""
    pruned = copy.deepcopy(pruned).float().eval()
    variants: dict[str, Variant] = {
        "original fp32": (_compiled(copy.deepcopy(original)), torch.float32, "fp32", None),
        "pruned fp32": (_compiled(pruned), torch.float32, "fp32", None),
    }
    if int8:
        quantized = quantize_linear_int8(copy.deepcopy(pruned))
        variants["pruned int8 torchao"] = (_compiled(quantized), torch.float32, "int8", None)
    return variants


def time_variants(
    variants: dict[str, Variant],
    batch: torch.Tensor,
    repeats: int,
    warmup: int,
    common: dict[str, Any],
    data: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> list[dict[str, Any]]:
    """Time every variant on ``batch`` (interleaved); add accuracy and bytes to its row."""
    actions: dict[str, Callable[[], object]] = {}
    failed: dict[str, str] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, (module, dtype, _, _) in variants.items():
            inputs = batch.to(dtype)
            try:
                with torch.inference_mode():
                    module(inputs)  # first call: compiles, or fails for an unsupported dtype
            except Exception as error:  # noqa: BLE001 - an unsupported variant is a result
                failed[name] = str(error).splitlines()[0][:200]
                continue
            actions[name] = call_action(module, inputs)
        rows = measured_rows(time_interleaved(actions, repeats, warmup), "original fp32", common)
    for row in rows:
        module, dtype, precision, size = variants[row["variant"]]
        row.update(precision=precision, size_bytes=size, status="ok")
        if data is not None:
            row["test_accuracy"] = accuracy(module, data[0], data[1], dtype)
    rows += [
        {**common, "variant": name, "status": "error", "error": error, "kind": "error"}
        for name, error in failed.items()
    ]
    return rows
