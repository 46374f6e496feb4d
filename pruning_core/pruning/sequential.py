"""Sequential one-shot pruning with calibration, block by block (as in the SparseGPT paper).

The model is cut into blocks (:func:`layer_blocks`): a prunable layer belongs to the
outermost child of a ``ModuleList``/``Sequential`` that contains it, or is a block of its
own. So ``digits_vit`` has the blocks ``patch_embed``, ``blocks.0``, ``blocks.1``,
``blocks.2``, ``head``; a plain sequential model has one block per prunable layer.

For each block in order, the calibration batches (training split) run through the model
*as pruned so far*, hooks on the block's layers stream their input statistics (Wanda:
per-input squared norms; SparseGPT: ``H = 2 X^T X``), the forward pass stops right after
the block, and each of the block's layers is pruned by its criterion's ``reconstruct``.
Every block is therefore calibrated on the outputs of the already pruned blocks before
it. Layers inside one block share one calibration pass, as in the reference code.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from pruning_core.allocation.rules import erk_densities, global_ranking
from pruning_core.criteria import Criterion, LayerStats
from pruning_core.criteria.calibration import InputRecorder, collect_stats, recording_inputs
from pruning_core.masks.parametrize import apply_mask, current_mask, weight_parameter
from pruning_core.models.layers import PrunableLayer, as_2d
from pruning_core.pruning.step import layer_scores
from pruning_core.recipe import Structure
from pruning_core.structures.grouping import grouping

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]
BlockProgress = Callable[[int, int, str], None]  # (index, total, block name)


@dataclass(frozen=True)
class LayerBlock:
    """Consecutive prunable layers calibrated together."""

    name: str
    module: nn.Module
    layers: list[PrunableLayer]


def uses_sequential(criterion: Criterion, structure: Structure) -> bool:
    """Whether a run prunes with the criterion's one-shot reconstruction, block by block."""
    return criterion.reconstruct is not None and structure.masks_single_weights


def block_name(model: nn.Module, layer_name: str) -> str:
    """The outermost child of a ``ModuleList``/``Sequential`` containing the layer, or itself."""
    parts = layer_name.split(".")
    parent = model
    for depth, part in enumerate(parts):
        if isinstance(parent, nn.ModuleList | nn.Sequential):
            return ".".join(parts[: depth + 1])
        parent = getattr(parent, part)
    return layer_name


def layer_blocks(model: nn.Module, layers: list[PrunableLayer]) -> list[LayerBlock]:
    """Blocks of ``layers`` in model order."""
    members: dict[str, list[PrunableLayer]] = {}
    for layer in layers:
        members.setdefault(block_name(model, layer.name), []).append(layer)
    return [LayerBlock(name, model.get_submodule(name), group) for name, group in members.items()]


class _StopForward(Exception):
    """Raised after the block being calibrated: later blocks need not run."""


def _stop(module: nn.Module, inputs: Any, output: Any) -> None:
    raise _StopForward


def calibrate_block(
    model: nn.Module,
    block: LayerBlock,
    batches: Batches,
    hessian: bool,
    dtype: torch.dtype = torch.float64,
) -> InputRecorder:
    """Run the batches up to the end of ``block`` and record its layers' input statistics."""
    with recording_inputs(block.layers, hessian=hessian, dtype=dtype) as recorder:
        handle = block.module.register_forward_hook(_stop)
        try:
            with torch.no_grad():
                for inputs, _labels in batches:
                    with contextlib.suppress(_StopForward):
                        model(inputs)
        finally:
            handle.remove()
    return recorder


def prune_layer(
    layer: PrunableLayer,
    stats: LayerStats,
    criterion: Criterion,
    structure: Structure,
    sparsity: float,
) -> None:
    """Prune one layer in place with ``criterion.reconstruct``: new weights, then the mask."""
    if criterion.reconstruct is None:
        raise ValueError(f"criterion '{criterion.name}' has no one-shot reconstruction")
    weight = layer.weight.detach()
    nm = structure.nm
    if nm is None and sparsity >= 1.0:  # a global ranking may drop a whole layer
        apply_mask(layer.module, torch.zeros(weight.shape, dtype=torch.bool))
        return
    mask = current_mask(layer.module)
    keep_before = None if mask is None else as_2d(mask) > 0
    new, keep = criterion.reconstruct(as_2d(weight), stats, sparsity, nm, keep_before)
    with torch.no_grad():
        weight_parameter(layer.module).copy_(new.reshape(weight.shape))
    apply_mask(layer.module, keep)


def layer_targets(
    model: nn.Module,
    layers: list[PrunableLayer],
    batches: Batches,
    criterion: Criterion,
    allocation: str,
    sparsity: float,
) -> dict[str, float]:
    """Per-layer sparsity for the sequential pipeline.

    ``uniform``: every layer ``sparsity``; ``erk``: the ERK densities; ``global``: one
    ranking of the criterion's registry scores over all layers, on statistics of the
    model before this step (SparseGPT's score is the Wanda score squared, so both rank
    alike).
    """
    if allocation == "uniform":
        return {layer.name: sparsity for layer in layers}
    shapes = {layer.name: tuple(layer.weight.shape) for layer in layers}
    if allocation == "erk":
        return {name: 1.0 - density for name, density in erk_densities(shapes, sparsity).items()}
    if allocation != "global":
        raise ValueError(f"unknown allocation '{allocation}'")
    stats = collect_stats(model, layers, batches, criterion.needs)
    unstructured = Structure(kind="unstructured")
    groupings = {
        layer.name: grouping(
            unstructured,
            layer_scores(criterion, unstructured, layer, stats[layer.name]),
            layer.shape_2d,
        )
        for layer in layers
    }
    drops = global_ranking(groupings, sparsity).groups_to_drop
    return {layer.name: drops[layer.name] / layer.weight.numel() for layer in layers}


def sequential_prune(
    model: nn.Module,
    layers: list[PrunableLayer],
    batches: Batches,
    criterion: Criterion,
    structure: Structure,
    targets: dict[str, float],
    *,
    dtype: torch.dtype = torch.float64,
    on_block: BlockProgress | None = None,
) -> dict[str, str]:
    """Prune ``layers`` block by block, each calibrated on the already pruned blocks.

    Args:
        model: pruned in place (masks applied; SparseGPT also updates the kept weights).
        layers: the layers to prune, in model order.
        batches: calibration ``(inputs, labels)`` from the training split (materialised
            once: every block runs them again).
        criterion: one with ``reconstruct`` (wanda, sparsegpt).
        structure: unstructured or N:M.
        targets: sparsity per layer (see :func:`layer_targets`); ignored by N:M.
        dtype: accumulation dtype of the statistics.
        on_block: progress callback ``(index, total, block name)`` before each block.

    Returns:
        Notes for layers that could not be pruned (they stay as they were).
    """
    batches = list(batches)
    notes: dict[str, str] = {}
    blocks = layer_blocks(model, layers)
    hessian = "hessian" in criterion.needs
    was_training = model.training
    model.eval()
    try:
        for index, block in enumerate(blocks):
            if on_block is not None:
                on_block(index, len(blocks), block.name)
            recorder = calibrate_block(model, block, batches, hessian, dtype)
            for layer in block.layers:
                if layer.name in recorder.not_unfoldable:
                    notes[layer.name] = (
                        f"skipped: {criterion.name} cannot unfold {layer.kind} inputs"
                    )
                elif layer.name not in recorder.rows:
                    notes[layer.name] = "skipped: the layer never ran on the calibration data"
                else:
                    prune_layer(
                        layer, recorder.stats(layer), criterion, structure, targets[layer.name]
                    )
    finally:
        model.train(was_training)
    return notes
