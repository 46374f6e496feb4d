"""Sensitivity profiles: how much each layer alone suffers at each sparsity, and what it costs.

A :class:`SensitivityJob` names a model (and the recipe's ``data``, if any), a criterion
and a structure like a recipe does, plus a sparsity grid and a method.
:func:`compute_profile` prunes one layer at a time (every other layer dense, no
finetuning) and returns the *profile document*: per-(layer, sparsity) rows of validation
loss and the task's metric (``measured``: accuracy for classifiers, perplexity for causal
LMs, named by the document's ``metric``) or of an estimated loss increase (``fisher``, an
approximation), per-layer facts (parameters, MACs, measured CPU latency and their shares)
and the dense validation metrics. A row's damage is its ``loss_delta``, positive when
worse for every task, and it is what allocation minimises. The worker runs the profile
as a queued job (:mod:`pruning_core.sensitivity.job`); the CLI as ``pruning-core
sensitivity``; allocation reads it (:mod:`pruning_core.sensitivity.plan`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pruning_core.criteria import CRITERIA
from pruning_core.data_config import DataSource
from pruning_core.environment import environment
from pruning_core.errors import UserInputError, from_validation_error
from pruning_core.models.data import Split, calibration_batches
from pruning_core.models.registry import has_data, load_data, spec_for
from pruning_core.models.spec import METRIC_DIRECTION, ModelSpec
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
LM_PROFILED_STRUCTURES = ("unstructured", "n:m", "block")  # LMs are masked in place
LATENCY_BATCH = 64  # validation samples each layer is timed on
METHODS = {
    "measured": "measured: validation loss and metric with the layer pruned alone",
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
    data: DataSource | None = None
    criterion: str = "magnitude"
    structure: Structure = Structure()
    skip_layers: list[str] | None = None
    calibration: Calibration = Calibration()
    seed: int = Field(0, ge=0)
    sparsities: list[float] = Field(list(DEFAULT_GRID), min_length=1, max_length=24)
    method: Literal["measured", "fisher"] = "measured"
    latency: bool = Field(True, description="measure each layer's CPU latency")
    val_samples: int | None = Field(
        None, ge=1, description="validation samples measured (a seeded subset; null: all)"
    )

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
        data = self.model_dump(
            mode="json", exclude={"job", "sparsities", "method", "latency", "val_samples"}
        )
        data["finetune"] = {"epochs": 0}
        recipe = parse_recipe(data)
        problems = recipe_problems(recipe)
        if problems:
            raise problems[0].as_error()
        return recipe

    def spec(self) -> ModelSpec:
        """The model as the job's data feeds it, refused when a profile cannot measure it.

        Raises:
            UserInputError: no validation data, or a structure causal LMs cannot take.
        """
        spec = spec_for(self.model, self.weights, self.data)
        if not has_data(spec, self.data):
            raise UserInputError(
                "model",
                f"{spec.label} has no data: a sensitivity profile needs validation data "
                "(give the recipe's data)",
            )
        if spec.task == "causal_lm" and self.structure.kind not in LM_PROFILED_STRUCTURES:
            raise UserInputError(
                "structure",
                f"'{self.structure.kind}' cannot be profiled on a causal language model; "
                f"allowed: {', '.join(LM_PROFILED_STRUCTURES)}",
            )
        return spec


def parse_job(data: Any) -> SensitivityJob:
    """Validate a job mapping, raising :class:`UserInputError` naming the field."""
    if not isinstance(data, dict):
        raise UserInputError("job", "must be a mapping of fields, e.g. 'model: digits_cnn'")
    try:
        job = SensitivityJob.model_validate(data)
    except ValidationError as error:
        raise from_validation_error(error, "sensitivity job") from None
    job.recipe()  # criterion x structure checked as for a run
    job.spec()  # the model has data and can take the structure
    return job


def val_subset(split: Split, samples: int | None, seed: int) -> Split:
    """``samples`` validation samples drawn with ``seed`` (kept in order), or all of them."""
    if samples is None or samples >= len(split):
        return split
    drawn = torch.randperm(len(split), generator=torch.Generator().manual_seed(seed))
    index = drawn[:samples].sort().values
    return Split(split.x[index], split.y[index])


def example_input(spec: ModelSpec) -> torch.Tensor:
    """Two zero samples the model accepts (token ids for causal LMs)."""
    dtype = torch.int64 if spec.task == "causal_lm" else torch.float32
    return torch.zeros((2, *spec.input_shape), dtype=dtype)


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
    recipe, spec = job.recipe(), job.spec()
    torch.manual_seed(job.seed)
    model = build_prunable_model(spec, recipe.weights)
    data = load_data(spec, recipe.data)
    assert data is not None
    val = val_subset(data["val"], job.val_samples, job.seed)
    selection = select_layers(model, spec, recipe)
    selection.raise_first()
    layers, active, notes = selection.layers, selection.active, selection.notes
    example = example_input(spec)
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
        val=val,
        seed=job.seed,
        example=example,
        metric=spec.metric,
    )
    grid = grid_for(recipe.structure, job.sparsities)
    rows, dense = measure_rows(setup, grid, job.method, report, done, on_row)
    facts = layer_facts(model, layers, notes, spec.input_shape, recipe.structure)
    latency_meta: dict[str, Any] | None = None
    if job.latency:
        report("latency", 0.96, "timing each layer on this CPU")
        latency, latency_meta = cpu_latency(model, layers, val.x[:LATENCY_BATCH])
        add_latency(facts, latency)
    report("done", 1.0, "profile complete")
    return {
        "job": job.model_dump(mode="json"),
        "method": job.method,
        "method_label": METHODS[job.method],
        "approximation": job.method != "measured",
        "metric": setup.metric,
        "metric_direction": METRIC_DIRECTION[setup.metric],
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
    val_samples: int | None = None,
) -> SensitivityJob:
    """The profile job for a recipe's model, weights, data, criterion, structure and
    calibration."""
    data = recipe.model_dump(
        mode="json",
        include={
            "model",
            "weights",
            "data",
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
            "val_samples": val_samples,
        }
    )
