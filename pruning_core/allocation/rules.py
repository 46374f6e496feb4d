"""Per-layer sparsity targets: how many groups each layer drops.

* ``uniform``: every layer drops the target fraction of its groups.
* ``global``: one ranking of all groups of all layers; the lowest-scored groups are
  dropped until the target share of weights is gone.
* explicit per-layer targets (a recipe's ``layer_sparsity``, written by the ``sensitivity``
  and ``owl`` allocations, see :mod:`pruning_core.pruning.targets`).
* ``erk``: Erdős–Rényi-Kernel densities (Evci et al., 2020, "Rigging the Lottery"):
  density proportional to ``sum(shape) / prod(shape)``, scaled to meet the target,
  layers that would exceed density 1 kept dense.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pruning_core.masks.selection import select_kth
from pruning_core.structures.grouping import Grouping


@dataclass(frozen=True)
class Allocation:
    """Groups to drop per layer, and the global score threshold when there is one."""

    groups_to_drop: dict[str, int]
    threshold: float | None = None


def uniform(groupings: dict[str, Grouping], sparsity: float) -> Allocation:
    """Each layer drops ``round(sparsity * groups)`` groups."""
    return Allocation({name: round(sparsity * g.count) for name, g in groupings.items()})


def explicit(groupings: dict[str, Grouping], targets: dict[str, float]) -> Allocation:
    """Each layer drops ``round(targets[name] * groups)`` groups (unlisted layers none)."""
    return Allocation(
        {name: round(targets.get(name, 0.0) * g.count) for name, g in groupings.items()}
    )


def erk_densities(shapes: dict[str, tuple[int, ...]], sparsity: float) -> dict[str, float]:
    """ERK densities per layer meeting ``1 - sparsity`` density over all the layers' weights."""
    numel = {name: float(torch.tensor(shape).prod()) for name, shape in shapes.items()}
    raw = {name: sum(shape) / numel[name] for name, shape in shapes.items()}
    budget = (1.0 - sparsity) * sum(numel.values())
    dense: set[str] = set()
    while True:
        free = [name for name in shapes if name not in dense]
        remaining = budget - sum(numel[name] for name in dense)
        scale = remaining / sum(raw[name] * numel[name] for name in free) if free else 0.0
        over = [name for name in free if raw[name] * scale > 1.0]
        if not over:
            break
        dense.update(over)
    return {name: 1.0 if name in dense else raw[name] * scale for name in shapes}


def erk(
    groupings: dict[str, Grouping], shapes: dict[str, tuple[int, ...]], sparsity: float
) -> Allocation:
    """Each layer drops ``round((1 - erk_density) * groups)`` groups."""
    densities = erk_densities(shapes, sparsity)
    return Allocation(
        {name: round((1.0 - densities[name]) * g.count) for name, g in groupings.items()}
    )


def global_ranking(groupings: dict[str, Grouping], sparsity: float) -> Allocation:
    """Drop the lowest-scored groups over all layers until ``sparsity`` of the weights is gone."""
    names = list(groupings)
    total = sum(g.count * g.group_size for g in groupings.values())
    target = round(sparsity * total)
    if target == 0:
        return Allocation({name: 0 for name in names})
    if all(g.group_size == 1 for g in groupings.values()):
        selection = select_kth([groupings[name].scores.reshape(-1) for name in names], target)
        # every part at or below the threshold is dropped; only when more than ``target``
        # are, ties at the threshold are kept back, in layer order
        counts = dict(zip(names, selection.at_or_below, strict=True))
        surplus = sum(counts.values()) - target
        for name, ties in zip(names, selection.equal, strict=True):
            if surplus <= 0:
                break
            keep_back = min(ties, surplus)
            counts[name] -= keep_back
            surplus -= keep_back
        return Allocation(counts, selection.value)
    scores = torch.cat([groupings[name].scores.float() for name in names])
    sizes = torch.cat(
        [torch.full((g.count,), g.group_size, dtype=torch.float64) for g in groupings.values()]
    )
    owner = torch.cat([torch.full((g.count,), i) for i, g in enumerate(groupings.values())])
    order = torch.argsort(scores, stable=True)
    dropped = torch.cumsum(sizes[order], 0)
    n_drop = int(torch.searchsorted(dropped, torch.tensor([float(target)], dtype=torch.float64)))
    # take the count whose dropped weight is closest to the target
    if n_drop < len(order) and (
        n_drop == 0 or abs(dropped[n_drop] - target) < abs(dropped[n_drop - 1] - target)
    ):
        n_drop += 1
    per_layer = torch.bincount(owner[order[:n_drop]], minlength=len(names))
    return Allocation({name: int(per_layer[i]) for i, name in enumerate(names)})


def allocate(
    method: str,
    groupings: dict[str, Grouping],
    shapes: dict[str, tuple[int, ...]],
    sparsity: float,
) -> Allocation:
    """Dispatch on the recipe's allocation name."""
    if method == "uniform":
        return uniform(groupings, sparsity)
    if method == "global":
        return global_ranking(groupings, sparsity)
    if method == "erk":
        return erk(groupings, shapes, sparsity)
    raise ValueError(f"unknown allocation '{method}'")
