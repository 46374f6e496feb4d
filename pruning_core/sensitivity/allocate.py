"""Sensitivity allocation: per-layer sparsities that meet a budget at the least predicted loss.

Every layer has a sensitivity curve, the validation-loss increase measured (or
estimated) when that layer alone is pruned to each sparsity of a grid. The allocator
minimises the summed loss increase ``sum_l f_l(s_l)`` subject to the budget
``sum_l s_l * units_l = target * sum_l units_l`` (units: weights for an average-sparsity
target, MACs for a speedup target) and ``low_l <= s_l <= high_l``.

How: each curve is made monotone (a measured decrease is noise) and replaced by its
lower convex hull over whole groups (weights, blocks or channels). Removing weight
along a hull segment costs a constant loss per unit saved, so taking hull segments in
order of that marginal cost until the budget is met solves the convexified problem
exactly (a fractional knapsack; segments of one layer come in order because its hull
is convex). Only the last segment is taken partially, rounded to whole groups, so the
budget is met within half a group of that one layer (unless the layers' bounds, rounded
to whole groups, bind: then as close as they allow). Between grid points, losses are
interpolated linearly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from pruning_core.errors import UserInputError


@dataclass(frozen=True)
class LayerCurve:
    """One layer's sensitivity curve and what pruning it saves.

    Attributes:
        name: layer name.
        units: budget units the whole layer holds (its weights, or its dense MACs).
        groups: prunable groups (weights, blocks, channels; 1 for N:M on/off).
        sparsities: the measured grid, increasing, each in (0, 1].
        loss: loss increase at each grid sparsity (same length).
        group_sparsity: sparsity one group adds (``1 / groups``; N:M: ``1 - N/M``).
        low, high: bounds of the layer's sparsity (``high`` ``None``: the last grid point).
    """

    name: str
    units: float
    groups: int
    sparsities: tuple[float, ...]
    loss: tuple[float, ...]
    group_sparsity: float | None = None
    low: float = 0.0
    high: float | None = None

    @property
    def step(self) -> float:
        """Sparsity per group."""
        return self.group_sparsity if self.group_sparsity is not None else 1.0 / self.groups

    def bounds(self) -> tuple[int, int]:
        """Lowest and highest number of groups the layer may drop."""
        high = self.sparsities[-1] if self.high is None else self.high
        lo = math.ceil(self.low / self.step - 1e-9)
        hi = min(math.floor(high / self.step + 1e-9), self.groups)
        if lo > hi:
            raise UserInputError(
                "layer_sparsity",
                f"layer '{self.name}': lower bound {self.low:g} is above its upper bound {high:g}",
            )
        return lo, hi


@dataclass(frozen=True)
class Plan:
    """The allocator's answer.

    Attributes:
        groups_dropped: groups each layer drops.
        sparsity: each layer's sparsity (``groups_dropped * step``).
        removed_units: budget units removed over all layers.
        target_units: budget units the target asked for.
        predicted_loss: summed interpolated loss increase (the minimised objective).
    """

    groups_dropped: dict[str, int]
    sparsity: dict[str, float]
    removed_units: float
    target_units: float
    predicted_loss: float
    notes: list[str] = field(default_factory=list)


def interpolate(xs: Sequence[float], ys: Sequence[float], x: float) -> float:
    """Piecewise-linear interpolation; beyond the last point the last segment's slope."""
    if x <= xs[0]:
        return float(ys[0])
    for i in range(1, len(xs)):
        if x <= xs[i] or i == len(xs) - 1:
            x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
            return float(y0 + (y1 - y0) * (x - x0) / (x1 - x0)) if x1 > x0 else float(y1)
    return float(ys[-1])


def cleaned_curve(curve: LayerCurve) -> tuple[list[float], list[float]]:
    """``(sparsity, loss)`` from the dense point on, clipped at 0 and made non-decreasing."""
    xs, ys, best = [0.0], [0.0], 0.0
    for s, loss in zip(curve.sparsities, curve.loss, strict=True):
        best = max(best, float(loss) if math.isfinite(loss) else math.inf)
        xs.append(float(s))
        ys.append(best)
    return xs, ys


def lower_hull(points: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """Lower convex hull of points sorted by x (Andrew's monotone chain)."""
    hull: list[tuple[int, float]] = []
    for x, y in points:
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1) <= 0:  # not a left turn: drop
                hull.pop()
            else:
                break
        hull.append((x, y))
    return hull


def _hull_in_groups(curve: LayerCurve) -> list[tuple[int, float]]:
    xs, ys = cleaned_curve(curve)
    lo, hi = curve.bounds()
    points = {lo: interpolate(xs, ys, lo * curve.step), hi: interpolate(xs, ys, hi * curve.step)}
    for s, loss in zip(xs, ys, strict=True):
        g = round(s / curve.step)
        if lo < g < hi:
            points[g] = min(points.get(g, math.inf), loss)
    return lower_hull(sorted(points.items()))


def allocate(curves: Sequence[LayerCurve], target: float) -> Plan:
    """Per-layer sparsities removing ``target`` of all units at the least summed loss.

    Args:
        curves: one per layer that may be pruned.
        target: share of the layers' total units to remove, in [0, 1).

    Raises:
        UserInputError: the target cannot be met within the layers' bounds.
    """
    total = sum(curve.units for curve in curves)
    goal = target * total
    hulls = {curve.name: _hull_in_groups(curve) for curve in curves}
    per_group = {curve.name: curve.units * curve.step for curve in curves}
    dropped = {name: hull[0][0] for name, hull in hulls.items()}
    floor = sum(dropped[name] * per_group[name] for name in hulls)
    ceiling = sum(hull[-1][0] * per_group[name] for name, hull in hulls.items())
    slack = sum(per_group.values())  # bounds are whole groups: up to one per layer off
    if floor > goal + slack:
        raise UserInputError(
            "sparsity",
            f"the fixed and minimum layer sparsities already remove {floor / total:.1%}, "
            f"more than the target {target:.1%}; lower the overrides or raise the target",
        )
    if ceiling < goal - slack:
        raise UserInputError(
            "sparsity",
            f"the target {target:.1%} is above the {ceiling / total:.1%} the layers' upper "
            "limits allow; raise the limits (or the profile's largest sparsity) or lower it",
        )
    segments = sorted(
        (
            (y1 - y0) / ((x1 - x0) * per_group[name]) if per_group[name] > 0 else math.inf,
            index,
            x0,
            x1,
            name,
        )
        for index, (name, hull) in enumerate(hulls.items())
        for (x0, y0), (x1, y1) in zip(hull, hull[1:], strict=False)
    )
    remaining = goal - floor
    for _slope, _index, x0, x1, name in segments:
        if remaining <= 0:
            break
        size = (x1 - x0) * per_group[name]
        if size <= 0:  # a layer that saves nothing (e.g. no MACs) is never worth its loss
            continue
        if size <= remaining:
            dropped[name], remaining = x1, remaining - size
        else:
            take = min(round(remaining / per_group[name]), x1 - x0)
            dropped[name], remaining = x0 + take, remaining - take * per_group[name]
            break
    return _plan(curves, dropped, goal)


def _plan(curves: Sequence[LayerCurve], dropped: dict[str, int], goal: float) -> Plan:
    sparsity = {c.name: min(dropped[c.name] * c.step, 1.0) for c in curves}
    loss = 0.0
    for curve in curves:
        xs, ys = cleaned_curve(curve)
        loss += interpolate(xs, ys, sparsity[curve.name])
    removed = sum(dropped[c.name] * c.units * c.step for c in curves)
    return Plan(dropped, sparsity, removed, goal, loss)


def predict(sparsities: Sequence[float], values: Sequence[float], at: float) -> tuple[float, bool]:
    """A curve's value at sparsity ``at`` (dense point 0 included) and whether extrapolated."""
    xs, ys = [0.0, *sparsities], [0.0, *values]
    return interpolate(xs, ys, at), at > xs[-1] + 1e-12
