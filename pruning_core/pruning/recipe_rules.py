"""Rules visible from a recipe alone: criterion names, what the structure allows.

Part of :func:`pruning_core.pipeline.checks.check` (the one place recipe rules live);
kept at this layer so sensitivity jobs, which sit below the pipeline, apply the same rules.
"""

from __future__ import annotations

from typing import get_args

from pruning_core.criteria import CRITERIA
from pruning_core.errors import Problem, shorten
from pruning_core.recipe import Recipe, StructureKind


def _criterion_problems(recipe: Recipe) -> list[Problem]:
    if recipe.criterion not in CRITERIA:
        return [
            Problem(
                "criterion",
                f"unknown criterion '{shorten(recipe.criterion)}'; "
                f"allowed: {', '.join(CRITERIA.names())}",
                tuple(CRITERIA.names()),
            )
        ]
    allowed = CRITERIA.get(recipe.criterion).structures
    kind = recipe.structure.kind
    if allowed is not None and kind not in allowed:
        kinds = tuple(k for k in get_args(StructureKind) if k in allowed)
        return [
            Problem(
                "structure",
                f"criterion '{recipe.criterion}' does not support '{kind}'; "
                f"allowed: {', '.join(kinds)}",
                kinds,
            )
        ]
    return []


def _allocation_problems(recipe: Recipe) -> list[Problem]:
    structure = recipe.structure
    allowed = structure.allowed_allocations
    if recipe.allocation in allowed:
        return []
    if structure.removes_heads:
        why = "structure 'head' removes the same share of heads from every attention module"
    else:
        why = f"{structure.label()} fixes every layer's sparsity (on or off)"
    return [
        Problem(
            "allocation",
            f"'{recipe.allocation}' does not apply: {why}; allowed: {', '.join(allowed)}",
            allowed,
        )
    ]


def _layer_sparsity_values(recipe: Recipe) -> list[Problem]:
    if recipe.layer_sparsity is None:
        return []
    if recipe.structure.removes_heads:
        return [
            Problem(
                "layer_sparsity",
                "structure 'head' removes the same share of heads everywhere; omit it",
            )
        ]
    problems = []
    for name, value in recipe.layer_sparsity.items():
        why = recipe.structure.layer_sparsity_problem(value)
        if why is not None:
            problems.append(Problem("layer_sparsity", f"'{name}': {why}"))
    return problems


def recipe_problems(recipe: Recipe) -> list[Problem]:
    """Problems visible from the recipe alone (no model needed)."""
    return (
        _criterion_problems(recipe) + _allocation_problems(recipe) + _layer_sparsity_values(recipe)
    )
