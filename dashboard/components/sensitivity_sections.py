"""Sections of the Sensitivity page: the profile form, the job list and the editor's controls."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard import services
from dashboard.components import widgets
from dashboard.services import sensitivity as profiles

STRUCTURES = {  # labels of the structures a profile can be computed for (the engine's list)
    "unstructured": "unstructured (single weights)",
    "n:m": "N:M semi-structured (on/off per layer)",
    "block": "block (e.g. 4x4 tiles)",
    "channel": "channel (removes output channels)",
}
METHODS = {
    "measured": "measured: validation loss and accuracy (exact, one evaluation per point)",
    "fisher": "approximation: Fisher second-order loss estimate (fast, for large models)",
}
BUDGETS = {
    "sparsity": "average sparsity (share of the layers' weights removed)",
    "macs": "MACs removed (sets the theoretical speedup)",
}
GRID_TEXT = "0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98"
ACTIVE = ("queued", "running")


def profile_form() -> None:
    """Widgets for a new profile job and the button that queues it."""
    left, middle, right = st.columns(3)
    job: dict[str, Any] = {
        "model": left.selectbox("model", profiles.profile_models(), key="sens_model"),
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
    job["method"] = st.radio(
        "method", list(METHODS), format_func=lambda method: METHODS[method], key="sens_method"
    )
    grid = st.text_input(
        "sparsity grid",
        GRID_TEXT,
        key="sens_grid",
        disabled=services.fixes_sparsity({"kind": kind}),
        help="Each layer is pruned alone to each of these sparsities (N:M: on/off only)",
    )
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


def estimate_metrics(proposal: dict[str, Any], reference: dict[str, Any], dense: dict) -> None:
    """Live estimates: sparsity, nonzeros, size, theoretical speedup, predicted accuracy."""
    cols = st.columns(5)
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
    if predicted is None:
        cols[4].metric("predicted loss increase", f"{proposal['predicted_loss_delta']:+.4f}",
                       help="Approximation (Fisher estimate), summed over layers")  # fmt: skip
        return
    uniform = reference["predicted_val_accuracy"]
    cols[4].metric(
        "predicted val accuracy",
        f"{predicted:.1%}",
        delta=f"{predicted - dense['val_accuracy']:+.1%} vs dense",
        help="Additive single-layer estimate before finetuning (layers interact; finetuning "
        f"recovers much). Uniform at the same average: {uniform:.1%}",
    )
