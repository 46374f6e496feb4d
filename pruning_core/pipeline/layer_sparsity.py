"""Resolve ``allocation: sensitivity`` and ``allocation: owl`` into explicit ``layer_sparsity``.

Both are resolved once at the start of a run and the resolved recipe the run writes
contains the explicit values, so it reproduces without repeating the analysis. Whether
the recipe may ask for them at all is decided by :mod:`pruning_core.pipeline.checks`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from pruning_core.allocation.owl import owl_allocation
from pruning_core.criteria import CRITERIA
from pruning_core.models.data import Batches, Split
from pruning_core.models.layers import PrunableLayer
from pruning_core.recipe import Recipe
from pruning_core.sensitivity.measure import Setup, grid_for, profile_rows
from pruning_core.sensitivity.perf import layer_facts
from pruning_core.sensitivity.plan import propose, recipe_layer_sparsity
from pruning_core.sensitivity.profile import DEFAULT_GRID

RESOLVED_ALLOCATIONS = ("sensitivity", "owl")


def _sensitivity_targets(
    recipe: Recipe, model: nn.Module, layers: list[PrunableLayer], batches: Batches, val: Split
) -> dict[str, float]:
    """Measure a profile in-process and allocate the recipe's sparsity."""
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
    grid = grid_for(recipe.structure, list(DEFAULT_GRID))
    rows, dense = profile_rows(setup, grid, "measured", lambda *_: None)
    facts = layer_facts(model, layers, {}, tuple(val.x.shape[1:]), recipe.structure)
    profile: dict[str, Any] = {"rows": rows, "layers": facts, "dense": dense}
    return propose(profile, recipe.sparsity)["sparsity"]


def needs_resolving(recipe: Recipe) -> bool:
    """Whether the run measures per-layer sparsities before pruning."""
    return recipe.layer_sparsity is None and recipe.allocation in RESOLVED_ALLOCATIONS


def resolve_layer_sparsity(
    recipe: Recipe,
    model: nn.Module,
    layers: list[PrunableLayer],
    batches: Batches,
    val: Split | None,
) -> Recipe:
    """The recipe with explicit ``layer_sparsity`` for ``sensitivity``/``owl`` allocations.

    Args:
        recipe: the run's recipe (checked, skip_layers resolved).
        model: the dense model (left as it was).
        layers: the layers the run prunes.
        batches: calibration batches (training split).
        val: the validation split (sensitivity choices are made on it).
    """
    if not needs_resolving(recipe) or not layers:
        return recipe
    if recipe.allocation == "owl":
        targets = owl_allocation(
            model, layers, batches, recipe.sparsity, recipe.owl.threshold, recipe.owl.lam
        )
    else:
        assert val is not None, "checks require validation data for 'sensitivity'"
        targets = _sensitivity_targets(recipe, model, layers, batches, val)
    return recipe.with_updates(layer_sparsity=recipe_layer_sparsity(targets))
