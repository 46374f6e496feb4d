"""Per-layer reconstruction error of pruning, measured on the dense model's own layer inputs.

For a pruned layer with dense weight ``W`` and pruned weight ``Ŵ`` (same shape; removed
heads or channels count as zero rows/columns)::

    error = ||X W^T - X Ŵ^T||_F^2 / ||X W^T||_F^2

where ``X`` are the layer's inputs *in the dense model* on the run's calibration samples
(training split; convolutions: unfolded receptive fields, so ``X W^T`` is the
convolution's output), bias excluded. 0 means the layer computes exactly what it did on
those inputs; 1 means all of its output energy is lost. Because ``X`` is the dense
model's, the number isolates each layer's own pruning damage from that of earlier layers
and is comparable across criteria. The engine measures it right after the (last)
pruning step, before the finetuning that follows it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from pruning_core.models.layers import module_weight


def _apply(module: nn.Module, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """The layer's operation with another weight and no bias."""
    if isinstance(module, nn.Linear):
        return F.linear(x, weight)
    conv: Any = module
    return conv._conv_forward(x, weight, None)  # Conv1d/2d/3d: padding, stride, groups kept


@torch.no_grad()
def reconstruction_errors(
    dense: nn.Module,
    pruned: dict[str, torch.Tensor],
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
) -> dict[str, float]:
    """Relative output error of each pruned weight on the dense model's layer inputs.

    Args:
        dense: the model before pruning (not modified; run in eval mode).
        pruned: layer name -> pruned weight in the dense layer's shape.
        batches: calibration ``(inputs, labels)``.

    Returns:
        Layer name -> ``||X (W - Ŵ)^T||^2 / ||X W^T||^2`` (``inf`` when the dense output
        is zero but the pruned one is not; 0 when both are zero).
    """
    numerator = {name: 0.0 for name in pruned}
    denominator = {name: 0.0 for name in pruned}

    def hook(name: str) -> Callable[..., None]:
        def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: Any) -> None:
            x = inputs[0].detach()
            weight = module_weight(module).detach()
            delta = weight - pruned[name].to(weight.dtype)
            numerator[name] += float(_apply(module, x, delta).double().pow(2).sum())
            denominator[name] += float(_apply(module, x, weight).double().pow(2).sum())

        return record

    handles = [dense.get_submodule(name).register_forward_hook(hook(name)) for name in pruned]
    was_training = dense.training
    dense.eval()
    try:
        for inputs, _labels in batches:
            dense(inputs)
    finally:
        dense.train(was_training)
        for handle in handles:
            handle.remove()
    return {
        name: numerator[name] / denominator[name]
        if denominator[name] > 0
        else (0.0 if numerator[name] == 0 else float("inf"))
        for name in pruned
    }
