"""One pruning step of a run, by structure: heads, sequential calibration, or masks/channels."""

from __future__ import annotations

from typing import Any

import torch

from pruning_core.models.data import Batches
from pruning_core.pipeline.state import RunState
from pruning_core.pruning.decoder import decoder_prune
from pruning_core.pruning.reconstruction import reconstruction_errors
from pruning_core.pruning.sequential import layer_targets, sequential_prune, uses_sequential
from pruning_core.pruning.step import StepPlan, prune_step
from pruning_core.pruning.targets import relative_channel_targets, step_targets
from pruning_core.structures.heads import dense_layout, prune_heads

Pruned = dict[str, torch.Tensor]  # pruned weights of dense shape, by layer


def _prune_heads(run: RunState, sparsity: float, batches: Batches) -> Pruned:
    prune_heads(run.sites, run.criterion, run.layer_stats(batches), sparsity)
    return {
        site.layer_name(role): dense_layout(site, role)
        for site in run.sites
        for role in ("q", "k", "v", "proj")
    }


def _prune_sequentially(run: RunState, sparsity: float, batches: Batches) -> Pruned:
    structure = run.recipe.structure
    allocation = "uniform" if structure.is_nm else run.recipe.allocation
    explicit = step_targets(run.recipe, run.active, sparsity)
    targets = explicit or layer_targets(
        run.model, run.active, batches, run.criterion, allocation, sparsity
    )
    pruned_layers = [layer for layer in run.active if not explicit or targets[layer.name] > 0]

    def on_block(index: int, total: int, name: str) -> None:
        run.report("prune", index / total, f"calibrating and pruning {name}")

    # causal LMs: block by block through the decoder stack on captured activations
    prune_blocks = decoder_prune if run.spec.task == "causal_lm" else sequential_prune
    run.notes.update(
        prune_blocks(
            run.model,
            pruned_layers,
            batches,
            run.criterion,
            structure,
            targets,
            on_block=on_block,
        )
    )
    return {layer.name: layer.weight.detach() for layer in run.active}


def _prune_by_scores(run: RunState, sparsity: float, batches: Batches) -> Pruned:
    """Score-then-mask (or channel removal) step."""
    structure = run.recipe.structure
    stats = run.layer_stats(batches)
    step_target = sparsity
    explicit = step_targets(run.recipe, run.active, sparsity)
    if structure.removes_channels:  # channels shrink: the target is relative to now
        step_target = 1.0 - (1.0 - sparsity) / (1.0 - run.channel_done)
        run.channel_done = sparsity
        if explicit is not None:
            explicit = relative_channel_targets(explicit, run.channel_done_layers)
    plan = StepPlan(run.criterion, structure, run.recipe.allocation, step_target, explicit)
    active = {layer.name for layer in run.active}
    keep = [layer.name for layer in run.layers if layer.name not in active]
    step = prune_step(run.model, run.active, stats, plan, run.example, keep)
    run.notes.update(step.kept)
    run.note_changes(step.changed)
    if structure.removes_channels:
        return {}  # shapes changed: no reconstruction error
    return {layer.name: layer.weight.detach() for layer in run.active}


def prune_to(run: RunState, sparsity: float, **fields: Any) -> bool:
    """One pruning step to ``sparsity`` (of the original active weights).

    Returns whether parameters were replaced (channels or heads removed).
    """
    structure = run.recipe.structure
    batches = run.calibration_batches()
    if structure.removes_heads:
        pruned = _prune_heads(run, sparsity, batches)
    elif uses_sequential(run.criterion, structure):
        pruned = _prune_sequentially(run, sparsity, batches)
    else:
        pruned = _prune_by_scores(run, sparsity, batches)
    if run.dense is not None:
        run.reconstruction = reconstruction_errors(run.dense, pruned, batches)
    run.record("prune", target=sparsity, **fields)
    return structure.changes_shapes
