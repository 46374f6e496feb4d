"""Measurements of a model: accuracy and loss, MACs per layer, parameters and bytes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from pruning_core.layers import PRUNABLE_TYPES, as_2d, module_weight

BYTES_PER_ELEMENT = {"fp32": 4, "fp16": 2, "bf16": 2}
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@torch.no_grad()
def evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512
) -> tuple[float, float]:
    """Accuracy and mean cross-entropy loss of ``model`` (eval mode) on ``(x, y)``."""
    was_training = model.training
    model.eval()
    dtype = next(model.parameters()).dtype
    correct, loss_sum = 0, 0.0
    for start in range(0, len(y), batch_size):
        logits = model(x[start : start + batch_size].to(dtype)).float()
        labels = y[start : start + batch_size]
        loss_sum += float(F.cross_entropy(logits, labels, reduction="sum"))
        correct += int((logits.argmax(dim=1) == labels).sum())
    model.train(was_training)
    return correct / len(y), loss_sum / len(y)


@torch.no_grad()
def layer_macs(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, int]:
    """Dense multiply-accumulates of every Linear/Conv layer for one input sample.

    ``output elements x (inputs per output)``: ``in_features`` for Linear,
    ``in_channels / groups * kernel`` for Conv. Other operations (attention products,
    norms, activations) are not counted.
    """
    macs: dict[str, int] = {}

    def hook(name: str) -> Callable[..., None]:
        def record(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
            per_output = as_2d(module_weight(module)).shape[1]
            macs[name] = macs.get(name, 0) + int(output.numel()) * per_output

        return record

    handles = [
        module.register_forward_hook(hook(name))
        for name, module in model.named_modules()
        if isinstance(module, PRUNABLE_TYPES)
    ]
    was_training = model.training
    model.eval()
    try:
        param = next(model.parameters())
        model(torch.zeros((1, *input_shape), dtype=param.dtype, device=param.device))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return macs


def count_params(model: nn.Module) -> int:
    """Number of parameters."""
    return sum(p.numel() for p in model.parameters())


def count_nonzero_params(model: nn.Module) -> int:
    """Number of parameters that are not exactly zero."""
    return sum(int(torch.count_nonzero(p)) for p in model.parameters())


def dense_bytes(model: nn.Module, precision: str) -> int:
    """Bytes of the model's parameters and buffers stored densely at ``precision``.

    Floating-point tensors take the precision's element size; integer buffers
    (e.g. BatchNorm's batch counter) keep their own.
    """
    total = 0
    for tensor in list(model.parameters()) + list(model.buffers()):
        size = BYTES_PER_ELEMENT[precision] if tensor.is_floating_point() else tensor.element_size()
        total += tensor.numel() * size
    return total
