"""The dashboard's one door to ``pruning_core``: models, recipe checks, the run store.

Pages call these functions and never import the engine themselves. Long work (a run)
is only ever queued here; a worker process executes it.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import frames
from pruning_core.errors import UserInputError
from pruning_core.runs import RunStore, default_store_path
from pruning_core.worker import ensure_worker

AUTOSTART_ENV = "PRUNING_CORE_AUTOSTART_WORKER"  # "0": never start a worker (tests)
RESULTS_DIR = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


@dataclass(frozen=True)
class Issue:
    """A problem with the configured recipe, tied to the field that causes it."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def _store_arg() -> str | None:
    """``--store PATH`` after ``--`` on the ``streamlit run`` command line, if given."""
    args = sys.argv[1:]
    return args[args.index("--store") + 1] if "--store" in args[:-1] else None


@st.cache_resource(show_spinner=False)
def _open_store(path: str) -> RunStore:
    return RunStore(path)


def store() -> RunStore:
    """The run store (``-- --store PATH``, ``$PRUNING_CORE_STORE`` or ``./runs/runs.sqlite``)."""
    return _open_store(str(Path(_store_arg() or default_store_path()).resolve()))


def start_worker_if_needed(force: bool = False) -> int | None:
    """Start a worker process if runs wait and none is alive; returns its pid if started."""
    if os.environ.get(AUTOSTART_ENV, "1") == "0" and not force:
        return None
    runs = store()
    if not force and runs.counts()["queued"] == 0:
        return None
    return ensure_worker(runs)


def worker_lines() -> list[str]:
    """One human line per live worker."""
    return [f"pid {w.pid} on {w.host}: {w.state}" + (f" (run #{w.run_id})" if w.run_id else "")
            for w in store().workers()]


# -- models -------------------------------------------------------------------------------

def model_names() -> list[str]:
    """Registered model names (sample models first)."""
    from pruning_core.models import MODELS

    return MODELS.names()


def model_label(name: str) -> str:
    """Name with the untrained caveat, for select boxes."""
    from pruning_core.models import MODELS

    return MODELS.get(name).label


def model_description(name: str) -> str:
    """One-line description of a model."""
    from pruning_core.models import MODELS

    return MODELS.get(name).description


def criteria() -> dict[str, str]:
    """Criterion name -> one-line description."""
    from pruning_core.criteria import CRITERIA

    return {name: CRITERIA.get(name).description for name in CRITERIA.names()}


@st.cache_resource(show_spinner="Building the model...")
def _architecture(name: str) -> Any:
    import torch

    from pruning_core.models import MODELS

    torch.manual_seed(0)
    return MODELS.get(name).factory().eval()


@st.cache_data(show_spinner=False)
def layer_table(name: str) -> pd.DataFrame:
    """Prunable layers of a model in order: name, type, shape, 2-D view, params, MACs."""
    from pruning_core.layers import prunable_layers
    from pruning_core.metrics import layer_macs
    from pruning_core.models import MODELS

    model = _architecture(name)
    macs = layer_macs(model, MODELS.get(name).input_shape)
    return pd.DataFrame(
        [{"layer": layer.name, "type": layer.kind, "shape": "x".join(map(str, layer.weight.shape)),
          "view_2d": f"{layer.shape_2d[0]}x{layer.shape_2d[1]}", "params": layer.weight.numel(),
          "macs": macs.get(layer.name, 0)} for layer in prunable_layers(model)]
    )


def default_skip(name: str) -> list[str]:
    """Layers a recipe leaves dense when ``skip_layers`` is null (first and last)."""
    from pruning_core.layers import default_skip as engine_default, prunable_layers

    return engine_default(prunable_layers(_architecture(name)))


@st.cache_data(show_spinner="Evaluating the dense model...")
def dense_accuracy(name: str, weights: str | None, stamp: float = 0.0) -> dict[str, Any]:
    """Dense val/test accuracy, size and params with ``weights`` (None: shipped ones).

    ``stamp`` (the file's mtime) only invalidates the cache when a file changes.
    """
    from pruning_core.metrics import count_params, dense_bytes, evaluate
    from pruning_core.models import MODELS, build_model

    spec = MODELS.get(name)
    facts: dict[str, Any] = {"val_accuracy": None, "test_accuracy": None, "note": ""}
    try:
        model = build_model(spec, weights)
    except UserInputError as error:
        facts["note"] = str(error)
        model = _architecture(name)
    facts.update(params=count_params(model), size_bytes=dense_bytes(model, "fp32"))
    if spec.data is None or not spec.trained or facts["note"]:
        facts["note"] = facts["note"] or "untrained architecture: structure and speed only, no accuracy"
        return facts
    splits = spec.data()
    facts["val_accuracy"] = evaluate(model, splits["val"].x, splits["val"].y)[0]
    facts["test_accuracy"] = evaluate(model, splits["test"].x, splits["test"].y)[0]
    return facts


def file_stamp(path: str | None) -> float:
    """Modification time of ``path`` (0 if none), for cache keys."""
    return Path(path).stat().st_mtime if path and Path(path).is_file() else 0.0


def save_upload(model_name: str, data: bytes, filename: str) -> str:
    """Validate uploaded safetensors against the model and keep it in the store folder.

    Returns:
        The stored file's path, to be used as ``recipe.weights``.

    Raises:
        UserInputError: not safetensors, or names/shapes do not match the model.
    """
    from pruning_core.models import MODELS
    from pruning_core.weights import load_weights_bytes

    if not filename.lower().endswith(".safetensors"):
        raise UserInputError("weights", f"'{filename}' is not a .safetensors file; only safetensors are accepted")
    load_weights_bytes(MODELS.get(model_name).factory(), data, f"'{filename}'")
    folder = store().uploads_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{model_name}-{hashlib.sha256(data).hexdigest()[:16]}.safetensors"
    if not path.exists():
        path.write_bytes(data)
    return str(path)


# -- recipes ------------------------------------------------------------------------------

def check_recipe(draft: dict[str, Any]) -> tuple[Any, list[Issue], pd.DataFrame]:
    """Validate a recipe draft the way a run would, without running anything.

    Returns:
        The recipe (``None`` if it does not parse), every problem found (field and
        reason), and the layer table with a ``plan`` column (prune / skipped and why).
    """
    from pruning_core.recipe import parse_recipe

    plan = layer_table(draft["model"]).copy()
    plan["plan"] = "prune"
    try:
        recipe = parse_recipe(draft)
    except UserInputError as error:
        return None, [Issue(error.field, error.message)], plan
    issues, notes = _fit_issues(recipe)
    plan["plan"] = [notes.get(name, "prune") for name in plan["layer"]]
    return recipe, issues, plan


def _fit_issues(recipe: Any) -> tuple[list[Issue], dict[str, str]]:
    from pruning_core.api import select_layers
    from pruning_core.criteria import CRITERIA
    from pruning_core.finetune import steps_per_epoch
    from pruning_core.models import MODELS

    spec, issues = MODELS.get(recipe.model), []
    model = _architecture(recipe.model)
    lenient = recipe.with_updates(structure={**recipe.structure.model_dump(), "skip_incompatible": True})
    notes: dict[str, str] = {}
    try:
        notes = select_layers(model, spec, lenient)[2]
        select_layers(model, spec, recipe)
    except UserInputError as error:
        issues.append(Issue(error.field, error.message))
    criterion = CRITERIA.get(recipe.criterion)
    if spec.data is None and criterion.needs:
        issues.append(Issue("criterion", f"'{recipe.criterion}' needs calibration data; {spec.name} has none"))
    if spec.data is None and recipe.finetune.epochs:
        issues.append(Issue("finetune.epochs", f"{spec.name} has no data to finetune on; set 0"))
    if recipe.schedule.kind == "gradual" and spec.data is not None:
        steps = recipe.finetune.epochs * steps_per_epoch(len(spec.data()["train"]), recipe.finetune.batch_size)
        end = recipe.schedule.end_step
        if steps == 0:
            issues.append(Issue("finetune.epochs", "the gradual schedule prunes while finetuning; set epochs >= 1"))
        elif end is not None and not recipe.schedule.start_step <= end <= steps:
            issues.append(Issue("schedule.end_step", f"must lie in [start_step, {steps}] "
                                f"(the finetune budget has {steps} optimizer steps), got {end}"))
    return issues, notes


def estimate(recipe: Any, plan: pd.DataFrame) -> dict[str, float]:
    """Before-the-run estimate assuming every pruned layer reaches the target sparsity."""
    from pruning_core.metrics import BYTES_PER_ELEMENT

    pruned = plan["plan"] == "prune"
    kept = plan["params"].where(~pruned, plan["params"] * (1 - recipe.sparsity))
    macs = plan["macs"].where(~pruned, plan["macs"] * (1 - recipe.sparsity))
    facts = dense_accuracy(recipe.model, recipe.weights, file_stamp(recipe.weights))
    return {
        "pruned_layers": int(pruned.sum()),
        "weights_removed": float((plan["params"] - kept).sum()),
        "layer_sparsity": 1 - float(kept.sum()) / max(float(plan["params"].sum()), 1.0),
        "theoretical_speedup": float(plan["macs"].sum()) / max(float(macs.sum()), 1.0),
        "size_bytes": facts["size_bytes"] * BYTES_PER_ELEMENT[recipe.precision] / 4,
    }


def queue_run(recipe: Any) -> int:
    """Put one run in the store's queue."""
    return store().enqueue(recipe, label="single")


def sweep_recipes(recipe: Any, names: list[str], sparsities: list[float], seeds: list[int]) -> list[Any]:
    """The recipes of a sweep (criteria x sparsities x seeds), validated."""
    from pruning_core.sweep import sweep_recipes as engine_sweep

    return engine_sweep(recipe, names, sparsities, seeds)


def queue_sweep(recipes: list[Any]) -> list[int]:
    """Queue a sweep's recipes under one new sweep id."""
    runs = store()
    sweep_id = f"sweep-{len(runs.sweeps()) + 1}-{os.urandom(2).hex()}"
    return runs.enqueue_many(recipes, label="sweep", sweep=sweep_id)


# -- runs ---------------------------------------------------------------------------------

def runs_frame() -> pd.DataFrame:
    """Every run as one flat row (newest first)."""
    return frames.runs_table([record.__dict__ for record in store().list_runs()])


def cancel(run_id: int) -> str | None:
    """Cancel a queued or running run."""
    return store().request_cancel(run_id)


def queue_again(run_id: int) -> int | None:
    """Queue a new run with the same recipe as ``run_id``."""
    record = store().get(run_id)
    return store().enqueue(record.recipe, label=f"again #{run_id}") if record else None


def delete_run(run_id: int) -> bool:
    """Delete a finished run and its artifacts."""
    import shutil

    if not store().delete([run_id]):
        return False
    shutil.rmtree(store().artifacts_dir(run_id), ignore_errors=True)
    return True


def artifact_path(run_id: int, name: str) -> Path:
    """Path of one artifact file of a run."""
    return store().artifacts_dir(run_id) / name


@st.cache_data(show_spinner=False, max_entries=64)
def _results(path: str, stamp: float) -> dict[str, Any]:
    from pruning_core.artifacts import load_results

    return load_results(Path(path).parent)


def results(run_id: int) -> dict[str, Any] | None:
    """The ``results.json`` document of a finished run, or ``None``."""
    path = artifact_path(run_id, "results.json")
    return _results(str(path), file_stamp(str(path))) if path.is_file() else None


def measurements() -> pd.DataFrame:
    """Measured speedups from benchmark result files (empty until benchmarks exist)."""
    return frames.measured_rows(sorted(RESULTS_DIR.glob("*.json")) + sorted(RESULTS_DIR.glob("*.csv")))


def this_device() -> str:
    """This machine, in the words measurements use."""
    import platform

    import torch

    return f"cpu ({platform.processor() or platform.machine()}, torch {torch.__version__})"
