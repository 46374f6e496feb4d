"""Precision after pruning: fp16, bf16 and int8, with pruned zeros kept exactly zero.

int8 (the engine's path, see the README's "Formats, quantization and measured speed"):
Linear layers use torchao's maintained ``Int8DynamicActivationInt8WeightConfig``
(per-row symmetric int8 weights, zero point 0, activations quantized per token at run
time), so the accuracy reported is that of real int8 matrix products. torchao does not
quantize convolutions; their weights are quantized per output channel (symmetric, weight
only) and computed in fp32. A symmetric quantizer maps 0 to 0, so every pruned weight
stays zero; small nonzero weights may round to zero as well (counted in ``new_zeros``).

The run keeps a "stored" model of plain fp32 tensors that hold exactly the int8-representable
values (``q * scale``): counting, saving and size accounting work on ordinary tensors, and
:func:`quantize_linear_int8` rebuilds the torchao model from it.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from pruning_core.models.layers import PRUNABLE_TYPES, module_weight

FLOAT_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
INT8_PATH = (
    "int8: Linear via torchao Int8DynamicActivationInt8WeightConfig (eager), "
    "Conv weight-only per-channel int8 computed in fp32"
)


@dataclass
class Converted:
    """A model at a precision.

    Attributes:
        stored: plain tensors (dense with zeros) at the precision; for int8, fp32 tensors
            holding the dequantized int8 values.
        runnable: what evaluation and inference run (the torchao model for int8).
        path: how the conversion was done, in words.
        new_zeros: weights that were nonzero before and are zero after conversion.
    """

    stored: nn.Module
    runnable: nn.Module
    path: str
    new_zeros: int = 0


@torch.no_grad()
def int8_per_channel(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-output-channel int8: ``(q, scale)`` with ``weight ~ q * scale``.

    ``scale = max|w| / 127`` per output channel (1 for an all-zero channel), ``q`` in
    [-127, 127]; zeros map to zero exactly.
    """
    rows = weight.detach().float().reshape(weight.shape[0], -1)
    scale = rows.abs().amax(dim=1, keepdim=True) / 127.0
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    q = torch.round(rows / scale).clamp(-127, 127).to(torch.int8)
    return q.reshape(weight.shape), scale


def quantize_linear_int8(model: nn.Module) -> nn.Module:
    """Quantize every Linear of ``model`` in place with torchao's int8 dynamic config."""
    from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantize_(model, Int8DynamicActivationInt8WeightConfig())
    return model


def quantize_dynamic_int8(model: nn.Module) -> nn.Module:
    """torch.ao's deprecated ``quantize_dynamic`` (qint8 Linear), for the benchmark only."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)


def _count_zeros(model: nn.Module) -> int:
    return sum(
        int((module_weight(m) == 0).sum()) for m in model.modules() if isinstance(m, PRUNABLE_TYPES)
    )


@torch.no_grad()
def to_int8(model: nn.Module) -> Converted:
    """The engine's int8 path; ``model`` (fp32) becomes the stored model, changed in place."""
    zeros_before = _count_zeros(model)
    for module in model.modules():
        if isinstance(module, PRUNABLE_TYPES) and not isinstance(module, nn.Linear):
            q, scale = int8_per_channel(module_weight(module))
            weight = module_weight(module)
            weight.copy_((q.reshape(scale.shape[0], -1).float() * scale).reshape(weight.shape))
    runnable = quantize_linear_int8(copy.deepcopy(model))
    stored_linears = {n: m for n, m in model.named_modules() if isinstance(m, nn.Linear)}
    for name, module in runnable.named_modules():
        if name in stored_linears and isinstance(module, nn.Linear):
            quantized = module.weight
            dequantize = getattr(quantized, "dequantize", None)
            if dequantize is not None:  # torchao skips Linears it cannot quantize
                module_weight(stored_linears[name]).copy_(dequantize().float())
    new_zeros = _count_zeros(model) - zeros_before
    return Converted(stored=model, runnable=runnable, path=INT8_PATH, new_zeros=new_zeros)


def convert_precision(model: nn.Module, precision: str) -> Converted:
    """Convert a pruned fp32 model (changed in place) to ``precision``.

    Args:
        model: dense tensors with zeros, fp32.
        precision: ``fp32``, ``fp16``, ``bf16`` or ``int8``.
    """
    if precision == "int8":
        return to_int8(model)
    zeros_before = _count_zeros(model)
    converted = model.to(FLOAT_DTYPES[precision])
    return Converted(
        stored=converted,
        runnable=converted,
        path=f"{precision}: every floating-point tensor cast ({FLOAT_DTYPES[precision]})",
        new_zeros=_count_zeros(converted) - zeros_before,
    )
