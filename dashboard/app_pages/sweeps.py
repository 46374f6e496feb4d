"""Sweeps: accuracy against sparsity per criterion, random baseline, mean ± std over seeds."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, services
from dashboard.charts import metric as metric_names
from dashboard.charts import tables
from dashboard.components import cards

ALL = "all finished runs"

st.title("Criteria sweeps")
st.caption(
    "Which criterion keeps accuracy best as sparsity grows? Bands show mean ± std over seeds."
)
runs = services.runs_frame()
if runs.empty or not (runs["state"] == "done").any():
    cards.getting_started("sweeps")
    if runs.empty:
        st.stop()
sweeps = [sweep for sweep in dict.fromkeys(runs["sweep"].dropna())] if not runs.empty else []


def describe(sweep: str) -> str:
    """``sweep-1-ab12 · digits_mlp · unstructured · 12/18 done``."""
    rows = runs[runs["sweep"] == sweep]
    done = int((rows["state"] == "done").sum())
    return (
        f"{sweep} · {rows['model'].iloc[0]} · {rows['structure'].iloc[0]} · {done}/{len(rows)} done"
    )


source = st.selectbox(
    "runs",
    [*sweeps, ALL],
    key="sweeps_source",
    format_func=lambda s: describe(s) if s != ALL else s,
)
rows = runs[runs["sweep"] == source] if source != ALL else runs
if source == ALL and not runs.empty:
    left, middle, right = st.columns(3)
    model = left.selectbox("model", sorted(runs["model"].dropna().unique()), key="sweeps_model")
    rows = rows[rows["model"] == model]
    structure = middle.selectbox(
        "structure", sorted(rows["structure"].unique()), key="sweeps_structure"
    )
    rows = rows[rows["structure"] == structure]
    epochs = right.selectbox(
        "finetune epochs",
        sorted(rows["epochs"].unique()),
        key="sweeps_epochs",
        help="Only runs with the same finetune budget are comparable",
    )
    rows = rows[rows["epochs"] == epochs]
if rows.empty:
    st.info(
        "No runs match these choices. Use **Queue sweep** on the Configure page "
        "to run criteria x sparsities x seeds."
    )
    st.stop()

done = rows[rows["state"] == "done"]
ended = rows["state"].isin(["done", "failed", "cancelled"]).sum()
if ended < len(rows):
    st.progress(ended / len(rows), text=f"{ended} of {len(rows)} runs finished ({len(done)} done)")
if len(done) < ended:
    st.caption(f"{ended - len(done)} run(s) failed or were cancelled; see the Runs page.")
task = metric_names.frame_metric(rows)  # accuracy, or perplexity (lower is better) for LMs
metric = st.radio(
    task,
    [f"test_{task}", f"val_{task}"],
    horizontal=True,
    key="sweeps_metric" if task == "accuracy" else "sweeps_metric_ppl",
    format_func=lambda m: m.replace("_", " "),
)
dense = done[f"dense_{metric}"].mean() if metric.startswith("test_") and not done.empty else None
after = st.toggle(
    "also right after pruning (before finetuning)",
    value=True,
    key="sweeps_after",
    help=f"Validation {task} at the last pruning step, before the finetuning that follows: "
    "what each criterion costs before finetuning hides it",
)
st.plotly_chart(
    charts.accuracy_vs_sparsity_chart(
        done, metric, dense=dense, after="val_after_pruning" if after else None
    ),
    key="sweeps_chart",
)
if not done.empty and "random" not in set(done["criterion"]):
    st.caption("Add the **random** criterion to the sweep to see the control baseline.")
if not done.empty:
    st.caption(f"Mean ± std of {metric.replace('_', ' ')} over seeds (number of seeds in brackets)")
    lm = task == metric_names.PERPLEXITY
    st.dataframe(tables.sweep_table(charts.aggregate_seeds(done, metric), lm), width="stretch")
    if done["val_after_pruning"].notna().any():
        st.caption(f"Val {task} right after pruning, before finetuning (mean ± std over seeds)")
        st.dataframe(
            tables.sweep_table(charts.aggregate_seeds(done, "val_after_pruning"), lm),
            width="stretch",
        )
