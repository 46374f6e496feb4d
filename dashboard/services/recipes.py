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
from dashboard.services.models import file_stamp, layer_table
from dashboard.services.store import store

Issue = pruning_core.Problem  # a problem with its field, shown next to the form
PRUNE = "prune"


def check_recipe(draft: dict[str, Any]) -> tuple[Any, list[Issue], pd.DataFrame]:
    """Validate a recipe draft the way a run would, without running anything.

    Returns:
        The recipe (``None`` if it does not parse), every problem found (field and
        reason), and the layer table with a ``plan`` column (prune, or why not).
    """
    plan = layer_table(draft["model"], draft.get("weights"), draft.get("data")).copy()
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
    recipe = pruning_core.parse_recipe(json.loads(recipe_json))
    inspection = pruning_core.inspect_recipe(recipe, shapes_only=True)  # large LMs: no weights
    notes = inspection.selection.notes if inspection.selection is not None else {}
    return list(inspection.problems), dict(notes)


def estimate(recipe: Any, plan: pd.DataFrame, dense_size_bytes: float) -> dict[str, float]:
    """Before-the-run estimate: every pruned layer at its target (``layer_sparsity`` or the
    recipe's sparsity), the others dense; ``dense_size_bytes`` is the fp32 model's size."""
    pruned = plan["plan"] == PRUNE
    explicit = recipe.layer_sparsity
    target = (
        plan["layer"].map(lambda name: explicit.get(name, 0.0))
        if explicit is not None
        else pd.Series(recipe.sparsity, index=plan.index)
    ).where(pruned, 0.0)
    kept = plan["params"] * (1 - target)
    macs = plan["macs"] * (1 - target)
    width = pruning_core.BYTES_PER_ELEMENT.get(recipe.precision, 4)
    return {
        "pruned_layers": int((pruned & (target > 0)).sum()),
        "weights_removed": float((plan["params"] - kept).sum()),
        "layer_sparsity": 1 - float(kept.sum()) / max(float(plan["params"].sum()), 1.0),
        "theoretical_speedup": float(plan["macs"].sum()) / max(float(macs.sum()), 1.0),
        "size_bytes": dense_size_bytes * width / 4,
    }


HIGH_SPARSITY = 0.95  # above this, accuracy usually collapses: warn, do not block
FEW_CHANNELS = 2


def guardrails(recipe: Any, plan: pd.DataFrame) -> list[Issue]:
    """Warnings (never blocks) for layers a recipe nearly empties.

    A pruned layer above 95% sparsity, or a channel-pruned layer left with 1 or 2 output
    channels, usually breaks the model. Per-layer targets as :func:`estimate` assumes
    them (uniform or explicit; global, ERK and OWL decide per layer while running).
    """
    explicit = recipe.layer_sparsity
    found: list[Issue] = []
    for _, layer in plan[plan["plan"] == PRUNE].iterrows():
        target = explicit.get(layer["layer"], 0.0) if explicit is not None else recipe.sparsity
        if recipe.structure.implied_sparsity is not None:
            target = recipe.structure.implied_sparsity if target else 0.0
        out, cols = (int(side) for side in str(layer["view_2d"]).split("x"))
        field = f"layer_sparsity.{layer['layer']}" if explicit is not None else "sparsity"
        if recipe.structure.removes_channels:
            kept = max(1, round(out * (1 - target)))
            if kept <= FEW_CHANNELS and target > 0:
                found.append(
                    Issue(
                        field,
                        f"'{layer['layer']}' would keep about {kept} of {out} output channels "
                        f"at {target:.0%}: the model can hardly pass information through it",
                    )
                )
                continue
        if target > HIGH_SPARSITY:
            kept = round(out * cols * (1 - target))
            found.append(
                Issue(
                    field,
                    f"'{layer['layer']}' would keep about {kept:,} of {out * cols:,} weights "
                    f"({target:.0%} sparsity); above {HIGH_SPARSITY:.0%} accuracy usually "
                    "collapses",
                )
            )
    return found


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


def queue_baseline(run_id: int) -> int:
    """Queue run ``run_id``'s recipe with the random criterion (its baseline); returns the id.

    Raises:
        UserInputError: the run is gone, or the baseline recipe does not pass the check.
    """
    record = store().get(run_id)
    if record is None:
        raise pruning_core.UserInputError("run", f"run #{run_id} no longer exists")
    recipe = pruning_core.parse_recipe({**record.recipe, "criterion": "random"})
    problems = inspect(recipe)[0]
    if problems:
        raise problems[0].as_error()
    return store().enqueue(recipe, label=f"baseline of #{run_id}")
