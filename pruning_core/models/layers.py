"""Find the prunable layers of a model and view their weights as 2-D matrices.

Every prunable weight is seen as ``(out_features, in_features)``: Linear as is,
Conv as ``(out_channels, in_channels/groups * kh * kw)``. N:M groups and input
statistics refer to the columns of this view.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import torch
from torch import nn

from pruning_core.errors import UserInputError

PRUNABLE_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def module_weight(module: nn.Module) -> torch.Tensor:
    """``module.weight`` typed as a tensor (it is one for every prunable layer)."""
    weight = module.weight
    assert isinstance(weight, torch.Tensor), f"{type(module).__name__} has no weight tensor"
    return weight


@dataclass(frozen=True)
class PrunableLayer:
    """A named Linear/Conv module whose ``weight`` can be pruned."""

    name: str
    module: nn.Module

    @property
    def weight(self) -> torch.Tensor:
        return module_weight(self.module)

    @property
    def kind(self) -> str:
        return type(self.module).__name__

    @property
    def shape_2d(self) -> tuple[int, int]:
        shape = self.weight.shape
        return int(shape[0]), int(self.weight.numel() // shape[0])


def as_2d(weight: torch.Tensor) -> torch.Tensor:
    """View a Linear/Conv weight as ``(out, in * kernel)`` (no copy)."""
    return weight.reshape(weight.shape[0], -1)


def prunable_layers(model: nn.Module) -> list[PrunableLayer]:
    """All Linear/Conv layers in module order (the model's forward order for our models)."""
    return [
        PrunableLayer(name, module)
        for name, module in model.named_modules()
        if isinstance(module, PRUNABLE_TYPES)
    ]


def default_skip(layers: list[PrunableLayer]) -> list[str]:
    """First and last prunable layer: the input stem and the classifier are kept dense."""
    if not layers:
        return []
    return sorted({layers[0].name, layers[-1].name}, key=[layer.name for layer in layers].index)


def resolve_skip(
    layers: list[PrunableLayer],
    patterns: list[str] | None,
    default: tuple[str, ...] | None = None,
) -> list[str]:
    """Layer names matched by ``patterns`` (names or globs); ``None`` means the default.

    The default is the model's own ``default`` patterns (``ModelSpec.default_skip``,
    e.g. ``lm_head`` for language models; a pattern matching nothing is ignored) or,
    without them, the first and the last prunable layer.

    Raises:
        UserInputError: a pattern of the recipe matches no layer.
    """
    names = [layer.name for layer in layers]
    if patterns is None:
        if default is None:
            return default_skip(layers)
        chosen = {name for pattern in default for name in fnmatch.filter(names, pattern)}
        return [name for name in names if name in chosen]
    skipped: set[str] = set()
    for pattern in patterns:
        matched = fnmatch.filter(names, pattern)
        if not matched:
            raise UserInputError(
                "skip_layers", f"'{pattern}' matches no prunable layer; layers: {', '.join(names)}"
            )
        skipped.update(matched)
    return [name for name in names if name in skipped]
