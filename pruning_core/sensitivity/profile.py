"""Sensitivity profiles: how much each layer alone suffers at each sparsity, and what it costs.

A :class:`SensitivityJob` names a model, a criterion and a structure like a recipe
does, plus a sparsity grid and a method. :func:`compute_profile` prunes one layer at a
time (every other layer dense, no finetuning) and returns the *profile document*:
per-(layer, sparsity) rows of validation loss and accuracy (``measured``) or of an
estimated loss increase (``fisher``, an approximation), per-layer facts (parameters,
MACs, measured CPU latency and their shares) and the dense validation metrics.
The worker runs it as a queued job (:mod:`pruning_core.sensitivity.job`); the CLI as
``pruning-core sensitivity``; allocation reads it (:mod:`pruning_core.sensitivity.plan`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pruning_core.criteria import CRITERIA
from pruning_core.environment import environment
from pruning_core.errors import UserInputError, from_validation_error
from pruning_core.models.data import calibration_batches
from pruning_core.models.registry import load_data, spec_for
from pruning_core.pruning.layer_selection import build_prunable_model, select_layers
from pruning_core.pruning.recipe_rules import recipe_problems
from pruning_core.recipe import Calibration, Recipe, Structure, parse_recipe
from pruning_core.sensitivity.measure import Setup, grid_for
from pruning_core.sensitivity.measure import profile_rows as measure_rows
from pruning_core.sensitivity.perf import (
    add_latency,
    cpu_latency,
    layer_facts,
    result_file_latency,
)
from pruning_core.structures.channels import coupled_with_kept

DEFAULT_GRID = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98)
PROFILED_STRUCTURES = ("unstructured", "n:m", "block", "channel")
METHODS = {
    "measured": "measured: validation loss and accuracy with the layer pruned alone",
    "fisher": "approximation: second-order (Fisher/OBD) loss estimate, no evaluation",
}
Row = dict[str, Any]
Report = Callable[[str, float, str], None]


class SensitivityJob(BaseModel):
    """A sensitivity profile to compute: the model, how to prune, the grid and the method."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    job: Literal["sensitivity"] = "sensitivity"
    model: str = "digits_cnn"
    weights: str | None = None
    criterion: str = "magnitude"
    structure: Structure = Structure()
    skip_layers: list[str] | None = None
    calibration: Calibration = Calibration()
    seed: int = Field(0, ge=0)
    sparsities: list[float] = Field(list(DEFAULT_GRID), min_length=1, max_length=24)
    method: Literal["measured", "fisher"] = "measured"
    latency: bool = Field(True, description="measure each layer's CPU latency")

    @field_validator("sparsities")
    @classmethod
    def _in_range(cls, values: list[float]) -> list[float]:
        bad = [v for v in values if not 0.0 < v < 1.0]
        if bad:
            raise ValueError(f"every sparsity must lie in (0, 1), got {bad[0]:g}")
        return sorted(set(values))

    @field_validator("structure")
    @classmethod
    def _profiled(cls, structure: Structure) -> Structure:
        if structure.removes_heads:
            raise ValueError(
                f"'{structure.kind}' cannot be profiled per layer; "
                f"allowed: {', '.join(PROFILED_STRUCTURES)}"
            )
        return structure

    def recipe(self) -> Recipe:
        """The recipe whose layer selection, criterion and calibration the profile uses."""
        data = self.model_dump(mode="json", exclude={"job", "sparsities", "method", "latency"})
        data["finetune"] = {"epochs": 0}
        recipe = parse_recipe(data)
        problems = recipe_problems(recipe)
        if problems:
            raise problems[0].as_error()
        return recipe


def parse_job(data: Any) -> SensitivityJob:
    """Validate a job mapping, raising :class:`UserInputError` naming the field."""
    if not isinstance(data, dict):
        raise UserInputError("job", "must be a mapping of fields, e.g. 'model: digits_cnn'")
    try:
        job = SensitivityJob.model_validate(data)
    except ValidationError as error:
        raise from_validation_error(error, "sensitivity job") from None
    job.recipe()  # criterion x structure and the model checked as for a run
    return job


def compute_profile(
    job: SensitivityJob,
    report: Report,
    done: dict[tuple[str, float], Row] | None = None,
    on_row: Callable[[Row], None] | None = None,
) -> dict[str, Any]:
    """Compute the profile document of ``job`` (see the module docstring).

    Args:
        job: what to profile.
        report: progress ``(phase, fraction, message)``; raises ``RunCancelled`` to stop.
        done: rows computed before (a resumed job) by ``(layer, sparsity)``.
        on_row: receives every newly computed row.

    Raises:
        UserInputError: the model has no data, or the recipe does not fit the model.
    """
    started = time.perf_counter()
    recipe = job.recipe()
    spec = spec_for(recipe.model, recipe.weights, recipe.data)
    if spec.data is None:
        raise UserInputError(
            "model", f"{spec.label} has no data: a sensitivity profile needs validation data"
        )
    torch.manual_seed(job.seed)
    model = build_prunable_model(spec, recipe, recipe.weights)
    data = load_data(spec, recipe.data)
    assert data is not None
    selection = select_layers(model, spec, recipe)
    selection.raise_first()
    layers, active, notes = selection.layers, selection.active, selection.notes
    example = torch.zeros((2, *spec.input_shape))
    if recipe.structure.removes_channels:  # as in a run: a skipped layer's group stays dense
        notes.update(coupled_with_kept(model, [layer.name for layer in active], example))
        active = [layer for layer in active if layer.name not in notes]
    if not active:
        raise UserInputError("skip_layers", "every prunable layer is skipped; nothing to profile")
    config = recipe.calibration
    setup = Setup(
        model=model,
        layers=active,
        criterion=CRITERIA.get(recipe.criterion),
        structure=recipe.structure,
        batches=calibration_batches(data["train"], config.samples, config.batch_size, job.seed),
        val=data["val"],
        seed=job.seed,
        example=example,
    )
    grid = grid_for(recipe.structure, job.sparsities)
    rows, dense = measure_rows(setup, grid, job.method, report, done, on_row)
    facts = layer_facts(model, layers, notes, spec.input_shape, recipe.structure)
    latency_meta: dict[str, Any] | None = None
    if job.latency:
        report("latency", 0.96, "timing each layer on this CPU")
        batch = data["val"].x[:64]
        latency, latency_meta = cpu_latency(model, layers, batch)
        add_latency(facts, latency)
    report("done", 1.0, "profile complete")
    return {
        "job": job.model_dump(mode="json"),
        "method": job.method,
        "method_label": METHODS[job.method],
        "approximation": job.method != "measured",
        "structure": recipe.structure.label(),
        "grid": grid,
        "dense": dense,
        "rows": rows,
        "layers": facts,
        "latency": latency_meta,
        "latency_files": result_file_latency(recipe.model),  # e.g. GPU runs, when present
        "environment": environment(job.seed),
        "seconds": time.perf_counter() - started,
    }


def job_from_recipe(
    recipe: Recipe,
    sparsities: list[float] | None = None,
    method: str = "measured",
    latency: bool = True,
) -> SensitivityJob:
    """The profile job for a recipe's model, weights, criterion, structure and calibration."""
    data = recipe.model_dump(
        mode="json",
        include={
            "model",
            "weights",
            "criterion",
            "structure",
            "skip_layers",
            "calibration",
            "seed",
        },
    )
    return parse_job(
        {
            **data,
            "sparsities": sparsities or list(DEFAULT_GRID),
            "method": method,
            "latency": latency,
        }
    )
