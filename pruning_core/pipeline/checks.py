"""The one place recipe rules live: ``check(recipe, spec) -> list[Problem]``.

The CLI prints the first problem, :func:`pruning_core.pipeline.run.prune` raises it, and
the dashboard lists them all beside the form; nobody restates a rule. Rules that need
no model (criterion names, what a structure allows) come first, then the ones that need
the model's data, then the ones that need its layers, in the order a run meets them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from pruning_core.criteria import CRITERIA, Criterion
from pruning_core.errors import Problem, UserInputError
from pruning_core.models.data import Split
from pruning_core.models.registry import has_data, load_data, spec_for, spec_with_data
from pruning_core.models.spec import ModelSpec
from pruning_core.pipeline.finetune import steps_per_epoch
from pruning_core.pipeline.schedules import default_end_step
from pruning_core.pruning.layer_selection import (
    LayerSelection,
    build_prunable_model,
    select_layers,
    shapes_only_model,
)
from pruning_core.pruning.recipe_rules import recipe_problems
from pruning_core.recipe import Recipe


@dataclass
class Inspection:
    """A recipe checked against a model: its problems and, when built, the layer selection."""

    problems: list[Problem] = field(default_factory=list)
    model: nn.Module | None = None
    selection: LayerSelection | None = None
    data: dict[str, Split] | None = None  # the run's splits, loaded once


def finetune_steps(recipe: Recipe, train: Split | None) -> int:
    """Optimizer steps of one finetuning round (0 without training data)."""
    if train is None:
        return 0
    return recipe.finetune.epochs * steps_per_epoch(len(train), recipe.finetune.batch_size)


def gradual_end_step(recipe: Recipe, total_steps: int) -> int:
    """The gradual schedule's end step within a finetune budget of ``total_steps``.

    Raises:
        UserInputError: no finetuning to prune during, or the steps outside the budget.
    """
    problem = _gradual_problem(recipe, total_steps)
    if problem is not None:
        raise problem.as_error()
    return _planned_end(recipe, total_steps)


def _planned_end(recipe: Recipe, total_steps: int) -> int:
    """The end step the recipe sets, or the default two thirds of the budget."""
    schedule = recipe.schedule
    if schedule.end_step is not None:
        return schedule.end_step
    return default_end_step(total_steps, schedule.start_step)


def _gradual_problem(recipe: Recipe, total_steps: int) -> Problem | None:
    schedule = recipe.schedule
    if total_steps == 0:
        return Problem(
            "finetune.epochs", "the gradual schedule prunes while finetuning; set epochs >= 1"
        )
    budget = f"the finetune budget has {total_steps} optimizer steps"
    if schedule.start_step > total_steps:
        return Problem(
            "schedule.start_step",
            f"start step must lie in [0, {total_steps}] ({budget}), got {schedule.start_step}",
        )
    end = _planned_end(recipe, total_steps)
    if end > total_steps or schedule.start_step > end:
        return Problem(
            "schedule.end_step",
            f"must lie in [start_step={schedule.start_step}, {total_steps}] ({budget}), got {end}",
        )
    return None


def _data_problems(recipe: Recipe, spec: ModelSpec, criterion: Criterion | None) -> list[Problem]:
    if has_data(spec, recipe.data):
        return []
    problems = []
    if criterion is not None and criterion.needs:
        allowed = tuple(name for name in CRITERIA if not CRITERIA.get(name).needs)
        problems.append(
            Problem(
                "criterion",
                f"'{criterion.name}' needs calibration data but {spec.label} has none; "
                f"allowed: {', '.join(allowed)}",
                allowed,
            )
        )
    if recipe.finetune.epochs:
        problems.append(
            Problem("finetune.epochs", f"{spec.label} has no data to finetune on; set 0", ("0",))
        )
    if recipe.layer_sparsity is None and recipe.allocation in ("owl", "sensitivity"):
        allowed = ("uniform", "global", "erk")
        problems.append(
            Problem(
                "allocation",
                f"'{recipe.allocation}' measures on data and {spec.label} has none; "
                f"allowed: {', '.join(allowed)}",
                allowed,
            )
        )
    return problems


def _selection_problems(recipe: Recipe, selection: LayerSelection) -> list[Problem]:
    problems = list(selection.problems)
    if recipe.layer_sparsity is not None and not problems:
        pruned = [layer.name for layer in selection.active]
        for name in recipe.layer_sparsity:
            if name not in pruned:
                why = selection.notes.get(name, "not a prunable layer of this model")
                problems.append(
                    Problem(
                        "layer_sparsity",
                        f"'{name}' is not a layer this recipe prunes ({why}); "
                        f"pruned: {', '.join(pruned)}",
                        tuple(pruned),
                    )
                )
    return problems


def _class_problem(
    recipe: Recipe, spec: ModelSpec, model: nn.Module, splits: dict[str, Split]
) -> Problem | None:
    """Your own data must feed the model and match its number of outputs (classifiers)."""
    if spec.task != "classification":
        return None
    shape = tuple(spec.input_shape)
    was_training = model.training
    try:
        with torch.no_grad():
            outputs = model.eval()(torch.zeros((1, *shape)))
    except Exception as error:  # any architecture's own refusal of this input size
        size = "x".join(str(side) for side in shape)
        field_name = "data.image_size" if hasattr(recipe.data, "image_size") else "data"
        return Problem(
            field_name,
            f"'{spec.name}' cannot take {size} inputs ({type(error).__name__}: {error})"[:500],
        )
    finally:
        model.train(was_training)
    if not isinstance(outputs, torch.Tensor) or outputs.dim() != 2:
        return None  # not plain logits: nothing to compare
    classes = 1 + max(int(split.y.max()) for split in splits.values() if len(split))
    if outputs.shape[1] == classes:
        return None
    origin = (
        f"its classifier, from weights {recipe.weights}" if recipe.weights else "its classifier"
    )
    return Problem(
        "data",
        f"the data has {classes} classes but '{spec.name}' outputs {outputs.shape[1]} "
        f"({origin}); train the model on these classes",
    )


def _splits(recipe: Recipe, spec: ModelSpec) -> tuple[dict[str, Split] | None, list[Problem]]:
    """The run's splits (the recipe's own ``data``, else the model's), or why they cannot load."""
    try:
        return load_data(spec, recipe.data), []
    except UserInputError as error:
        return None, [Problem.of(error)]


LM_STRUCTURES = ("unstructured", "n:m", "block")
LM_ALLOCATIONS = ("uniform", "global", "erk", "owl")


def _calibration_problem(recipe: Recipe, train: Split | None) -> Problem | None:
    """A causal LM's training text must hold ``calibration.samples`` windows."""
    if train is None or len(train) >= recipe.calibration.samples:
        return None
    seq_len = int(train.x.shape[1])
    samples = recipe.calibration.samples
    return Problem(
        "calibration.samples",
        f"the text's calibration part holds {len(train)} windows of {seq_len} tokens "
        f"({len(train) * seq_len:,} tokens); {samples} samples x {seq_len} tokens need "
        f"{samples * seq_len:,}: lower calibration.samples or data.seq_len, or give more text",
        (str(len(train)),),
    )


def _language_model_problems(
    recipe: Recipe, spec: ModelSpec, criterion: Criterion | None, train: Split | None
) -> list[Problem]:
    """Causal LMs: weights are masked in place (no channel or head removal), allocations
    that need no classifier accuracy, and enough text for the calibration samples."""
    if spec.task != "causal_lm":
        return []
    problems = []
    kind = recipe.structure.kind
    if kind not in LM_STRUCTURES:
        problems.append(
            Problem(
                "structure",
                f"'{kind}' is not available for causal language models; "
                f"allowed: {', '.join(LM_STRUCTURES)}",
                LM_STRUCTURES,
            )
        )
    if recipe.layer_sparsity is None and recipe.allocation not in LM_ALLOCATIONS:
        problems.append(
            Problem(
                "allocation",
                f"'{recipe.allocation}' is not available for causal language models; "
                f"allowed: {', '.join(LM_ALLOCATIONS)}",
                LM_ALLOCATIONS,
            )
        )
    calibrated = bool(criterion is not None and criterion.needs) or recipe.allocation == "owl"
    if calibrated:
        problem = _calibration_problem(recipe, train)
        problems += [problem] if problem is not None else []
    return problems


def inspect_recipe(
    recipe: Recipe,
    spec: ModelSpec | None = None,
    model: nn.Module | None = None,
    shapes_only: bool = False,
) -> Inspection:
    """Check ``recipe`` and keep what was built on the way (the run reuses it).

    With ``shapes_only`` (a check that runs nothing), a model the spec can build without
    weights (large language models) is inspected as that skeleton: the same names and
    shapes, no weights loaded; ``Inspection.model`` must then not be run.
    """
    try:
        spec = spec_with_data(spec or spec_for(recipe.model, recipe.weights), recipe.data)
    except UserInputError as error:
        return Inspection([Problem.of(error)])
    problems = recipe_problems(recipe)
    criterion = CRITERIA.get(recipe.criterion) if recipe.criterion in CRITERIA else None
    problems += _data_problems(recipe, spec, criterion)
    splits, data_problems = _splits(recipe, spec)
    problems += data_problems
    train = splits["train"] if splits else None
    problems += _language_model_problems(recipe, spec, criterion, train)
    if recipe.schedule.kind == "gradual" and splits is not None:
        gradual = _gradual_problem(recipe, finetune_steps(recipe, train))
        problems += [gradual] if gradual is not None else []
    if model is None:
        try:
            build = shapes_only_model if shapes_only else build_prunable_model
            model = build(spec, recipe.weights)
        except UserInputError as error:
            return Inspection(problems + [Problem.of(error)])
    if recipe.data is not None and splits is not None:
        mismatch = _class_problem(recipe, spec, model, splits)
        problems += [mismatch] if mismatch is not None else []
    selection = select_layers(model, spec, recipe)
    problems += _selection_problems(recipe, selection)
    return Inspection(problems, model, selection, splits)


def check(
    recipe: Recipe, spec: ModelSpec | None = None, model: nn.Module | None = None
) -> list[Problem]:
    """Everything wrong with running ``recipe`` on the model (empty: it will run).

    Args:
        recipe: a parsed recipe.
        spec: the model's spec (default: looked up by ``recipe.model``).
        model: the already built dense model, if the caller has one (it is not changed).
    """
    return inspect_recipe(recipe, spec, model, shapes_only=True).problems
