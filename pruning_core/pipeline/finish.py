"""After pruning: optional compression, precision conversion and the size/format report.

Kept apart from the orchestrator so :func:`pruning_core.pipeline.run.prune` only calls three steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import nn

from pruning_core.compression.apply import apply_notes, compress
from pruning_core.compression.lowrank import LowRank
from pruning_core.compression.quantization import Converted
from pruning_core.formats import FormatOptions, model_sizes, summary_fields
from pruning_core.formats.measured_2of4 import linear_shapes, load_gpu_results, plan_measured_2of4
from pruning_core.formats.sizes import best_format_of
from pruning_core.models.data import Batches
from pruning_core.models.layers import module_weight
from pruning_core.pruning.reconstruction import reconstruction_errors
from pruning_core.recipe import Recipe

BATCH_FOR_2OF4 = (
    64  # "measured 2:4" in run summaries assumes this batch (tokens = batch x tokens/sample)
)


def compress_step(model: nn.Module, names: list[str], recipe: Recipe) -> dict[str, str]:
    """Apply the recipe's ``compression`` (if any) to the pruned layers ``names``."""
    if recipe.compression is None:
        return {}
    options = recipe.compression.model_dump(exclude={"kind"})
    return compress(model, names, recipe.compression.kind, **options)


def factorization_errors(
    dense: nn.Module | None, model: nn.Module, batches: Batches
) -> dict[str, float]:
    """Reconstruction error of each factorized layer of ``model`` against the dense layer.

    The factors' product is compared with the dense model's weight on the dense model's
    inputs of the layer (:func:`pruning_core.pruning.reconstruction.reconstruction_errors`),
    so the error covers everything that changed the layer: pruning, finetuning and the
    factorization. Empty without data (``dense`` is ``None``); a layer whose shape changed
    (channels removed first) is left out.
    """
    if dense is None:
        return {}
    products = {
        name: module.product()
        for name, module in model.named_modules()
        if isinstance(module, LowRank)
    }
    comparable = {
        name: weight
        for name, weight in products.items()
        if weight.shape == module_weight(dense.get_submodule(name)).shape
    }
    return reconstruction_errors(dense, comparable, batches) if comparable else {}


@dataclass
class Finished:
    """What the finishing step adds to a run's result."""

    summary: dict[str, Any] = field(default_factory=dict)
    size_rows: list[dict[str, Any]] = field(default_factory=list)


def finish_report(
    model: nn.Module,
    rows: list[dict[str, Any]],
    recipe: Recipe,
    converted: Converted,
    notes: dict[str, str],
) -> Finished:
    """Add compression notes and best formats to rows, and size the model.

    Args:
        model: the stored model (plain tensors).
        rows: per-layer rows of :func:`pruning_core.pipeline.report.layer_rows`; changed in place
            (compression notes, ``best_format``, ``best_format_bytes`` added).
        recipe: the run.
        converted: the precision conversion.
        notes: compression notes per layer.
    """
    apply_notes(rows, notes)
    sizes = model_sizes(model, FormatOptions(block=recipe.structure.block))
    for row in rows:
        best = best_format_of(sizes, row["name"], recipe.precision)
        row["best_format"], row["best_format_bytes"] = best if best else (None, None)
    summary = {
        **summary_fields(sizes, recipe.precision),
        "compression": recipe.compression.model_dump(mode="json") if recipe.compression else None,
        "precision_path": converted.path,
        "precision_new_zeros": converted.new_zeros,
    }
    if recipe.structure.nm == (2, 4):
        dtype = recipe.precision if recipe.precision in ("fp16", "bf16", "int8") else "fp16"
        shapes = linear_shapes(model)
        pruned = [row for row in rows if row["pruned"] and row["name"] in shapes]
        per_sample = max((row["dense_macs"] // row["params_original"] for row in pruned), default=1)
        plan = plan_measured_2of4(
            {row["name"]: shapes[row["name"]] for row in pruned},
            load_gpu_results(),
            tokens=BATCH_FOR_2OF4 * max(per_sample, 1),
            dtype=dtype,
        )
        summary["measured_2of4"] = plan.as_dict()
    return Finished(summary, sizes.rows)
