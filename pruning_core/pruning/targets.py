"""Per-layer targets of one pruning step from a recipe's explicit ``layer_sparsity``.

A recipe's ``layer_sparsity`` overrides its allocation: every listed layer is pruned
to its own sparsity, active layers not listed stay dense. Iterative and gradual
schedules reach those sparsities in steps.
"""

from __future__ import annotations

from pruning_core.models.layers import PrunableLayer
from pruning_core.recipe import Recipe


def step_targets(
    recipe: Recipe, layers: list[PrunableLayer], step: float
) -> dict[str, float] | None:
    """Per-layer targets of a pruning step towards ``step`` (``None`` without layer_sparsity).

    Iterative and gradual schedules scale every layer's final sparsity by
    ``step / recipe.sparsity``, so all layers reach theirs at the last step.
    """
    if recipe.layer_sparsity is None:
        return None
    scale = min(step / recipe.sparsity, 1.0) if recipe.sparsity > 0 else 1.0
    return {layer.name: recipe.layer_sparsity.get(layer.name, 0.0) * scale for layer in layers}


def relative_channel_targets(targets: dict[str, float], done: dict[str, float]) -> dict[str, float]:
    """Channel steps prune the channels left: the share of *remaining* ones each layer drops."""
    relative = {}
    for name, target in targets.items():
        before = done.get(name, 0.0)
        relative[name] = max(0.0, 1.0 - (1.0 - target) / (1.0 - before)) if before < 1 else 0.0
        done[name] = max(before, target)
    return relative
