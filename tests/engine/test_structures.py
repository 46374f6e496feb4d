"""Hand-computed masks for every structure, allocation, schedules and selection."""

from __future__ import annotations

import pytest
import torch

from pruning_core.allocation.rules import erk_densities, global_ranking, uniform
from pruning_core.masks.nm import nm_mask
from pruning_core.masks.selection import kth_smallest, lowest_k_mask
from pruning_core.pipeline.schedules import cubic_sparsity, gradual_steps, iterative_targets
from pruning_core.recipe import Structure
from pruning_core.structures.grouping import grouping, structured_mask


def test_unstructured_drops_lowest() -> None:
    scores = torch.tensor([[1.0, 4.0], [3.0, 2.0]])
    keep = structured_mask(Structure(kind="unstructured"), scores, (2, 2), groups_to_drop=2)
    assert keep.tolist() == [[False, True], [True, False]]


def test_two_of_four_keeps_top_two_per_group() -> None:
    scores = torch.tensor([[0.1, 0.5, 0.3, 0.2, 0.9, 0.8, 0.1, 0.0]])
    keep = nm_mask(scores, 2, 4)
    assert keep.tolist() == [[False, True, True, False, True, True, False, False]]


def test_one_of_eight() -> None:
    scores = torch.arange(16.0).reshape(2, 8).flip(1)
    keep = nm_mask(scores, 1, 8)
    assert keep.sum().item() == 2 and keep[:, 0].all()


def test_block_drops_lowest_mean_blocks() -> None:
    scores = torch.tensor(
        [
            [1.0, 1.0, 9.0, 9.0],
            [1.0, 1.0, 9.0, 9.0],
            [5.0, 5.0, 2.0, 2.0],
            [5.0, 5.0, 2.0, 2.0],
        ]
    )
    keep = structured_mask(Structure(kind="block", block=(2, 2)), scores, (4, 4), groups_to_drop=2)
    expected = torch.tensor(
        [[0, 0, 1, 1], [0, 0, 1, 1], [1, 1, 0, 0], [1, 1, 0, 0]], dtype=torch.bool
    )
    assert torch.equal(keep, expected)


def test_channel_drops_whole_rows() -> None:
    channel_scores = torch.tensor([3.0, 1.0, 2.0, 0.5])
    keep = structured_mask(Structure(kind="channel"), channel_scores, (4, 3), groups_to_drop=2)
    assert keep.tolist() == [[True] * 3, [False] * 3, [True] * 3, [False] * 3]


def test_incompatibility_names_the_reason() -> None:
    assert "not a multiple of M=4" in str(Structure(kind="n:m").incompatibility((8, 9)))
    assert Structure(kind="n:m").incompatibility((8, 12)) is None
    assert "not divisible by block 4x4" in str(Structure(kind="block").incompatibility((8, 6)))


def test_uniform_vs_global_allocation() -> None:
    unstructured = Structure(kind="unstructured")
    groups = {
        "a": grouping(unstructured, torch.tensor([[1.0, 2.0, 3.0, 4.0]]), (1, 4)),
        "b": grouping(unstructured, torch.tensor([[10.0, 20.0, 30.0, 40.0]]), (1, 4)),
    }
    assert uniform(groups, 0.5).groups_to_drop == {"a": 2, "b": 2}
    assert global_ranking(groups, 0.5).groups_to_drop == {"a": 4, "b": 0}
    assert global_ranking(groups, 0.75).groups_to_drop == {"a": 4, "b": 2}


def test_global_with_groups_of_different_sizes_meets_weight_target() -> None:
    channel = Structure(kind="channel")
    groups = {
        "wide": grouping(channel, torch.tensor([1.0, 1.0, 4.0, 4.0]), (4, 10)),
        "narrow": grouping(channel, torch.tensor([1.0, 3.0, 3.0, 3.0]), (4, 2)),
    }
    drop = global_ranking(groups, 0.5).groups_to_drop  # 24 of 48 weights
    dropped = drop["wide"] * 10 + drop["narrow"] * 2
    assert abs(dropped - 24) <= 10  # within one group of the target


def test_erk_densities_hand_computed() -> None:
    # raw density ~ (sum of dims) / numel: a (4x4) -> 8/16 = 0.5, b (2x8) -> 10/16 = 0.625
    # budget 0.5 * 32 = 16 = scale * (0.5*16 + 0.625*16) -> scale = 16/18
    dens = erk_densities({"a": (4, 4), "b": (2, 8)}, 0.5)
    assert dens["a"] == pytest.approx(0.5 * 16 / 18)
    assert dens["b"] == pytest.approx(0.625 * 16 / 18)
    assert dens["a"] * 16 + dens["b"] * 16 == pytest.approx(16)


def test_erk_caps_small_layers_at_dense() -> None:
    dens = erk_densities({"tiny": (2, 2), "big": (64, 64)}, 0.5)
    assert dens["tiny"] == 1.0
    assert dens["tiny"] * 4 + dens["big"] * 4096 == pytest.approx(0.5 * 4100)


def test_lowest_k_mask_exact_with_ties() -> None:
    scores = torch.tensor([0.0, 0.0, 0.0, 1.0, 2.0])
    keep = lowest_k_mask(scores, 2)
    assert int((~keep).sum()) == 2 and keep[3:].all()
    assert lowest_k_mask(scores, 0).all() and not lowest_k_mask(scores, 5).any()


def test_kth_smallest_matches_sort_on_large_tensor() -> None:
    values = torch.randn(1_500_000, generator=torch.Generator().manual_seed(0))
    ordered = values.sort().values
    parts = [values[:1000], values[1000:900_000], values[900_000:]]
    for k in (1, 12345, 750_000, 1_349_999, 1_500_000):
        assert kth_smallest(parts, k) == float(ordered[k - 1])


def test_iterative_targets_end_at_final() -> None:
    targets = iterative_targets(0.9, 3)
    assert targets[-1] == pytest.approx(0.9)
    assert targets == sorted(targets)
    # each round removes the same fraction of what remains
    remaining = [1 - t for t in targets]
    assert remaining[1] / remaining[0] == pytest.approx(remaining[0])


def test_cubic_schedule_of_zhu_and_gupta() -> None:
    assert cubic_sparsity(0, 0.0, 0.9, 0, 100) == 0.0
    assert cubic_sparsity(50, 0.0, 0.9, 0, 100) == pytest.approx(0.9 - 0.9 * 0.5**3)
    assert cubic_sparsity(100, 0.0, 0.9, 0, 100) == pytest.approx(0.9)
    assert cubic_sparsity(500, 0.0, 0.9, 0, 100) == pytest.approx(0.9)
    assert gradual_steps(0, 25, 10) == [0, 10, 20, 25]
