"""Explicit per-layer sparsities in a run: checking, resolving and scheduling ``layer_sparsity``.

A recipe's ``layer_sparsity`` overrides its allocation: every listed layer is pruned
to its own sparsity, active layers not listed stay dense. ``allocation: sensitivity``
and ``allocation: owl`` without ``layer_sparsity`` are resolved once at the start of a
run (:func:`resolve_layer_sparsity`) and the resolved recipe the run writes contains
the explicit values, so it reproduces without repeating the analysis.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from pruning_core.errors import UserInputError
from pruning_core.layers import PrunableLayer
from pruning_core.recipe import Recipe, Structure
from sample_models.data import Split

Batches = list[tuple[torch.Tensor, torch.Tensor]]


def check_layer_sparsity(
    targets: dict[str, float] | None, structure: Structure
) -> dict[str, float] | None:
    """Validate ``layer_sparsity`` against the structure (raises ``ValueError`` with why)."""
    if targets is None:
        return None
    if structure.kind == "head":
        raise ValueError("structure 'head' removes the same share of heads everywhere; omit it")
    for name, value in targets.items():
        if not 0.0 <= value < 1.0:
            raise ValueError(f"'{name}': sparsity must lie in [0, 1), got {value:g}")
        if structure.kind == "n:m":
            implied = 1.0 - structure.n / structure.m
            if value != 0.0 and abs(value - implied) > 1e-9:
                raise ValueError(
                    f"'{name}': {structure.label()} layers are on ({implied:g}) or off (0), "
                    f"got {value:g}"
                )
    return targets


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


def _sensitivity_targets(
    recipe: Recipe, model: nn.Module, layers: list[PrunableLayer], batches: Batches, val: Split
) -> dict[str, float]:
    """Measure a profile in-process and allocate the recipe's sparsity."""
    from pruning_core.criteria import CRITERIA
    from pruning_core.sensitivity import DEFAULT_GRID
    from pruning_core.sensitivity_measure import Setup, grid_for, profile_rows
    from pruning_core.sensitivity_perf import layer_facts
    from pruning_core.sensitivity_plan import propose

    setup = Setup(
        model,
        layers,
        CRITERIA.get(recipe.criterion),
        recipe.structure,
        batches,
        val,
        recipe.seed,
        torch.zeros((2, *val.x.shape[1:])),
    )
    rows, dense = profile_rows(setup, grid_for(recipe.structure, list(DEFAULT_GRID)), "measured",
                               lambda *_: None)  # fmt: skip
    facts = layer_facts(model, layers, {}, tuple(val.x.shape[1:]), recipe.structure)
    profile: dict[str, Any] = {"rows": rows, "layers": facts, "dense": dense}
    return propose(profile, recipe.sparsity)["sparsity"]


def resolve_layer_sparsity(
    recipe: Recipe,
    model: nn.Module,
    layers: list[PrunableLayer],
    batches: Batches,
    val: Split | None,
) -> Recipe:
    """The recipe with explicit ``layer_sparsity`` for ``sensitivity``/``owl`` allocations.

    Args:
        recipe: the run's recipe (skip_layers resolved).
        model: the dense model (left as it was).
        layers: the layers the run prunes.
        batches: calibration batches (training split).
        val: the validation split (sensitivity choices are made on it), or ``None``.

    Raises:
        UserInputError: ``layer_sparsity`` names a layer the run does not prune, or the
            allocation needs data the model lacks.
    """
    names = [layer.name for layer in layers]
    if recipe.layer_sparsity is not None:
        unknown = [name for name in recipe.layer_sparsity if name not in names]
        if unknown:
            raise UserInputError(
                "layer_sparsity",
                f"'{unknown[0]}' is not a layer this recipe prunes; pruned: {', '.join(names)}",
            )
        return recipe
    if recipe.allocation not in ("sensitivity", "owl") or not layers:
        return recipe
    if recipe.structure.kind == "n:m" and recipe.allocation == "owl":
        raise UserInputError("allocation", "N:M fixes every layer's sparsity; allowed: uniform")
    if recipe.allocation == "owl":
        if not batches:
            raise UserInputError("allocation", "'owl' needs calibration data; allowed: uniform")
        from pruning_core.owl import owl_allocation

        targets = owl_allocation(
            model, layers, batches, recipe.sparsity, recipe.owl.threshold, recipe.owl.lam
        )
    else:
        if val is None:
            raise UserInputError(
                "allocation", "'sensitivity' needs validation data; allowed: uniform, global, erk"
            )
        targets = _sensitivity_targets(recipe, model, layers, batches, val)
    from pruning_core.sensitivity_plan import recipe_layer_sparsity

    return recipe.with_updates(layer_sparsity=recipe_layer_sparsity(targets))
