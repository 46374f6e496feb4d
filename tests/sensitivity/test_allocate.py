"""The sensitivity allocator and OWL: exact budgets, limits, preferences, optimality."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pruning_core.allocation.owl import outlier_ratio, owl_sparsities
from pruning_core.errors import UserInputError
from pruning_core.sensitivity.allocate import (
    LayerCurve,
    allocate,
    cleaned_curve,
    interpolate,
    lower_hull,
)

GRID = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95)


def _curve(name: str, weights: int, losses: tuple[float, ...], **extra: object) -> LayerCurve:
    return LayerCurve(name, float(weights), weights, GRID, losses, **extra)  # type: ignore[arg-type]


def _flat(name: str, weights: int, scale: float) -> LayerCurve:
    return _curve(name, weights, tuple(scale * s**3 for s in GRID))


def test_interpolation_hull_and_cleaning_by_hand() -> None:
    assert interpolate([0, 1, 3], [0, 2, 4], 2) == 3.0
    assert interpolate([0, 1], [0, 2], 1.5) == 3.0  # the last segment extended
    assert lower_hull([(0, 0.0), (1, 2.0), (2, 1.0), (3, 3.0)]) == [(0, 0.0), (2, 1.0), (3, 3.0)]
    xs, ys = cleaned_curve(_curve("a", 10, (0.1, -0.2, 0.05, 0.4, 0.3, 1.0)))
    assert ys == [0.0, 0.1, 0.1, 0.1, 0.4, 0.4, 1.0]  # noise below zero or decreases removed
    assert xs[0] == 0.0


def test_prefers_the_insensitive_layer() -> None:
    sensitive = _curve("sensitive", 1000, (0.5, 1.0, 2.0, 3.0, 5.0, 8.0))
    insensitive = _curve("insensitive", 1000, (0.0, 0.0, 0.01, 0.02, 0.03, 0.05))
    plan = allocate([sensitive, insensitive], 0.6)
    assert plan.sparsity["insensitive"] == pytest.approx(0.95)  # as far as its limit allows
    assert plan.sparsity["sensitive"] == pytest.approx(0.25)
    assert plan.groups_dropped["insensitive"] + plan.groups_dropped["sensitive"] == 1200


def test_meets_an_average_sparsity_target_exactly() -> None:
    curves = [_flat("a", 18432, 3.0), _flat("b", 36864, 1.5), _flat("c", 32768, 0.5)]
    total = 18432 + 36864 + 32768
    for target in (0.1, 0.5, 0.8, 0.9, 0.93):
        plan = allocate(curves, target)
        assert sum(plan.groups_dropped.values()) == round(target * total)
        assert plan.removed_units == pytest.approx(round(target * total))


@settings(max_examples=200, deadline=None)
@given(
    layers=st.lists(
        st.tuples(
            st.integers(1, 400),  # groups
            st.integers(1, 50),  # units per group (weights per channel, MACs per weight)
            st.lists(st.floats(0, 5), min_size=len(GRID), max_size=len(GRID)),
            st.floats(0.5, 0.99),  # upper limit
        ),
        min_size=1,
        max_size=6,
    ),
    share=st.floats(0, 1),
)
def test_any_feasible_target_is_met_within_one_group_and_limits_hold(
    layers: list[tuple[int, int, list[float], float]], share: float
) -> None:
    curves = [
        LayerCurve(f"l{i}", float(groups * unit), groups, GRID, tuple(loss), high=high)
        for i, (groups, unit, loss, high) in enumerate(layers)
    ]
    ceiling = sum(math.floor(c.high * c.groups + 1e-9) * c.units / c.groups for c in curves)  # type: ignore[operator]
    total = sum(c.units for c in curves)
    target = share * ceiling / total
    plan = allocate(curves, target)
    biggest_group = max(c.units / c.groups for c in curves)
    assert abs(plan.removed_units - target * total) <= biggest_group / 2 + 1e-6
    for curve in curves:
        assert 0 <= plan.sparsity[curve.name] <= curve.high + 1e-12  # type: ignore[operator]
        assert plan.groups_dropped[curve.name] <= curve.groups


def test_matches_brute_force_on_convex_curves() -> None:
    # one unit per group, so the discrete optimum is reachable exactly
    grid = (0.2, 0.4, 0.6, 0.8, 1.0)
    shapes = {"a": (1.0, 2.0), "b": (0.3, 3.0), "c": (2.0, 1.5)}
    curves = [
        LayerCurve(
            name, 10.0 * (i + 1), 10 * (i + 1), grid, tuple(k * s**p for s in grid), high=1.0
        )
        for i, (name, (k, p)) in enumerate(shapes.items())
    ]
    for target in (0.3, 0.5, 0.7):
        plan = allocate(curves, target)
        best = math.inf
        for drops in itertools.product(range(11), range(21), range(31)):
            if sum(drops) != round(target * 60):
                continue
            cost = sum(
                interpolate([0, *grid], [0, *c.loss], d / c.groups)
                for d, c in zip(drops, curves, strict=True)
            )
            best = min(best, cost)
        assert sum(plan.groups_dropped.values()) == round(target * 60)
        assert plan.predicted_loss == pytest.approx(best)


def test_overrides_are_kept_and_the_rest_redistributed() -> None:
    curves = [
        _flat("a", 1000, 1.0),
        _curve("b", 1000, (0.0,) * 6, low=0.5, high=0.5),  # fixed by the user
        _flat("c", 1000, 2.0),
    ]
    plan = allocate(curves, 0.7)
    assert plan.sparsity["b"] == pytest.approx(0.5)
    assert sum(plan.groups_dropped.values()) == 2100


def test_a_macs_budget_counts_macs_not_weights() -> None:
    cheap = LayerCurve("cheap", 1000.0, 100, GRID, (0.0,) * 6)  # few MACs per weight
    costly = LayerCurve("costly", 9000.0, 100, GRID, (0.0,) * 6)
    plan = allocate([cheap, costly], 0.5)
    assert plan.removed_units == pytest.approx(5000)


def test_nm_on_off_picks_the_least_sensitive_layers() -> None:
    curves = [
        LayerCurve(name, 100.0, 1, (0.5,), (loss,), group_sparsity=0.5)
        for name, loss in (("a", 0.3), ("b", 0.01), ("c", 0.1))
    ]
    plan = allocate(curves, 0.5 * 200 / 300)
    assert plan.sparsity == {"a": 0.0, "b": 0.5, "c": 0.5}


@pytest.mark.parametrize(("target", "field"), [(0.99, "sparsity"), (0.1, "sparsity")])
def test_infeasible_targets_name_the_field(target: float, field: str) -> None:
    curves = [_curve("a", 100, (0.0,) * 6, low=0.5, high=0.5), _flat("b", 100, 1.0)]
    with pytest.raises(UserInputError) as error:
        allocate(curves, target)
    assert error.value.field == field


def test_outlier_ratio_by_hand() -> None:
    scores = torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 31.0])  # mean 4
    assert outlier_ratio(scores, 5.0) == pytest.approx(0.1)  # only 31 > 20
    assert outlier_ratio(scores, 10.0) == 0.0


def test_owl_keeps_the_mean_and_spares_outlier_layers() -> None:
    ratios = {"a": 0.01, "b": 0.02, "c": 0.05}
    sizes = {"a": 100, "b": 300, "c": 600}
    result = owl_sparsities(ratios, sizes, 0.7, 0.08)
    mean = sum(result[n] * sizes[n] for n in sizes) / 1000
    assert mean == pytest.approx(0.7, abs=1e-9)
    assert result["a"] > result["b"] > result["c"]  # more outliers, fewer weights removed
    assert result["a"] - result["c"] == pytest.approx(2 * 0.08)  # the full 2*lambda spread
    equal = owl_sparsities({"a": 0.1, "b": 0.1}, {"a": 1, "b": 3}, 0.6, 0.08)
    assert equal == pytest.approx({"a": 0.6, "b": 0.6})


def test_owl_clips_at_the_upper_limit_and_still_meets_the_mean() -> None:
    result = owl_sparsities({"a": 0.0, "b": 1.0}, {"a": 1, "b": 1}, 0.95, 0.2, high=0.99)
    assert result["a"] == pytest.approx(0.99)
    assert (result["a"] + result["b"]) / 2 == pytest.approx(0.95)
