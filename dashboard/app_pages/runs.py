"""Runs: the live queue (progress, cancel), every run in a table, one run in detail."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import services
from dashboard.components import run_details, widgets

ACTIVE = ("queued", "running")
SHOWN_QUEUED = 10

st.title("Runs")
runs = services.runs_frame()
active_now = runs[runs["state"].isin(ACTIVE)] if not runs.empty else runs


@st.fragment(run_every=1.0 if not active_now.empty else 4.0)
def live_queue() -> None:
    """Progress of queued and running runs, refreshed in place (two tabs see the same queue)."""
    services.recover()
    services.start_worker_if_needed()
    active = services.runs_frame(ACTIVE)
    states = (
        tuple(sorted(zip(active["id"], active["state"], strict=True))) if not active.empty else ()
    )
    previous = st.session_state.get("runs_active_states")
    st.session_state["runs_active_states"] = states
    if previous is not None and previous != states:
        st.rerun(scope="app")  # a run started, finished or arrived: refresh table and details too
    if active.empty:
        st.caption("Nothing queued or running. Queue runs on the Configure page.")
        return
    running = active[active["state"] == "running"].sort_values("id")
    queued = active[active["state"] == "queued"].sort_values("id")
    for _, run in pd.concat([running, queued.head(SHOWN_QUEUED)]).iterrows():
        widgets.progress_row(run)
    if len(queued) > SHOWN_QUEUED:
        st.caption(f"... and {len(queued) - SHOWN_QUEUED} more queued")
    if len(queued) > 1 and st.button(f"Cancel all {len(queued)} queued", key="cancel_all_queued"):
        for run_id in queued["id"]:
            services.cancel(int(run_id))
        st.rerun(scope="app")


with st.container(border=True):
    st.subheader("Queue")
    live_queue()

if runs.empty:
    st.info("No runs yet.")
    st.page_link("app_pages/configure.py", label="Configure a run", icon=":material/tune:")
    st.stop()

st.subheader("All runs")
left, right = st.columns([2, 1])
states = left.multiselect(
    "state",
    ["queued", "running", "done", "failed", "cancelled"],
    key="runs_states",
    placeholder="all states",
)
models = ["all models", *sorted(runs["model"].dropna().unique())]
model = right.selectbox("model", models, key="runs_model")
shown = runs[runs["state"].isin(states)] if states else runs
shown = shown if model == "all models" else shown[shown["model"] == model]
st.dataframe(
    shown,
    hide_index=True,
    width="stretch",
    height=min(38 + 35 * len(shown), 420),
    column_order=[
        "run",
        "state",
        "model",
        "structure",
        "target_sparsity",
        "test_accuracy",
        "accuracy_delta",
        "sparsity_total",
        "theoretical_speedup",
        "precision",
        "epochs",
        "schedule",
        "sweep",
        "created",
        "duration_s",
        "error",
    ],
    column_config={
        "run": st.column_config.TextColumn("run", width="medium"),
        "target_sparsity": st.column_config.NumberColumn("target", format="percent"),
        "test_accuracy": st.column_config.NumberColumn("test acc", format="percent"),
        "accuracy_delta": st.column_config.NumberColumn("vs dense", format="percent"),
        "sparsity_total": st.column_config.NumberColumn("model sparsity", format="percent"),
        "theoretical_speedup": st.column_config.NumberColumn("speedup (theor.)", format="%.2fx"),
        "created": st.column_config.DatetimeColumn("queued at", format="YYYY-MM-DD HH:mm:ss"),
        "duration_s": st.column_config.NumberColumn("seconds", format="%.1f"),
        "error": st.column_config.TextColumn("error", width="large"),
    },
)

st.subheader("Run details")
finished = runs[runs["state"] == "done"]
finished = finished if not finished.empty else runs[~runs["state"].isin(ACTIVE)]
default = int(finished["id"].iloc[0]) if not finished.empty else None
run_id = widgets.run_picker(runs, "run", key="runs_detail", default_id=default)
if run_id is not None:
    run_details.show(runs[runs["id"] == run_id].iloc[0])
