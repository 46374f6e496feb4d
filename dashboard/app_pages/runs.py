"""Runs: the live queue (position, ETA, progress, cancel), every run in a table, one in detail."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import services
from dashboard.components import run_details, runs_table, widgets

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
    waits = services.queue_view().set_index("id")
    running = active[active["state"] == "running"].sort_values("id")
    queued = active[active["state"] == "queued"]
    queued = queued.assign(position=queued["id"].map(waits["position"])).sort_values("position")
    for _, run in pd.concat([running, queued.head(SHOWN_QUEUED)]).iterrows():
        wait = waits.loc[run["id"]].to_dict() if run["id"] in waits.index else {}
        widgets.progress_row(run, wait)
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
shown = (shown if model == "all models" else shown[shown["model"] == model]).reset_index(drop=True)
selected = runs_table.show(shown)
runs_table.actions(runs, selected)

st.subheader("Run details")
finished = runs[runs["state"] == "done"]
finished = finished if not finished.empty else runs[~runs["state"].isin(ACTIVE)]
default = int(finished["id"].iloc[0]) if not finished.empty else None
run_id = widgets.run_picker(runs, "run", key="runs_detail", default_id=default)
if run_id is not None:
    run_details.show(runs[runs["id"] == run_id].iloc[0], runs)
