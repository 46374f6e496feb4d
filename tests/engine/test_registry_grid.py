"""Property tests over the whole registry: every criterion x structure x allocation."""

from __future__ import annotations

from typing import get_args

import pytest
import torch
from torch import nn

from pruning_core.criteria import CRITERIA
from pruning_core.criteria.calibration import collect_stats
from pruning_core.masks.parametrize import apply_mask, remove_masks, weight_parameter
from pruning_core.models.layers import as_2d, prunable_layers
from pruning_core.pipeline.finetune import finetune
from pruning_core.pruning.step import StepPlan, compute_masks
from pruning_core.recipe import AllocationKind, Finetune, Structure, StructureKind

STRUCTURES = {
    "unstructured": Structure(kind="unstructured"),
    "n:m": Structure(kind="n:m", n=2, m=4),
    "block": Structure(kind="block", block=(4, 4)),
    "channel": Structure(kind="channel"),
}


# "head" removes whole attention heads instead of masking: covered by test_heads.py
PHYSICAL_STRUCTURES = {"head"}


def test_grid_covers_every_structure_kind() -> None:
    assert set(STRUCTURES) | PHYSICAL_STRUCTURES == set(get_args(StructureKind))


def _model_and_stats():  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 48), nn.ReLU(), nn.Linear(48, 8)
    )
    x = torch.randn(40, 16)
    y = torch.randint(0, 8, (40,))
    layers = prunable_layers(model)
    stats = collect_stats(
        model, layers, [(x[:20], y[:20]), (x[20:], y[20:])], frozenset({"grad", "activation"})
    )
    for entry in stats.values():
        entry.generator = torch.Generator().manual_seed(1)
    return model, layers, stats


@pytest.fixture(scope="module")
def shared_stats():  # type: ignore[no-untyped-def]
    return _model_and_stats()


@pytest.mark.parametrize("criterion", CRITERIA.names())
@pytest.mark.parametrize("structure", list(STRUCTURES))
@pytest.mark.parametrize("allocation", list(get_args(AllocationKind)))
@pytest.mark.parametrize("sparsity", [0.3, 0.5, 0.9])
def test_every_combination_meets_its_target(
    shared_stats,
    criterion: str,
    structure: str,
    allocation: str,
    sparsity: float,  # type: ignore[no-untyped-def]
) -> None:
    model, layers, stats = shared_stats
    spec = STRUCTURES[structure]
    masks = compute_masks(
        layers, stats, StepPlan(CRITERIA.get(criterion), spec, allocation, sparsity)
    )
    total = sum(layer.weight.numel() for layer in layers)
    dropped = {name: int((~mask).sum()) for name, mask in masks.items()}
    for layer in layers:
        mask = masks[layer.name]
        assert mask.shape == layer.shape_2d
        out_features, in_features = layer.shape_2d
        if structure == "n:m":
            assert (mask.reshape(out_features, -1, 4).sum(-1) == 2).all()
        elif structure == "block":
            blocks = mask.reshape(out_features // 4, 4, in_features // 4, 4)
            assert (blocks.all(dim=(1, 3)) | ~blocks.any(dim=(1, 3))).all(), (
                "mask not block-constant"
            )
        elif structure == "channel":
            assert (mask.all(dim=1) | ~mask.any(dim=1)).all(), "mask not row-constant"
            assert mask.any(), "a layer must keep at least one channel"
        if allocation == "uniform" and structure == "unstructured":
            assert dropped[layer.name] == round(sparsity * layer.weight.numel())
    achieved = sum(dropped.values()) / total
    if structure == "n:m":
        assert achieved == pytest.approx(0.5)
    elif allocation == "global" and structure == "unstructured":
        assert sum(dropped.values()) == round(sparsity * total)
    elif structure == "channel":
        widest = max(layer.shape_2d[1] for layer in layers)
        assert abs(achieved * total - sparsity * total) <= len(layers) * widest
    else:
        group = 16 if structure == "block" else 1
        assert abs(achieved * total - sparsity * total) <= len(layers) * group + 1


@pytest.mark.parametrize("optimizer", ["adamw", "sgd", "adam"])
def test_masks_survive_finetuning_with_momentum_and_weight_decay(optimizer: str) -> None:
    model, layers, stats = _model_and_stats()
    plan = StepPlan(CRITERIA.get("magnitude"), STRUCTURES["unstructured"], "uniform", 0.7)
    masks = compute_masks(layers, stats, plan)
    for layer in layers:
        apply_mask(layer.module, masks[layer.name])
    x, y = torch.randn(64, 16), torch.randint(0, 8, (64,))
    config = Finetune(epochs=3, lr=0.05, batch_size=16, optimizer=optimizer, weight_decay=0.1)
    finetune(model, x, y, config, torch.Generator().manual_seed(0))
    for layer in layers:
        zeros = ~masks[layer.name]
        assert (as_2d(layer.weight)[zeros] == 0).all()
        assert (as_2d(weight_parameter(layer.module))[zeros] == 0).all()
        assert (as_2d(layer.weight)[~zeros] != 0).any(), "kept weights should still train"
    remove_masks(model)
    for layer in layers:
        assert int((as_2d(layer.weight) == 0).sum()) >= int((~masks[layer.name]).sum())


def test_masks_only_shrink_across_steps() -> None:
    model, layers, stats = _model_and_stats()
    first = compute_masks(
        layers, stats, StepPlan(CRITERIA.get("random"), STRUCTURES["unstructured"], "uniform", 0.5)
    )
    for layer in layers:
        apply_mask(layer.module, first[layer.name])
    second = compute_masks(
        layers, stats, StepPlan(CRITERIA.get("random"), STRUCTURES["unstructured"], "uniform", 0.8)
    )
    for layer in layers:
        assert not (second[layer.name] & ~first[layer.name]).any(), "a pruned weight came back"
