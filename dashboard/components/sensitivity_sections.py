"""Sections of the Sensitivity page: the profile form, the job list and the editor's controls."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import services
from dashboard.charts.metric import PERPLEXITY, fmt, metric_name
from dashboard.components import widgets
from dashboard.services import sensitivity as profiles

STRUCTURES = {  # labels of the structures a profile can be computed for (the engine's list)
    "unstructured": "unstructured (single weights)",
    "n:m": "N:M semi-structured (on/off per layer)",
    "block": "block (e.g. 4x4 tiles)",
    "channel": "channel (removes output channels)",
}
METHODS = {
    "measured": "measured: validation loss and {metric} (exact, one evaluation per point)",
    "fisher": "approximation: Fisher second-order loss estimate (fast, for large models)",
}
BUDGETS = {
    "sparsity": "average sparsity (share of the layers' weights removed)",
    "macs": "MACs removed (sets the theoretical speedup)",
}
GRID_TEXT = "0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98"
ACTIVE = ("queued", "running")
CONFIGURED = ":configured:"  # the select box's option for the Configure page's choice
LM_VAL_SAMPLES = 64  # default validation samples of a causal LM's profile (0: all)


def profile_form() -> None:
    """Widgets for a new profile job and the button that queues it.

    The model is a registered one with its own data, or (offered first) the model, weights
    and data chosen on the Configure page, when it has data.
    """
    configured = profiles.configured_choice(st.session_state.get("configured_model"))
    options = ([CONFIGURED] if configured else []) + profiles.profile_models()
    left, middle, right = st.columns(3)
    with left:
        model = widgets.pick(
            "model",
            options,
            "sens_model",
            format_func=lambda option: (
                configured_label(configured) if option == CONFIGURED else option
            ),
            help='"from Configure": the model, weights and data chosen on the Configure page',
        )
    choice: dict[str, Any] = configured if model == CONFIGURED and configured else {"model": model}
    job: dict[str, Any] = {
        **choice,
        "criterion": middle.selectbox("criterion", list(services.criteria()), key="sens_crit"),
    }
    kind = right.selectbox(
        "structure",
        profiles.profiled_structures(),
        format_func=lambda kind: STRUCTURES.get(kind, kind),
        key="sens_structure",
    )
    structure: dict[str, Any] = {"kind": kind, **SIZE_INPUTS.get(kind, _no_sizes)(left, middle)}
    job["structure"] = structure
    metric = profiles.profile_metric(choice["model"], choice.get("weights"))
    job["method"] = st.radio(
        "method",
        list(METHODS),
        format_func=lambda method: METHODS[method].format(metric=metric),
        key="sens_method",
    )
    grid_column, samples_column = st.columns([2, 1])
    grid = grid_column.text_input(
        "sparsity grid",
        GRID_TEXT,
        key="sens_grid",
        disabled=services.fixes_sparsity({"kind": kind}),
        help="Each layer is pruned alone to each of these sparsities (N:M: on/off only)",
    )
    lm = metric == PERPLEXITY
    samples = samples_column.number_input(
        "validation samples",
        min_value=0,
        value=LM_VAL_SAMPLES if lm else 0,
        step=16,
        key=f"sens_val_samples_{'lm' if lm else 'classifier'}",
        help="Validation samples each point is measured on (a seeded subset); 0 or empty: "
        "all of them. Language models default to a few, to keep the profile quick.",
    )
    job["val_samples"] = int(samples) if samples else None
    if st.button("Compute profile", key="sens_compute", type="primary"):
        try:
            job["sparsities"] = [float(part) for part in grid.split(",") if part.strip()]
        except ValueError:
            widgets.show_issue("sparsities", f"'{grid}' is not a comma-separated list of numbers")
            return
        try:
            run_id = profiles.queue_profile(job)
        except services.UserInputError as error:
            widgets.show_issue(error.field, error.message)
            return
        services.start_worker_if_needed()
        st.session_state["sens_profile"] = run_id
        st.rerun()


def configured_label(choice: dict[str, Any] | None) -> str:
    """``from Configure: <model> + <data>`` for the Configure page's choice."""
    if choice is None:
        return "from Configure"
    model = str(choice["model"])
    short = Path(model.removeprefix("hf:")).name if model.startswith("hf:") else model
    short = short.removeprefix("torchvision:")
    if choice.get("weights"):
        short += f" ({Path(str(choice['weights'])).name})"
    return f"from Configure: {short} + {data_label(choice.get('data'))}"


def data_label(data: dict[str, Any] | None) -> str:
    """A data source as read: the text file's name, the image folders' common folder."""
    if not data:
        return "its own data"
    if data.get("kind") == "text" and data.get("path"):
        return Path(str(data["path"])).name
    folders = [str(data[key]) for key in ("train", "val", "test") if data.get(key)]
    if not folders:
        return str(data.get("kind", "data"))
    common = Path(os.path.commonpath(folders)) if len(folders) > 1 else Path(folders[0])
    return f"{common.name or common}/ (images)"


def _no_sizes(left: Any, middle: Any) -> dict[str, Any]:
    return {}


def _nm_sizes(left: Any, middle: Any) -> dict[str, Any]:
    return {
        "n": left.number_input("N (kept)", 1, 63, 2, key="sens_n"),
        "m": middle.number_input("M (group)", 2, 64, 4, key="sens_m"),
    }


def _block_sizes(left: Any, middle: Any) -> dict[str, Any]:
    return {
        "block": [
            left.number_input("block rows", 1, 64, 4, key="sens_bh"),
            middle.number_input("block columns", 1, 64, 4, key="sens_bw"),
        ]
    }


SIZE_INPUTS = {"n:m": _nm_sizes, "block": _block_sizes}  # the inputs each choice shows


def job_list(jobs: pd.DataFrame) -> None:
    """Progress and cancel buttons of queued/running profiles; the last failure's reason."""
    services.recover()
    active = jobs[jobs["state"].isin(ACTIVE)] if not jobs.empty else jobs
    for _, job in active.sort_values("id").iterrows():
        widgets.progress_row(job.rename({"label": "run"}))
    failed = jobs[jobs["state"] == "failed"] if not jobs.empty else jobs
    if not failed.empty:
        last = failed.iloc[0]
        widgets.show_issue(
            str(last["error_field"] or f"profile #{last['id']}"), str(last["error"] or "failed")
        )


def pick_profile(jobs: pd.DataFrame) -> int | None:
    """Select a finished profile; returns its job id."""
    done = jobs[jobs["state"] == "done"] if not jobs.empty else jobs
    if done.empty:
        return None
    ids = [int(run_id) for run_id in done["id"]]
    labels = dict(zip(ids, done["label"], strict=True))
    if st.session_state.get("sens_profile") not in ids:
        st.session_state["sens_profile"] = ids[0]
    return st.selectbox(
        "profile", ids, format_func=lambda run_id: labels[run_id], key="sens_profile"
    )


def overrides_editor(profile: dict[str, Any], profile_id: int) -> dict[str, float]:
    """Per-layer fixed sparsities (empty cell: chosen by the allocator)."""
    layers = [row for row in profile["layers"] if row["profiled"]]
    table = pd.DataFrame(
        {
            "layer": [row["layer"] for row in layers],
            "params": [row["params"] for row in layers],
            "override": pd.Series([None] * len(layers), dtype="float64"),
        }
    )
    edited = st.data_editor(
        table,
        key=f"sens_overrides_{profile_id}",
        hide_index=True,
        width="stretch",
        disabled=["layer", "params"],
        column_config={
            "params": st.column_config.NumberColumn(format="localized"),
            "override": st.column_config.NumberColumn(
                "fixed sparsity", min_value=0.0, max_value=0.99, step=0.01, format="%.2f"
            ),
        },
    )
    return {
        str(row["layer"]): float(row["override"])
        for _, row in edited.iterrows()
        if pd.notna(row["override"])
    }


def method_caption(profile: dict[str, Any]) -> str:
    """What the profile measured, naming its metric (perplexity for causal LMs)."""
    if profile.get("approximation"):
        return str(profile["method_label"])
    samples = profile.get("job", {}).get("val_samples")
    on = f" ({samples} validation samples)" if samples else ""
    return f"measured: validation loss and {metric_name(profile)} with the layer pruned alone{on}"


def dense_caption(profile: dict[str, Any]) -> str:
    """``dense validation accuracy 97.2%`` or ``dense validation perplexity 23.41 (lower is
    better)``."""
    name = metric_name(profile)
    value = fmt(profile["dense"].get(f"val_{name}"), name)
    return f"dense validation {name} {value}" + (" (lower is better)" if name == PERPLEXITY else "")


def loss_help(profile: dict[str, Any]) -> str:
    """How the predicted loss increase was obtained, as honest as the profile's method."""
    if profile.get("approximation"):
        return (
            "Approximation (Fisher estimate) of the validation loss increase, summed over "
            "layers; no evaluation"
        )
    return (
        "Measured single-layer validation loss increases (interpolated on the grid), added "
        "up: an additive estimate before finetuning (layers interact)"
    )


def estimate_metrics(
    proposal: dict[str, Any], reference: dict[str, Any], profile: dict[str, Any]
) -> None:
    """Live estimates: sparsity, nonzeros, size, theoretical speedup and the predicted
    damage: accuracy (classifiers), perplexity and loss increase (causal LMs), else loss."""
    dense = profile["dense"]
    perplexity = proposal.get("predicted_val_perplexity")
    cols = st.columns(6 if perplexity is not None else 5)
    cols[0].metric("average sparsity", f"{proposal['average_sparsity']:.1%}",
                   help="Share of the profiled layers' weights removed")  # fmt: skip
    cols[1].metric("nonzero weights", f"{proposal['nonzero_params']:,}",
                   help=f"of {proposal['params']:,} in the Linear/Conv layers")  # fmt: skip
    cols[2].metric(
        "size, zeros not stored",
        f"{proposal['size_sparse_bytes'] / 1024:,.0f} KiB",
        help=f"Estimate: fp32 values + 1-bit mask; dense {proposal['size_dense_bytes'] / 1024:,.0f}"
        " KiB (Linear/Conv weights only)",
    )
    cols[3].metric("theoretical speedup", f"{proposal['theoretical_speedup']:.2f}x",
                   help="MACs ratio of Linear/Conv layers; not a measured time")  # fmt: skip
    predicted = proposal["predicted_val_accuracy"]
    if perplexity is not None:
        cols[4].metric("predicted loss increase", f"{proposal['predicted_loss_delta']:+.4f}",
                       help=loss_help(profile))  # fmt: skip
        dense_perplexity = dense.get("val_perplexity")
        uniform = reference.get("predicted_val_perplexity")
        cols[5].metric(
            "predicted val perplexity",
            fmt(perplexity, PERPLEXITY),
            delta=f"{perplexity - dense_perplexity:+.2f} vs dense"
            if dense_perplexity is not None
            else None,
            delta_color="inverse",
            help="Lower is better. exp(dense validation loss + the predicted loss increase), "
            "before finetuning (layers interact; finetuning recovers much). Uniform at the "
            f"same average: {fmt(uniform, PERPLEXITY)}",
        )
        return
    if predicted is None:
        cols[4].metric("predicted loss increase", f"{proposal['predicted_loss_delta']:+.4f}",
                       help=loss_help(profile))  # fmt: skip
        return
    uniform = reference["predicted_val_accuracy"]
    cols[4].metric(
        "predicted val accuracy",
        f"{predicted:.1%}",
        delta=f"{predicted - dense['val_accuracy']:+.1%} vs dense",
        help="Additive single-layer estimate before finetuning (layers interact; finetuning "
        f"recovers much). Uniform at the same average: {uniform:.1%}",
    )
