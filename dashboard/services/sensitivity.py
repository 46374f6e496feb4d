"""Sensitivity profiles and editor runs for the Sensitivity page (the page's door to the engine).

Profiles are computed by the worker as queued jobs (``job: sensitivity`` in the run
store); the editor's allocation is pure arithmetic on a finished profile, so it runs
live in the page. Runs queued from the editor carry a ``prediction.json`` next to their
artifacts, so the page can show predicted against actual accuracy afterwards (perplexity
for causal LMs, whose profiles say ``metric: perplexity``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

import pruning_core
from dashboard.services.recipes import Issue, inspect
from dashboard.services.results import results
from dashboard.services.store import store
from dashboard.services.structures import structure_label

EDITOR_LABEL = "sensitivity editor"
PREDICTION_FILE = "prediction.json"


def propose(
    profile: dict[str, Any],
    target: float,
    budget: str,
    overrides: dict[str, float],
    high: float | None,
) -> dict[str, Any]:
    """The allocation of ``target`` over the profiled layers, with its estimates.

    Raises:
        UserInputError: the budget cannot be met within the limits (field named).
    """
    return pruning_core.propose(profile, target, budget, overrides, high)


def uniform(profile: dict[str, Any], target: float) -> dict[str, Any]:
    """Every profiled layer at ``target``: the reference the allocation should beat."""
    return pruning_core.uniform(profile, target)


def allocated_recipe(
    base: dict[str, Any],
    profile: dict[str, Any],
    target: float,
    budget: str,
    overrides: dict[str, float],
    high: float | None,
) -> dict[str, Any]:
    """``base`` with ``allocation: sensitivity`` and the proposal's per-layer sparsities.

    The run measures on the data the profile measured on: the job's ``data``, if any.
    """
    data = profile["job"].get("data")
    if data is not None and base.get("data") is None:
        base = {**base, "data": data}
    return pruning_core.allocated_recipe(base, profile, target, budget, overrides, high)


def profiled_structures() -> list[str]:
    """Structure kinds a sensitivity profile can be computed for."""
    return list(pruning_core.PROFILED_STRUCTURES)


def queue_profile(job: dict[str, Any]) -> int:
    """Validate a profile job and queue it.

    Raises:
        UserInputError: a field of the job is invalid (named in the error).
    """
    parsed = pruning_core.parse_job(job)
    return store().enqueue(parsed.model_dump(mode="json"), label="sensitivity")


def profile_jobs() -> pd.DataFrame:
    """Every profile job, newest first (cached until the queue changes)."""
    return _profile_jobs(str(store().path), store().fingerprint())


@st.cache_data(show_spinner=False, max_entries=16)
def _profile_jobs(path: str, fingerprint: tuple[Any, ...]) -> pd.DataFrame:
    rows = []
    for record in store().list_runs():
        job = record.recipe
        if job.get("job") != "sensitivity":
            continue
        label = structure_label(job.get("structure"))
        rows.append(
            {
                "id": record.id,
                "label": f"#{record.id} {job.get('model')} · {job.get('criterion')} · {label}"
                f" · {job.get('method')}",
                "state": record.state,
                "model": job.get("model"),
                "method": job.get("method"),
                "progress": record.progress,
                "phase": record.phase,
                "message": record.message,
                "error": record.error,
                "error_field": record.error_field,
                "cancel_requested": record.cancel_requested,
                "job": job,
            }
        )
    columns = ["id", "label", "state", "model", "method", "progress", "phase", "message"]
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=[*columns, "job"])


def profile(run_id: int) -> dict[str, Any] | None:
    """The profile document of a finished job, or ``None`` when its file is missing."""
    path = store().artifacts_dir(run_id) / "sensitivity.json"
    return _profile(str(path), path.stat().st_mtime) if path.is_file() else None


@st.cache_data(show_spinner=False, max_entries=16)
def _profile(path: str, stamp: float) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def editor_problems(recipe: dict[str, Any]) -> list[Issue]:
    """Everything ``pruning_core.check`` finds wrong with the editor's recipe."""
    try:
        parsed = pruning_core.parse_recipe(recipe)
    except pruning_core.UserInputError as error:
        return [Issue(error.field, error.message)]
    return inspect(parsed)[0]


def perplexity_prediction(prediction: dict[str, Any]) -> dict[str, Any]:
    """``prediction`` plus the predicted perplexity when its profile measured perplexity."""
    run_id = prediction.get("profile_id")
    document = (profile(int(run_id)) if run_id is not None else None) or {}
    loss = prediction.get("predicted_loss_delta")
    dense_loss = document.get("dense", {}).get("val_loss")
    if document.get("metric") != "perplexity" or loss is None or dense_loss is None:
        return prediction
    # as the engine predicts it: exp(dense loss + the additive loss increase)
    return {**prediction, "predicted_val_perplexity": math.exp(min(dense_loss + loss, 700.0))}


def queue_editor_run(recipe: dict[str, Any], prediction: dict[str, Any]) -> int:
    """Queue the editor's recipe and keep its prediction beside the run's artifacts.

    Raises:
        UserInputError: the recipe is invalid (field named).
    """
    prediction = perplexity_prediction(prediction)
    parsed = pruning_core.parse_recipe(recipe)
    run_id = store().enqueue(parsed, label=EDITOR_LABEL)
    folder = store().artifacts_dir(run_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PREDICTION_FILE).write_text(json.dumps(prediction), encoding="utf-8")
    return run_id


def active_ids() -> tuple[int, ...]:
    """Ids of queued or running profile jobs and editor runs (the page watches them)."""
    records = store().list_runs(("queued", "running"))
    return tuple(sorted(r.id for r in records if r.recipe.get("job") or r.label == EDITOR_LABEL))


def editor_runs() -> pd.DataFrame:
    """Runs queued from the editor: their prediction and, when done, the actual accuracies."""
    return _editor_runs(str(store().path), store().fingerprint())


@st.cache_data(show_spinner=False, max_entries=16)
def _editor_runs(store_path: str, fingerprint: tuple[Any, ...]) -> pd.DataFrame:
    rows = []
    for record in store().list_runs():
        if record.label != EDITOR_LABEL:
            continue
        path = store().artifacts_dir(record.id) / PREDICTION_FILE
        prediction = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        document = results(record.id) if record.state == "done" else None
        summary = (document or {}).get("summary", {})
        pruned = [row for row in (document or {}).get("curves", []) if row["kind"] == "prune"]
        row = {
            "id": record.id,
            "state": record.state,
            "profile": prediction.get("profile_id"),
            "target": prediction.get("target"),
            "budget": prediction.get("budget"),
            "predicted_val_after_prune": prediction.get("predicted_val_accuracy"),
            "actual_val_after_prune": pruned[-1]["val_accuracy"] if pruned else None,
            "predicted_loss_delta": prediction.get("predicted_loss_delta"),
            "val_accuracy": summary.get("val_accuracy"),
            "test_accuracy": summary.get("test_accuracy"),
            "epochs": (record.recipe.get("finetune") or {}).get("epochs"),
        }
        if summary.get("metric") == "perplexity" or "predicted_val_perplexity" in prediction:
            row |= perplexity_columns(prediction, pruned, summary)
        rows.append(row)
    return pd.DataFrame(rows)


def perplexity_columns(
    prediction: dict[str, Any], pruned: list[dict[str, Any]], summary: dict[str, Any]
) -> dict[str, Any]:
    """An editor run's perplexities (causal LMs): predicted and actual after pruning, and
    after finetuning (lower is better)."""
    return {
        "predicted_val_perplexity_after_prune": prediction.get("predicted_val_perplexity"),
        "actual_val_perplexity_after_prune": pruned[-1].get("val_perplexity") if pruned else None,
        "val_perplexity": summary.get("val_perplexity"),
        "test_perplexity": summary.get("test_perplexity"),
    }


def profile_models() -> list[str]:
    """Registered models with data (a profile evaluates on the validation split)."""
    models = pruning_core.MODELS
    return [name for name in models.names() if models.get(name).data is not None]


def configured_choice(configured: Any) -> dict[str, Any] | None:
    """The Configure page's ``model``, ``weights`` and ``data`` when a profile can measure
    them (its data is set, or the model is registered with data of its own); else ``None``.

    Args:
        configured: ``st.session_state["configured_model"]`` as the Configure page left it.
    """
    if not isinstance(configured, dict) or not configured.get("model"):
        return None
    choice = {
        "model": str(configured["model"]),
        "weights": configured.get("weights"),
        "data": configured.get("data"),
    }
    if choice["data"] is None and choice["model"] not in profile_models():
        return None
    return choice


def profile_metric(model: str, weights: str | None = None) -> str:
    """What a profile of ``model`` measures: ``perplexity`` (causal LMs) or ``accuracy``."""
    try:
        return pruning_core.spec_for(model, weights).metric  # the data does not change it
    except pruning_core.UserInputError:  # the queued job names the problem
        return "accuracy"


def recipe_yaml(recipe: dict[str, Any]) -> str:
    """The validated recipe as YAML (raises ``UserInputError`` naming the field)."""
    return pruning_core.parse_recipe(recipe).to_yaml()
