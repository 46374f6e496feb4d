"""One layer at a time: prune it alone at each grid sparsity and measure (or estimate) the damage.

Every other layer stays dense, nothing is finetuned, and the model is restored after
each point. ``measured`` evaluates loss and the task's metric on the *validation* split
(the test split is never used for choices): accuracy for classifiers, perplexity for
causal language models (loss: mean next-token NLL per predicted token, ``exp`` of it is
the perplexity). Every row's damage is ``loss_delta``, the loss increase, positive when
worse for both tasks; ``accuracy_delta`` (classifiers; negative when worse) or
``perplexity_delta`` (causal LMs; positive when worse) says it in the task's metric.
``fisher`` is the fast approximation for large models: the second-order (OBD) estimate
``dL ~ 1/2 sum F_ii (w_i - w'_i)^2`` with the Fisher diagonal ``F`` from calibration
inputs (training split); it needs one backward pass per micro-batch and no evaluation
per point, and it predicts loss only (for causal LMs the loss per predicted token, labels
drawn per position). Being quadratic, it ranks layers well but underestimates the sharp
loss rise at high sparsity.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from pruning_core.criteria import Criterion, LayerStats
from pruning_core.criteria.calibration import collect_stats, recording_inputs
from pruning_core.masks.parametrize import weight_parameter
from pruning_core.models.data import Batches, Split
from pruning_core.models.layers import PrunableLayer, as_2d
from pruning_core.models.metrics import split_metrics
from pruning_core.pruning.sequential import uses_sequential
from pruning_core.pruning.step import StepPlan, compute_masks, prune_step
from pruning_core.recipe import Structure

Row = dict[str, Any]
Report = Callable[[str, float, str], None]  # raises RunCancelled when asked to stop
FISHER_MICRO_BATCH = 8


@dataclass
class Setup:
    """What a profile measures: the dense model, its layers and data."""

    model: nn.Module
    layers: list[PrunableLayer]  # the layers to profile
    criterion: Criterion
    structure: Structure
    batches: Batches  # calibration, training split
    val: Split | None
    seed: int
    example: torch.Tensor  # a small input batch (channel removal traces the model)
    metric: str = "accuracy"  # or "perplexity" (causal LMs)


def val_metrics(setup: Setup, model: nn.Module) -> tuple[float, float]:
    """``(metric, loss)`` of ``model`` on the validation split: accuracy or perplexity."""
    assert setup.val is not None
    return split_metrics(model, setup.val, setup.metric)


def metric_fields(metric: str, value: float | None, loss: float | None) -> Row:
    """A row's ``val_loss`` and metric fields; a causal LM's accuracy stays ``None``."""
    fields: Row = {"val_loss": loss, "val_accuracy": value if metric == "accuracy" else None}
    if metric != "accuracy":
        fields[f"val_{metric}"] = value
    return fields


def delta_fields(metric: str, value_delta: float | None, loss_delta: float | None) -> Row:
    """A row's changes from the dense model: ``loss_delta`` and the metric's own."""
    fields: Row = {
        "loss_delta": loss_delta,
        "accuracy_delta": value_delta if metric == "accuracy" else None,
    }
    if metric != "accuracy":
        fields[f"{metric}_delta"] = value_delta
    return fields


def grid_for(structure: Structure, sparsities: list[float]) -> list[float]:
    """The profiled sparsities: the grid, or the one sparsity N:M fixes (on/off)."""
    if structure.implied_sparsity is not None:
        return [structure.implied_sparsity]
    return sorted(set(sparsities))


@torch.no_grad()
def layer_stats(setup: Setup) -> dict[str, LayerStats]:
    """Calibration statistics of every profiled layer in the dense model."""
    if not uses_sequential(setup.criterion, setup.structure):
        return collect_stats(setup.model, setup.layers, setup.batches, setup.criterion.needs)
    hessian = "hessian" in setup.criterion.needs
    setup.model.eval()
    with recording_inputs(setup.layers, hessian=hessian) as recorder:
        for inputs, _labels in setup.batches:
            setup.model(inputs)
    return {layer.name: recorder.stats(layer) for layer in setup.layers}


def pruned_weight(
    setup: Setup, layer: PrunableLayer, stats: LayerStats, sparsity: float
) -> torch.Tensor:
    """The layer's weight pruned alone to ``sparsity`` (dense shape; channels zeroed)."""
    weight = layer.weight.detach()
    if uses_sequential(setup.criterion, setup.structure) and setup.criterion.reconstruct:
        new, keep = setup.criterion.reconstruct(
            as_2d(weight).clone(), stats, sparsity, setup.structure.nm, None
        )
        return (new * keep.to(new.dtype)).reshape(weight.shape).to(weight.dtype)
    stats.generator = torch.Generator().manual_seed(setup.seed)
    plan = StepPlan(setup.criterion, setup.structure, "uniform", sparsity)
    mask = compute_masks([layer], {layer.name: stats}, plan)[layer.name]
    return weight * mask.reshape(weight.shape).to(weight.dtype)


@contextmanager
def swapped(layer: PrunableLayer, weight: torch.Tensor) -> Iterator[None]:
    """Temporarily give ``layer`` another weight."""
    parameter = weight_parameter(layer.module)
    saved = parameter.detach().clone()
    with torch.no_grad():
        parameter.copy_(weight)
    try:
        yield
    finally:
        with torch.no_grad():
            parameter.copy_(saved)


def _evaluate_channel_removal(
    setup: Setup, layer: PrunableLayer, stats: LayerStats, sparsity: float
) -> tuple[float, float]:
    """Remove the layer's output channels in a copy (downstream inputs go too) and evaluate."""
    assert setup.val is not None
    model = copy.deepcopy(setup.model)
    copied = PrunableLayer(layer.name, model.get_submodule(layer.name))
    plan = StepPlan(setup.criterion, setup.structure, "uniform", sparsity)
    prune_step(model, [copied], {layer.name: stats}, plan, setup.example)
    return val_metrics(setup, model)


def _drawn_loss(logits: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, int]:
    """Cross entropy against labels drawn from the model's own softmax; and their count.

    Causal LM logits ``(N, T, V)``: every position that predicts a next token draws one.
    """
    if logits.dim() == 3:
        logits = logits[:, :-1].reshape(-1, logits.shape[-1])
    probabilities = F.softmax(logits.detach().float(), dim=-1)
    drawn = torch.multinomial(probabilities, 1, generator=generator).squeeze(1)
    return F.cross_entropy(logits.float(), drawn), int(drawn.numel())


def fisher_diagonals(setup: Setup, micro: int = FISHER_MICRO_BATCH) -> dict[str, torch.Tensor]:
    """Fisher diagonal per weight, ``E[g^2]`` per sample, with labels drawn from the model.

    The *true* Fisher (labels sampled from the model's own softmax, seeded) rather than
    the empirical one: at a trained optimum the training labels' gradients nearly vanish
    and would make every layer look insensitive. ``n * E[g_batch^2]`` estimates the
    per-sample mean (``n`` drawn labels: samples, or a causal LM's predicted tokens), as
    independent label draws make cross-sample terms average out.
    """
    model, layers = setup.model, setup.layers
    model.eval()
    params = [weight_parameter(layer.module) for layer in layers]
    sums = [torch.zeros_like(p, dtype=torch.float64) for p in params]
    generator = torch.Generator().manual_seed(setup.seed)
    count = 0
    for inputs, _labels in setup.batches:
        for start in range(0, len(inputs), micro):
            loss, drawn = _drawn_loss(model(inputs[start : start + micro]), generator)
            grads = torch.autograd.grad(loss, params, allow_unused=True)
            for total, grad in zip(sums, grads, strict=True):
                if grad is not None:
                    total.add_(grad.detach().double().pow(2), alpha=float(drawn))
            count += 1
    return {layer.name: total / max(count, 1) for layer, total in zip(layers, sums, strict=True)}


def measure_point(
    setup: Setup,
    layer: PrunableLayer,
    stats: LayerStats,
    sparsity: float,
    dense: tuple[float, float] | None,
    fisher: dict[str, torch.Tensor] | None,
) -> Row:
    """One profile row: the layer pruned alone to ``sparsity``."""
    new = pruned_weight(setup, layer, stats, sparsity)
    achieved = 1.0 - int(torch.count_nonzero(new)) / new.numel()
    row: Row = {"layer": layer.name, "sparsity": sparsity, "achieved_sparsity": achieved}
    if fisher is not None:
        delta = (layer.weight.detach().double() - new.double()).pow(2)
        estimate = 0.5 * float((fisher[layer.name] * delta).sum())
        return {
            **row,
            **metric_fields(setup.metric, None, None),
            **delta_fields(setup.metric, None, estimate),
            "method": "fisher",
        }
    assert setup.val is not None and dense is not None
    if setup.structure.removes_channels:
        value, loss = _evaluate_channel_removal(setup, layer, stats, sparsity)
    else:
        with swapped(layer, new):
            value, loss = val_metrics(setup, setup.model)
    return {
        **row,
        **metric_fields(setup.metric, value, loss),
        **delta_fields(setup.metric, value - dense[0], loss - dense[1]),
        "method": "measured",
    }


def profile_rows(
    setup: Setup,
    grid: list[float],
    method: str,
    report: Report,
    done: dict[tuple[str, float], Row] | None = None,
    on_row: Callable[[Row], None] | None = None,
) -> tuple[list[Row], dict[str, float | None]]:
    """Every (layer, sparsity) row, reusing ``done`` ones; and the dense validation metrics.

    Args:
        setup: the dense model and what to profile.
        grid: sparsities (see :func:`grid_for`).
        method: ``measured`` (validation loss and metric) or ``fisher`` (estimate).
        report: progress callback that raises ``RunCancelled`` when asked to stop.
        done: rows already computed (a resumed job), by ``(layer, sparsity)``.
        on_row: called with every newly computed row (e.g. to append it to a cache).
    """
    done = done or {}
    report("calibrate", 0.0, "calibration statistics of the dense model")
    stats = layer_stats(setup)
    dense = val_metrics(setup, setup.model) if setup.val is not None else None
    fisher = None
    if method == "fisher":
        report("calibrate", 0.02, "Fisher diagonal from calibration gradients")
        fisher = fisher_diagonals(setup)
    rows, total = [], len(setup.layers) * len(grid)
    for index, (layer, sparsity) in enumerate((layer, s) for layer in setup.layers for s in grid):
        cached = done.get((layer.name, sparsity))
        if cached is not None:
            rows.append(cached)
            continue
        report("profile", 0.05 + 0.9 * index / total, f"{layer.name} at {sparsity:.0%}")
        row = measure_point(setup, layer, stats[layer.name], sparsity, dense, fisher)
        rows.append(row)
        if on_row is not None:
            on_row(row)
    value, loss = dense if dense is not None else (None, None)
    return rows, metric_fields(setup.metric, value, loss)
