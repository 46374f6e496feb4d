"""The one orchestrator: ``prune(recipe) -> RunResult``. CLI, sweeps and dashboard call it."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pruning_core.compression.quantization import convert_precision
from pruning_core.environment import environment
from pruning_core.errors import UserInputError
from pruning_core.masks.parametrize import remove_masks
from pruning_core.models.layers import resolve_skip
from pruning_core.models.metrics import count_nonzero_params, count_params, top_k_accuracy
from pruning_core.pipeline.finish import compress_step, factorization_errors, finish_report
from pruning_core.pipeline.layer_sparsity import needs_resolving, resolve_layer_sparsity
from pruning_core.pipeline.report import layer_rows, model_summary, nonzero_counts
from pruning_core.pipeline.scheduling import RUNNERS
from pruning_core.pipeline.state import ProgressFn, RunState
from pruning_core.pipeline.task_report import metric_fields, tensor_patterns
from pruning_core.recipe import Recipe
from pruning_core.structures.heads import head_counts

Metrics = tuple[float | None, float | None]


@dataclass
class RunResult:
    """Everything a run produced. ``recipe`` is complete (defaults resolved)."""

    recipe: Recipe
    model: nn.Module
    summary: dict[str, Any]
    layers: list[dict[str, Any]]
    curves: list[dict[str, Any]]
    environment: dict[str, Any]
    timing: dict[str, float] = field(default_factory=dict)
    sizes: list[dict[str, Any]] = field(default_factory=list)  # bytes per layer/format/precision
    tensors: list[dict[str, Any]] = field(default_factory=list)  # sparsity pattern per tensor
    source: Path | None = None  # the checkpoint directory of hf: models (export writes one)


def _resolve_recipe(run: RunState) -> None:
    """Write the defaults a run decides into its recipe: skipped layers, layer sparsities."""
    skip = resolve_skip(run.layers, run.recipe.skip_layers, run.spec.default_skip)
    recipe = run.recipe.with_updates(skip_layers=skip)
    if needs_resolving(recipe):
        run.report("allocate", 0.0, f"{recipe.allocation}: per-layer sparsities")
    run.recipe = resolve_layer_sparsity(
        recipe, run.model, run.active, run.calibration_batches(), run.split("val")
    )


def _summary(
    run: RunState, rows: list[dict[str, Any]], dense: dict[str, Metrics], final: dict[str, Metrics]
) -> dict[str, Any]:
    recipe = run.recipe
    errors = [row["reconstruction_error"] for row in rows]
    errors = [error for error in errors if error is not None]
    return {
        "model": recipe.model,
        "trained": run.spec.trained,
        "criterion": recipe.criterion,
        "structure": recipe.structure.label(),
        "allocation": recipe.allocation,
        "schedule": recipe.schedule.kind,
        "precision": recipe.precision,
        "seed": recipe.seed,
        "target_sparsity": recipe.sparsity,
        **metric_fields(run.metric, dense, final),
        "reconstruction_error_mean": sum(errors) / len(errors) if errors else None,
        **(head_counts(run.sites) if recipe.structure.removes_heads else {}),
    }


def _top5(run: RunState, name: str) -> float | None:
    """Top-5 accuracy on split ``name``: classifiers with more than 5 classes, else None."""
    part = run.split(name)
    if part is None or run.spec.task != "classification":
        return None
    return top_k_accuracy(run.model, part.x, part.y, k=5)


def _refuse_non_finite(model: nn.Module) -> None:
    """A model whose weights diverged is never evaluated, reported or saved as a result."""
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise UserInputError(
                "finetune",
                f"training diverged: '{name}' holds NaN or Inf after finetuning; "
                "lower finetune.lr or finetune.weight_decay",
            )


def prune(
    recipe: Recipe,
    progress: ProgressFn | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> RunResult:
    """Run a recipe end to end: prune, finetune, convert precision, evaluate, report.

    Args:
        recipe: the run.
        progress: called with ``(phase, fraction, message)`` as work proceeds.
        should_cancel: polled often; when it returns True the run raises ``RunCancelled``.

    Raises:
        UserInputError: the first problem :func:`pruning_core.check` finds.
        RunCancelled: ``should_cancel`` asked to stop.
    """
    started = time.perf_counter()
    run = RunState(recipe, progress, should_cancel)
    run.report("load", 0.0, f"loaded {run.spec.name}")
    _resolve_recipe(run)
    params_original = count_params(run.model)
    dense = {"val": run.metrics("val"), "test": run.metrics("test")}
    dense_top5 = _top5(run, "test")
    run.record("dense")
    teacher = copy.deepcopy(run.model).eval() if run.recipe.finetune.distillation else None
    RUNNERS[run.recipe.schedule.kind](run, teacher)
    recipe = run.recipe
    remove_masks(run.model)
    _refuse_non_finite(run.model)
    if recipe.compression is not None:
        run.report("compress", 0.9, recipe.compression.kind)
    compressed = compress_step(run.model, [layer.name for layer in run.active], recipe)
    errors = factorization_errors(run.dense, run.model, run.calibration_batches())
    # counted before the precision conversion: its rounding zeros are not pruning
    pruned_nonzeros = nonzero_counts(run.model, run.layers)
    nonzero_params = count_nonzero_params(run.model)
    run.report("evaluate", 0.95, f"evaluating at {recipe.precision}")
    converted = convert_precision(run.model, recipe.precision)
    run.model = converted.runnable
    final = {"val": run.metrics("val"), "test": run.metrics("test")}
    final_top5 = _top5(run, "test")
    run.model = converted.stored
    rows = layer_rows(
        run.model,
        run.layers,
        run.original,
        run.spec.input_shape,
        run.notes,
        {**run.reconstruction, **errors},
        run.changes,
        pruned_nonzeros,
    )
    finished = finish_report(run.model, rows, recipe, converted, compressed)
    summary = {
        **_summary(run, rows, dense, final),
        "dense_test_top5_accuracy": dense_top5,  # None with 5 classes or fewer
        "test_top5_accuracy": final_top5,
        **model_summary(run.model, rows, params_original, recipe.precision, nonzero_params),
        "speedup_kind": "theoretical (dense MACs / effective MACs of Linear/Conv layers)",
        **finished.summary,
    }
    run.report("done", 1.0, "finished")
    return RunResult(
        recipe=recipe,
        model=run.model,
        summary=summary,
        layers=rows,
        curves=run.curves,
        environment=environment(recipe.seed),
        timing={"seconds": time.perf_counter() - started},
        sizes=finished.size_rows,
        tensors=tensor_patterns(run.model, rows, recipe.structure),
        source=run.spec.source,
    )
