"""Recipe checks before anything runs: every problem the engine finds, and the layer plan.

The rules live in ``pruning_core.check`` alone; this module only asks it (cached per
recipe) and shapes the answer for the Configure page.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

import pruning_core
from dashboard.services.models import dense_accuracy, file_stamp, layer_table

Issue = pruning_core.Problem  # a problem with its field, shown next to the form
PRUNE = "prune"


def check_recipe(draft: dict[str, Any]) -> tuple[Any, list[Issue], pd.DataFrame]:
    """Validate a recipe draft the way a run would, without running anything.

    Returns:
        The recipe (``None`` if it does not parse), every problem found (field and
        reason), and the layer table with a ``plan`` column (prune, or why not).
    """
    plan = layer_table(draft["model"]).copy()
    plan["plan"] = PRUNE
    try:
        recipe = pruning_core.parse_recipe(draft)
    except pruning_core.UserInputError as error:
        return None, [Issue(error.field, error.message)], plan
    problems, notes = inspect(recipe)
    plan["plan"] = [notes.get(name, PRUNE) for name in plan["layer"]]
    return recipe, problems, plan


def inspect(recipe: Any) -> tuple[list[Issue], dict[str, str]]:
    """``pruning_core.check``'s problems and why each layer is left alone (the engine's words)."""
    return _inspect(recipe.model_dump_json(), file_stamp(recipe.weights))


@st.cache_data(show_spinner=False, max_entries=64)
def _inspect(recipe_json: str, stamp: float) -> tuple[list[Issue], dict[str, str]]:
    """Cached by the recipe's JSON and the weights file's mtime (``stamp``)."""
    inspection = pruning_core.inspect_recipe(pruning_core.parse_recipe(json.loads(recipe_json)))
    notes = inspection.selection.notes if inspection.selection is not None else {}
    return list(inspection.problems), dict(notes)


def estimate(recipe: Any, plan: pd.DataFrame) -> dict[str, float]:
    """Before-the-run estimate: every pruned layer at its target (``layer_sparsity`` or the
    recipe's sparsity), the others dense."""
    pruned = plan["plan"] == PRUNE
    explicit = recipe.layer_sparsity
    target = (
        plan["layer"].map(lambda name: explicit.get(name, 0.0))
        if explicit is not None
        else pd.Series(recipe.sparsity, index=plan.index)
    ).where(pruned, 0.0)
    kept = plan["params"] * (1 - target)
    macs = plan["macs"] * (1 - target)
    facts = dense_accuracy(recipe.model, recipe.weights, file_stamp(recipe.weights))
    width = pruning_core.BYTES_PER_ELEMENT.get(recipe.precision, 4)
    return {
        "pruned_layers": int((pruned & (target > 0)).sum()),
        "weights_removed": float((plan["params"] - kept).sum()),
        "layer_sparsity": 1 - float(kept.sum()) / max(float(plan["params"].sum()), 1.0),
        "theoretical_speedup": float(plan["macs"].sum()) / max(float(macs.sum()), 1.0),
        "size_bytes": facts["size_bytes"] * width / 4,
    }


def sweep_recipes(
    recipe: Any, names: list[str], sparsities: list[float], seeds: list[int]
) -> list[Any]:
    """The validated recipes of a sweep: criteria x sparsities x seeds (N:M fixes sparsity)."""
    return pruning_core.sweep_recipes(recipe, names, sparsities, seeds)


def check_sweep(recipes: list[Any]) -> list[Issue]:
    """Problems of a sweep's recipes (each criterion checked once), without repeats."""
    first: dict[str, Any] = {}
    for recipe in recipes:
        first.setdefault(recipe.criterion, recipe)
    found = [problem for recipe in first.values() for problem in inspect(recipe)[0]]
    return list(dict.fromkeys(found))
