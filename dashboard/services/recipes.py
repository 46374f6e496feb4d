"""Recipe checks before anything runs: every problem with its field, and the layer plan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from dashboard.services.models import architecture, dense_accuracy, file_stamp, layer_table
from pruning_core.errors import UserInputError

CHOSEN_DENSE = "kept dense (your choice)"


@dataclass(frozen=True)
class Issue:
    """A problem with the configured recipe, tied to the field that causes it."""

    field: str
    message: str


def check_recipe(draft: dict[str, Any]) -> tuple[Any, list[Issue], pd.DataFrame]:
    """Validate a recipe draft the way a run would, without running anything.

    Returns:
        The recipe (``None`` if it does not parse), every problem found (field and
        reason), and the layer table with a ``plan`` column (prune, or why not).
    """
    from pruning_core.recipe import parse_recipe

    plan = layer_table(draft["model"]).copy()
    plan["plan"] = "prune"
    try:
        recipe = parse_recipe(draft)
    except UserInputError as error:
        return None, [Issue(error.field, error.message)], plan
    plan["plan"] = [_layer_notes(recipe).get(name, "prune") for name in plan["layer"]]
    return recipe, _fit_issues(recipe), plan


def _layer_notes(recipe: Any) -> dict[str, str]:
    """Why each layer that will not be pruned is left alone."""
    from pruning_core.pipeline.run import select_layers
    from pruning_core.models.layers import prunable_layers, resolve_skip
    from pruning_core.models.registry import MODELS
    from pruning_core.structures.grouping import incompatibility

    model = architecture(recipe.model)
    lenient = recipe.with_updates(
        structure={**recipe.structure.model_dump(), "skip_incompatible": True}
    )
    try:
        notes = select_layers(model, MODELS.get(recipe.model), lenient)[2]
    except UserInputError:  # e.g. nothing left to prune: describe the layers one by one
        layers = prunable_layers(model)
        try:
            skipped = set(resolve_skip(layers, recipe.skip_layers))
        except UserInputError:
            skipped = set()
        notes = {
            layer.name: "skipped (skip_layers)"
            if layer.name in skipped
            else f"skipped: {incompatibility(recipe.structure, layer.shape_2d)}"
            for layer in layers
            if layer.name in skipped or incompatibility(recipe.structure, layer.shape_2d)
        }
    verb = (
        "skipped: "
        if recipe.structure.skip_incompatible
        else f"does not fit {recipe.structure.label()}: "
    )
    return {
        name: CHOSEN_DENSE if note == "skipped (skip_layers)" else note.replace("skipped: ", verb)
        for name, note in notes.items()
    }


def _fit_issues(recipe: Any) -> list[Issue]:
    """Problems the engine would raise at run time, found now."""
    from pruning_core.pipeline.run import gradual_end_step, select_layers
    from pruning_core.criteria import CRITERIA
    from pruning_core.pipeline.finetune import steps_per_epoch
    from pruning_core.models.registry import MODELS

    spec, issues = MODELS.get(recipe.model), []
    try:
        select_layers(architecture(recipe.model), spec, recipe)
    except UserInputError as error:
        issues.append(Issue(error.field, error.message))
    if spec.data is None and CRITERIA.get(recipe.criterion).needs:
        issues.append(
            Issue("criterion", f"'{recipe.criterion}' needs calibration data; {spec.name} has none")
        )
    if (
        spec.data is None
        and recipe.allocation in ("sensitivity", "owl")
        and not (recipe.layer_sparsity)
    ):
        issues.append(
            Issue(
                "allocation",
                f"'{recipe.allocation}' measures the model on data; {spec.name} has none; "
                "allowed: uniform, global, erk",
            )
        )
    if spec.data is None and recipe.finetune.epochs:
        issues.append(Issue("finetune.epochs", f"{spec.name} has no data to finetune on; set 0"))
    if recipe.schedule.kind == "gradual" and spec.data is not None:
        train = len(spec.data()["train"])
        steps = recipe.finetune.epochs * steps_per_epoch(train, recipe.finetune.batch_size)
        try:
            gradual_end_step(recipe, steps)
        except UserInputError as error:
            issues.append(Issue(error.field, error.message))
    return issues


def estimate(recipe: Any, plan: pd.DataFrame) -> dict[str, float]:
    """Before-the-run estimate, assuming every pruned layer reaches the target sparsity."""
    from pruning_core.models.metrics import BYTES_PER_ELEMENT

    pruned = plan["plan"] == "prune"
    kept = plan["params"].where(~pruned, plan["params"] * (1 - recipe.sparsity))
    macs = plan["macs"].where(~pruned, plan["macs"] * (1 - recipe.sparsity))
    facts = dense_accuracy(recipe.model, recipe.weights, file_stamp(recipe.weights))
    return {
        "pruned_layers": int(pruned.sum()),
        "weights_removed": float((plan["params"] - kept).sum()),
        "layer_sparsity": 1 - float(kept.sum()) / max(float(plan["params"].sum()), 1.0),
        "theoretical_speedup": float(plan["macs"].sum()) / max(float(macs.sum()), 1.0),
        "size_bytes": facts["size_bytes"] * BYTES_PER_ELEMENT.get(recipe.precision, 4) / 4,
    }


def sweep_recipes(
    recipe: Any, names: list[str], sparsities: list[float], seeds: list[int]
) -> list[Any]:
    """The validated recipes of a sweep: criteria x sparsities x seeds (N:M fixes sparsity)."""
    from pruning_core.pipeline.sweep import sweep_recipes as engine_sweep

    return engine_sweep(recipe, names, sparsities, seeds)


def check_sweep(recipes: list[Any]) -> list[Issue]:
    """Problems of a sweep's recipes (each criterion checked once)."""
    first: dict[str, Any] = {}
    for recipe in recipes:
        first.setdefault(recipe.criterion, recipe)
    return [issue for recipe in first.values() for issue in _fit_issues(recipe)]
