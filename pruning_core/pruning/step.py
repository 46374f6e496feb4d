"""One pruning step: score every active layer, allocate, and apply masks or remove channels."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import torch
from torch import nn

from pruning_core.allocation.rules import allocate, explicit
from pruning_core.criteria import Criterion, LayerStats
from pruning_core.masks.parametrize import apply_mask, current_mask
from pruning_core.masks.row_selection import row_keep_mask
from pruning_core.models.layers import PrunableLayer, as_2d
from pruning_core.recipe import Structure
from pruning_core.structures.channels import remove_output_channels
from pruning_core.structures.grouping import Grouping, grouping, structured_mask

PRUNED_SCORE = -1e30  # already-pruned weights rank below everything, so masks only shrink


@dataclass(frozen=True)
class StepPlan:
    """What one pruning step needs besides the model."""

    criterion: Criterion
    structure: Structure
    allocation: str
    sparsity: float  # target of this step, over the active layers
    layer_sparsity: dict[str, float] | None = None  # explicit per-layer targets win


@dataclass
class StepNotes:
    """What a step reports besides the pruned weights.

    Attributes:
        kept: layers of the step left as they are, and why.
        changed: layers changed through another layer (channel groups), and how.
    """

    kept: dict[str, str] = field(default_factory=dict)
    changed: dict[str, str] = field(default_factory=dict)


def layer_scores(
    criterion: Criterion, structure: Structure, layer: PrunableLayer, stats: LayerStats
) -> torch.Tensor:
    """Scores of one layer in the 2-D view ((out,) for channels), already-pruned ones lowest."""
    weight = layer.weight.detach()
    if structure.removes_channels:
        return criterion.score_channels(weight, stats).float()
    scores = as_2d(criterion.score(weight, stats)).float()
    mask = current_mask(layer.module)
    if mask is not None:
        scores = torch.where(as_2d(mask) > 0, scores, torch.full_like(scores, PRUNED_SCORE))
    return scores


def compute_masks(
    layers: list[PrunableLayer], stats: dict[str, LayerStats], plan: StepPlan
) -> dict[str, torch.Tensor]:
    """Keep-masks ``(out, in)`` for every layer at the step's target sparsity."""
    scores = {
        layer.name: layer_scores(plan.criterion, plan.structure, layer, stats[layer.name])
        for layer in layers
    }
    shapes_2d = {layer.name: layer.shape_2d for layer in layers}
    if plan.structure.is_nm:  # explicit targets switch layers on (> 0) or off
        return {
            name: structured_mask(plan.structure, scores[name], shapes_2d[name], 0)
            if plan.layer_sparsity is None or plan.layer_sparsity.get(name, 0.0) > 0
            else torch.ones(shapes_2d[name], dtype=torch.bool)
            for name in scores
        }
    groupings: dict[str, Grouping] = {
        name: grouping(plan.structure, scores[name], shapes_2d[name]) for name in scores
    }
    full_shapes = {layer.name: tuple(layer.weight.shape) for layer in layers}
    allocation = (
        explicit(groupings, plan.layer_sparsity)
        if plan.layer_sparsity is not None
        else allocate(plan.allocation, groupings, full_shapes, plan.sparsity)
    )
    masks = {}
    for name in scores:
        drop = allocation.groups_to_drop[name]
        if plan.structure.removes_channels:
            drop = min(drop, groupings[name].count - 1)  # a layer keeps at least one channel
        if plan.structure.masks_single_weights and plan.criterion.per_row:
            masks[name] = row_keep_mask(scores[name], drop)  # compared within each output row
            continue
        masks[name] = structured_mask(
            plan.structure, scores[name], shapes_2d[name], drop, allocation.threshold
        )
    return masks


def prune_step(
    model: nn.Module,
    layers: list[PrunableLayer],
    stats: dict[str, LayerStats],
    plan: StepPlan,
    example_input: torch.Tensor,
    keep: Collection[str] = (),
) -> StepNotes:
    """Apply one pruning step in place.

    Args:
        model: changed in place.
        layers: the layers this step prunes.
        stats: their calibration statistics.
        plan: criterion, structure, allocation and targets.
        example_input: a small batch (channel removal traces the model).
        keep: channel removal only: layers whose output channels must not change (their
            coupled groups stay dense).

    Returns:
        Layers that could not be pruned and layers changed through channel groups.
    """
    masks = compute_masks(layers, stats, plan)
    if plan.structure.removes_channels:
        removal = {
            name: torch.nonzero(~mask[:, 0]).reshape(-1).tolist() for name, mask in masks.items()
        }
        removed = remove_output_channels(model, removal, example_input, keep)
        return StepNotes(removed.kept, removed.changed)
    for layer in layers:
        apply_mask(layer.module, masks[layer.name])
    return StepNotes()
