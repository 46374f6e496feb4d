"""Grids of runs (criteria x sparsities x seeds) into one table of summary rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pruning_core.pipeline.artifacts import save_run
from pruning_core.pipeline.run import prune
from pruning_core.recipe import Recipe


def sweep_recipes(
    base: Recipe, criteria: list[str], sparsities: list[float], seeds: list[int]
) -> list[Recipe]:
    """Every combination as a validated recipe (N:M ignores sparsities: its own is fixed)."""
    if base.structure.is_nm:
        sparsities = [base.sparsity]
    return [
        base.with_updates(criterion=criterion, seed=seed)
        if base.structure.is_nm
        else base.with_updates(criterion=criterion, sparsity=sparsity, seed=seed)
        for criterion in criteria
        for sparsity in sparsities
        for seed in seeds
    ]


def run_sweep(
    recipes: list[Recipe],
    runs_dir: Path | None = None,
    on_run: Callable[[int, Recipe], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Run each recipe and yield its summary row (artifacts saved under ``runs_dir``)."""
    for index, recipe in enumerate(recipes):
        if on_run is not None:
            on_run(index, recipe)
        result = prune(recipe)
        if runs_dir is not None:
            save_run(result, runs_dir / f"run_{index:04d}")
        yield {"run": index, **result.summary, "seconds": result.timing["seconds"]}
