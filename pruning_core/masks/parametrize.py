"""Keep masks applied with ``torch.nn.utils.parametrize``: ``weight = original * mask``.

Because the mask multiplies the weight inside the forward pass, pruned entries stay
exactly zero whatever the optimizer does (momentum, weight decay, AdamW included), and
the original entries are zeroed as well so that no state can bring them back.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize

from pruning_core.models.layers import module_weight


class WeightMask(nn.Module):
    """Parametrization multiplying the weight by a fixed 0/1 mask (a buffer)."""

    def __init__(self, mask: torch.Tensor) -> None:
        super().__init__()
        self.mask: torch.Tensor
        self.register_buffer("mask", mask)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight * self.mask


def weight_parameter(module: nn.Module) -> nn.Parameter:
    """The trainable leaf tensor behind ``module.weight`` (the original when masked)."""
    if parametrize.is_parametrized(module, "weight"):
        return module.parametrizations.weight.original  # type: ignore[union-attr,return-value]
    return module.weight  # type: ignore[return-value]


def current_mask(module: nn.Module) -> torch.Tensor | None:
    """The mask applied to ``module.weight``, or ``None`` if it is not masked."""
    if not parametrize.is_parametrized(module, "weight"):
        return None
    for parametrization in module.parametrizations.weight:  # type: ignore[union-attr]
        if isinstance(parametrization, WeightMask):
            return parametrization.mask
    return None


@torch.no_grad()
def apply_mask(module: nn.Module, keep: torch.Tensor) -> None:
    """Mask ``module.weight`` with ``keep`` (True = keep); masks only ever shrink."""
    weight = module_weight(module)
    keep = keep.reshape(weight.shape)
    existing = current_mask(module)
    if existing is None:
        mask = keep.to(weight.dtype)
        parametrize.register_parametrization(module, "weight", WeightMask(mask))
    else:
        existing.mul_(keep.to(existing.dtype))
    weight_parameter(module).mul_(current_mask(module))  # type: ignore[arg-type]


def remove_masks(model: nn.Module) -> None:
    """Bake masks into the weights (dense tensors with zeros) and drop the parametrizations."""
    for module in model.modules():
        if parametrize.is_parametrized(module, "weight"):
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
