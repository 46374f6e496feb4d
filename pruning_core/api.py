"""The one orchestrator: ``prune(recipe) -> RunResult``. CLI, sweeps and dashboard call it."""

from __future__ import annotations

import copy
import fnmatch
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from pruning_core.calibration import collect_stats
from pruning_core.criteria import CRITERIA, Criterion, LayerStats
from pruning_core.errors import RunCancelled, UserInputError
from pruning_core.finetune import finetune, steps_per_epoch
from pruning_core.finishing import compress_step, finish_report
from pruning_core.heads import (
    dense_layout,
    find_attention,
    head_counts,
    head_layer_notes,
    prune_heads,
)
from pruning_core.heads_mha import convert_multihead_attention
from pruning_core.layers import PrunableLayer, prunable_layers, resolve_skip
from pruning_core.masking import remove_masks
from pruning_core.metrics import count_params, evaluate
from pruning_core.models import MODELS, ModelSpec, build_model
from pruning_core.pruner import StepPlan, prune_step
from pruning_core.quantization import convert_precision
from pruning_core.recipe import Recipe
from pruning_core.reconstruction import reconstruction_errors
from pruning_core.report import environment, layer_rows, model_summary, original_layer_facts
from pruning_core.schedules import (
    cubic_sparsity,
    default_end_step,
    gradual_steps,
    iterative_targets,
)
from pruning_core.sensitivity_targets import (
    relative_channel_targets,
    resolve_layer_sparsity,
    step_targets,
)
from pruning_core.sequential import layer_targets, sequential_prune, uses_sequential
from pruning_core.structures import incompatibility
from sample_models.data import Split

ProgressFn = Callable[[str, float, str], None]  # (phase, fraction 0..1, message)


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


def _check_data_needs(spec: ModelSpec, recipe: Recipe, criterion: Criterion) -> None:
    if spec.data is not None:
        return
    if criterion.needs:
        allowed = [name for name in CRITERIA if not CRITERIA.get(name).needs]
        raise UserInputError(
            "criterion",
            f"'{criterion.name}' needs calibration data but {spec.label} has none; "
            f"allowed: {', '.join(allowed)}",
        )
    if recipe.finetune.epochs:
        raise UserInputError("finetune.epochs", f"{spec.label} has no data to finetune on; set 0")


def select_layers(
    model: nn.Module, spec: ModelSpec, recipe: Recipe
) -> tuple[list[PrunableLayer], list[PrunableLayer], dict[str, str]]:
    """All prunable layers, the active ones, and why each inactive one is left alone."""
    layers = prunable_layers(model)
    notes = {name: "skipped (skip_layers)" for name in resolve_skip(layers, recipe.skip_layers)}
    if recipe.structure.kind == "head":
        notes.update(head_layer_notes(model, [layer.name for layer in layers], notes))
    for layer in layers:
        if layer.name in notes:
            continue
        if (
            recipe.structure.kind == "channel"
            and spec.channel_prunable is not None
            and not any(fnmatch.fnmatch(layer.name, glob) for glob in spec.channel_prunable)
        ):
            notes[layer.name] = "output channels feed attention heads or the residual stream"
            continue
        reason = incompatibility(recipe.structure, layer.shape_2d)
        if reason is None:
            continue
        if not recipe.structure.skip_incompatible:
            raise UserInputError(
                "structure",
                f"{recipe.structure.label()} does not fit layer '{layer.name}': {reason}; "
                "add it to skip_layers or set structure.skip_incompatible: true",
            )
        notes[layer.name] = f"skipped: {reason}"
    active = [layer for layer in layers if layer.name not in notes]
    if not active and recipe.sparsity > 0:
        raise UserInputError("skip_layers", "every prunable layer is skipped; nothing to prune")
    return layers, active, notes


class _Run:
    """State of one run while :func:`prune` executes it."""

    def __init__(
        self, recipe: Recipe, progress: ProgressFn | None, should_cancel: Callable[[], bool] | None
    ) -> None:
        self.recipe = recipe
        self.spec = MODELS.get(recipe.model)
        self.criterion = CRITERIA.get(recipe.criterion)
        _check_data_needs(self.spec, recipe, self.criterion)
        torch.manual_seed(recipe.seed)
        self.generator = torch.Generator().manual_seed(recipe.seed)
        self.model = build_model(self.spec, recipe.weights)
        if recipe.structure.kind == "head":
            convert_multihead_attention(self.model)  # same function, removable heads
        self.data = self.spec.data() if self.spec.data else None
        self.layers, self.active, self.notes = select_layers(self.model, self.spec, recipe)
        active_names = {layer.name for layer in self.active}
        self.sites = [
            site
            for site in find_attention(self.model)
            if recipe.structure.kind == "head" and site.layer_name("q") in active_names
        ]
        # the dense model's layer inputs are where reconstruction errors are measured
        self.dense = copy.deepcopy(self.model).eval() if self.data else None
        self.reconstruction: dict[str, float] = {}
        self.example = torch.zeros((2, *self.spec.input_shape))
        self.original = original_layer_facts(self.model, self.layers, self.spec.input_shape)
        self.channel_done = 0.0  # channel runs: share of channels already removed
        self.channel_done_layers: dict[str, float] = {}  # the same per layer (layer_sparsity)
        self.curves: list[dict[str, Any]] = []
        self._progress = progress
        self._should_cancel = should_cancel
        self.step = 0

    def report(self, phase: str, fraction: float, message: str) -> None:
        if self._should_cancel is not None and self._should_cancel():
            raise RunCancelled(f"cancelled during {phase}")
        if self._progress is not None:
            self._progress(phase, min(max(fraction, 0.0), 1.0), message)

    def split(self, name: str) -> Split | None:
        return self.data[name] if self.data else None

    def calibration_batches(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        train = self.split("train")
        if train is None:
            return []
        config = self.recipe.calibration
        order = torch.randperm(
            len(train), generator=torch.Generator().manual_seed(self.recipe.seed)
        )
        index = order[: config.samples]
        return [
            (train.x[index[i : i + config.batch_size]], train.y[index[i : i + config.batch_size]])
            for i in range(0, len(index), config.batch_size)
        ]

    def val_metrics(self) -> tuple[float | None, float | None]:
        val = self.split("val")
        return evaluate(self.model, val.x, val.y) if val is not None else (None, None)

    def record(self, kind: str, **fields: Any) -> None:
        accuracy, loss = self.val_metrics()
        pruned = sum(int(torch.count_nonzero(layer.weight)) for layer in self.active)
        original = sum(self.original[layer.name]["params"] for layer in self.active)
        self.curves.append(
            {
                "kind": kind,
                "step": self.step,
                **fields,
                "sparsity": 1.0 - pruned / original if original else 0.0,
                "val_accuracy": accuracy,
                "val_loss": loss,
            }
        )

    def layer_stats(
        self, batches: list[tuple[torch.Tensor, torch.Tensor]]
    ) -> dict[str, LayerStats]:
        """Calibration statistics of the active layers, with the run's seeded generator."""
        stats = collect_stats(self.model, self.active, batches, self.criterion.needs)
        for entry in stats.values():
            entry.generator = self.generator
        return stats

    def prune_to(self, sparsity: float, **fields: Any) -> bool:
        """One pruning step to ``sparsity`` (of the original active weights).

        Returns whether parameters were replaced (channels or heads removed).
        """
        structure = self.recipe.structure
        batches = self.calibration_batches()
        if structure.kind == "head":
            stats = self.layer_stats(batches)
            prune_heads(self.sites, self.criterion, stats, sparsity)
            pruned = {
                site.layer_name(role): dense_layout(site, role)
                for site in self.sites
                for role in ("q", "k", "v", "proj")
            }
        elif uses_sequential(self.criterion, structure):
            allocation = "uniform" if structure.kind == "n:m" else self.recipe.allocation
            explicit = step_targets(self.recipe, self.active, sparsity)
            targets = explicit or layer_targets(
                self.model, self.active, batches, self.criterion, allocation, sparsity
            )
            pruned_layers = [
                layer for layer in self.active if not explicit or targets[layer.name] > 0
            ]

            def on_block(index: int, total: int, name: str) -> None:
                self.report("prune", index / total, f"calibrating and pruning {name}")

            self.notes.update(
                sequential_prune(
                    self.model,
                    pruned_layers,
                    batches,
                    self.criterion,
                    structure,
                    targets,
                    on_block=on_block,
                )
            )
            pruned = {layer.name: layer.weight.detach() for layer in self.active}
        else:
            pruned = self._prune_step(sparsity, batches)
        if self.dense is not None:
            self.reconstruction = reconstruction_errors(self.dense, pruned, batches)
        self.record("prune", target=sparsity, **fields)
        return structure.kind in ("channel", "head")

    def _prune_step(
        self, sparsity: float, batches: list[tuple[torch.Tensor, torch.Tensor]]
    ) -> dict[str, torch.Tensor]:
        """Score-then-mask (or channel removal) step; returns pruned weights of dense shape."""
        stats = self.layer_stats(batches)
        step_target = sparsity
        explicit = step_targets(self.recipe, self.active, sparsity)
        if self.recipe.structure.kind == "channel":  # channels shrink: target relative to now
            step_target = 1.0 - (1.0 - sparsity) / (1.0 - self.channel_done)
            self.channel_done = sparsity
            if explicit is not None:
                explicit = relative_channel_targets(explicit, self.channel_done_layers)
        plan = StepPlan(
            self.criterion, self.recipe.structure, self.recipe.allocation, step_target, explicit
        )
        self.notes.update(prune_step(self.model, self.active, stats, plan, self.example))
        if self.recipe.structure.kind == "channel":
            return {}  # shapes changed: no reconstruction error
        return {layer.name: layer.weight.detach() for layer in self.active}


def gradual_end_step(recipe: Recipe, total_steps: int) -> int:
    """The gradual schedule's end step within a finetune budget of ``total_steps``.

    Raises:
        UserInputError: no finetuning to prune during, or the end step outside the budget.
    """
    schedule = recipe.schedule
    if total_steps == 0:
        raise UserInputError(
            "finetune.epochs", "the gradual schedule prunes while finetuning; set epochs >= 1"
        )
    end = (
        schedule.end_step
        if schedule.end_step is not None
        else default_end_step(total_steps, schedule.start_step)
    )
    if end > total_steps or schedule.start_step > end:
        raise UserInputError(
            "schedule.end_step",
            f"must lie in [start_step={schedule.start_step}, {total_steps}] "
            f"(the finetune budget has {total_steps} optimizer steps), got {end}",
        )
    return end


def _finetune(
    run: _Run, teacher: nn.Module | None, on_step: Callable[[int], bool] | None, round_index: int
) -> None:
    train = run.split("train")
    config = run.recipe.finetune
    if train is None or config.epochs == 0:
        return
    total = config.epochs * steps_per_epoch(len(train), config.batch_size)
    first = run.step

    def step_hook(step: int) -> bool:
        run.step = step
        run.report(
            "finetune", (step - first) / total, f"round {round_index} step {step - first}/{total}"
        )
        return on_step(step) if on_step is not None else False

    def epoch_hook(epoch: int, train_loss: float) -> None:
        run.record("finetune", round=round_index, epoch=epoch, train_loss=train_loss)

    run.step = finetune(
        run.model,
        train.x,
        train.y,
        config,
        run.generator,
        teacher=teacher,
        first_step=run.step,
        on_step=step_hook,
        on_epoch=epoch_hook,
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
        UserInputError: the recipe does not fit the model.
        RunCancelled: ``should_cancel`` asked to stop.
    """
    started = time.perf_counter()
    run = _Run(recipe, progress, should_cancel)
    run.report("load", 0.0, f"loaded {run.spec.name}")
    skipped = resolve_skip(run.layers, recipe.skip_layers)
    run.recipe = recipe = recipe.with_updates(skip_layers=skipped)
    if recipe.layer_sparsity is None and recipe.allocation in ("sensitivity", "owl"):
        run.report("allocate", 0.0, f"{recipe.allocation}: per-layer sparsities")
    run.recipe = recipe = resolve_layer_sparsity(
        recipe, run.model, run.active, run.calibration_batches(), run.split("val")
    )
    params_original = count_params(run.model)
    dense_val = run.val_metrics()
    test = run.split("test")
    dense_test = evaluate(run.model, test.x, test.y) if test is not None else (None, None)
    run.record("dense")
    teacher = copy.deepcopy(run.model).eval() if recipe.finetune.distillation else None
    schedule = recipe.schedule
    if schedule.kind == "one_shot":
        run.report("prune", 0.0, "one-shot pruning")
        run.prune_to(recipe.sparsity, round=1)
        _finetune(run, teacher, None, 1)
    elif schedule.kind == "iterative":
        for index, target in enumerate(
            iterative_targets(recipe.sparsity, schedule.rounds), start=1
        ):
            run.report(
                "prune",
                (index - 1) / schedule.rounds,
                f"round {index}/{schedule.rounds}: {target:.3f}",
            )
            run.prune_to(target, round=index)
            _finetune(run, teacher, None, index)
    else:
        train = run.split("train")
        total = (
            recipe.finetune.epochs * steps_per_epoch(len(train), recipe.finetune.batch_size)
            if train is not None
            else 0
        )
        end = gradual_end_step(recipe, total)
        run.recipe = recipe = recipe.with_updates(
            schedule=schedule.model_copy(update={"end_step": end})
        )
        prune_at = set(gradual_steps(schedule.start_step, end, schedule.frequency))

        def gradual_hook(step: int) -> bool:
            if step not in prune_at:
                return False
            target = cubic_sparsity(
                step, schedule.initial_sparsity, recipe.sparsity, schedule.start_step, end
            )
            return run.prune_to(target, round=1)

        if 0 in prune_at:
            gradual_hook(0)
        _finetune(run, teacher, gradual_hook, 1)
    remove_masks(run.model)
    if recipe.compression is not None:
        run.report("compress", 0.9, recipe.compression.kind)
    compressed = compress_step(run.model, [layer.name for layer in run.active], recipe)
    run.report("evaluate", 0.95, f"evaluating at {recipe.precision}")
    converted = convert_precision(run.model, recipe.precision)
    run.model = converted.runnable
    val_accuracy, val_loss = run.val_metrics()
    test_accuracy, test_loss = (
        evaluate(run.model, test.x, test.y) if test is not None else (None, None)
    )
    run.model = converted.stored
    rows = layer_rows(
        run.model, run.layers, run.original, run.spec.input_shape, run.notes, run.reconstruction
    )
    finished = finish_report(run.model, rows, recipe, converted, compressed, run.spec.input_shape)
    errors = [
        row["reconstruction_error"] for row in rows if row["reconstruction_error"] is not None
    ]
    summary = {
        "model": recipe.model,
        "trained": run.spec.trained,
        "criterion": recipe.criterion,
        "structure": recipe.structure.label(),
        "allocation": recipe.allocation,
        "schedule": schedule.kind,
        "precision": recipe.precision,
        "seed": recipe.seed,
        "target_sparsity": recipe.sparsity,
        "dense_val_accuracy": dense_val[0],
        "dense_test_accuracy": dense_test[0],
        "val_accuracy": val_accuracy,
        "val_loss": val_loss,
        "test_accuracy": test_accuracy,
        "test_loss": test_loss,
        **model_summary(run.model, rows, params_original, recipe.precision),
        "speedup_kind": "theoretical (dense MACs / effective MACs of Linear/Conv layers)",
        "reconstruction_error_mean": sum(errors) / len(errors) if errors else None,
        **(head_counts(run.sites) if recipe.structure.kind == "head" else {}),
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
    )
