"""``pruning-core bench``: prune with a recipe, then measure it on this machine.

Writes, under ``out_dir``: ``cpu_bench_<model>_<structure>_b<batch>.{json,csv}`` (end to
end: every variant vs the original, eager and optionally compiled) and, under
``out_dir/cpu/``, the per-layer rows and the CSR/BSR crossover rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from pruning_core.bench.layers import crossover_points, crossover_rows, layer_rows
from pruning_core.bench.models import compiled_variants, eager_variants, time_variants
from pruning_core.latency import RESULTS_DIR, machine_metadata, write_rows
from pruning_core.models.registry import build_model, load_data, spec_for
from pruning_core.pipeline.run import prune
from pruning_core.recipe import Recipe
from pruning_core.threads import fixed_threads

CROSSOVER_SPARSITIES = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99]


@dataclass
class BenchSettings:
    """How to measure."""

    batch: int = 64
    threads: int = 2
    repeats: int = 30
    warmup: int = 5
    compile: bool = False
    int8: bool = True
    layers: bool = True
    crossover: list[tuple[int, int, int]] = field(default_factory=list)  # (out, in, columns)
    out_dir: Path = RESULTS_DIR


@dataclass
class BenchResult:
    """Rows of each kind and the files written."""

    end_to_end: list[dict[str, Any]] = field(default_factory=list)
    layers: list[dict[str, Any]] = field(default_factory=list)
    crossover: list[dict[str, Any]] = field(default_factory=list)
    crossover_points: dict[str, dict[str, dict[str, float | None]]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)


def slug(text: str) -> str:
    """File-name-safe version of ``text``."""
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()


def run_bench(recipe: Recipe, settings: BenchSettings) -> BenchResult:
    """Prune with ``recipe`` (its finetune budget included) and measure the result."""
    result = BenchResult()
    with fixed_threads(settings.threads):
        run = prune(recipe)
        spec = spec_for(recipe.model, recipe.weights, recipe.data)
        original = build_model(spec, recipe.weights).eval()
        splits = load_data(spec, recipe.data)
        data = splits["test"] if splits else None
        if data is not None and len(data.y) >= settings.batch:
            batch = data.x[: settings.batch]
        else:
            batch = torch.randn(settings.batch, *spec.input_shape)
        common = {
            **machine_metadata(),
            "model": recipe.model,
            "structure": run.summary["structure"],
            "target_sparsity": recipe.sparsity,
            "batch": settings.batch,
            "input_shape": list(spec.input_shape),
            "theoretical_speedup": run.summary["theoretical_speedup"],
        }
        test = (data.x, data.y) if data is not None else None
        pruned = run.model.float().eval()
        result.end_to_end = time_variants(
            eager_variants(original, pruned, recipe.structure.block, settings.int8),
            batch,
            settings.repeats,
            settings.warmup,
            {**common, "mode": "eager"},
            test,
        )
        if settings.compile:
            result.end_to_end += time_variants(
                compiled_variants(original, pruned, settings.int8),
                batch,
                settings.repeats,
                settings.warmup,
                {**common, "mode": "compiled"},
                test,
            )
        if settings.layers:
            result.layers = layer_rows(
                pruned,
                spec.input_shape,
                settings.batch,
                recipe.structure.block,
                settings.repeats,
                settings.warmup,
                {**common, "dtype_note": "per-layer GEMM"},
            )
        for out_f, in_f, columns in settings.crossover:
            rows = crossover_rows(
                out_f,
                in_f,
                columns,
                CROSSOVER_SPARSITIES,
                recipe.structure.block,
                settings.repeats,
                settings.warmup,
                machine_metadata(),
            )
            result.crossover += rows
            result.crossover_points[f"{out_f}x{in_f}x{columns}"] = crossover_points(rows)
    stem = f"cpu_bench_{slug(recipe.model)}_{slug(run.summary['structure'])}_b{settings.batch}"
    result.files += write_rows(result.end_to_end, settings.out_dir, stem)
    if result.layers:
        result.files += write_rows(result.layers, settings.out_dir / "cpu", f"{stem}_layers")
    if result.crossover:
        result.files += write_rows(result.crossover, settings.out_dir / "cpu", f"{stem}_crossover")
    return result
