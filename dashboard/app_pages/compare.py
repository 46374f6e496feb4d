"""Compare: two to four finished runs side by side, differences highlighted, charts overlaid."""

from __future__ import annotations

import html
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import services
from dashboard.charts import tables
from dashboard.components import widgets
from dashboard.services import figures

HIGHLIGHT = "background-color: #fef3c7; font-weight: 600"

st.title("Compare runs")
runs = services.runs_frame(("done",))
if len(runs) < 2:
    st.info("Comparing needs at least two finished runs; queue some on the Configure page.")
    st.stop()

ids = widgets.runs_picker(
    runs,
    "runs to compare (2 to 4)",
    key="compare_runs",
    default=sorted(int(run_id) for run_id in runs["id"][:2]),
    max_runs=4,
)
if len(ids) < 2:
    st.info("Pick at least two runs.")
    st.stop()

chosen = runs.set_index("id").loc[ids].reset_index()
documents: dict[int, dict[str, Any]] = {}
for run_id in ids:
    document = services.results(run_id)
    if document is None:
        widgets.show_issue("artifacts", f"the results of run #{run_id} are missing on disk")
        st.stop()
    documents[run_id] = document
labels = dict(zip(chosen["id"], chosen["run"], strict=True))
diff = tables.recipe_diff({labels[run_id]: documents[run_id]["recipe"] for run_id in ids})
differing = diff[diff["differs"]].drop(columns="differs")
reference = chosen["test_accuracy"].iloc[0]

for column, run_id in zip(st.columns(len(ids)), ids, strict=True):
    label, accuracy = labels[run_id], documents[run_id]["summary"]["test_accuracy"]
    with column, st.container(border=True):
        st.markdown(f"#### {widgets.plain(label)}")
        shown = widgets.fmt_pct(accuracy)
        if run_id == ids[0] or accuracy is None or pd.isna(reference):
            st.metric(
                "test accuracy", shown, delta="reference", delta_color="off", delta_arrow="off"
            )
        else:
            versus = labels[ids[0]].split()[0]
            st.metric("test accuracy", shown, delta=f"{accuracy - reference:+.1%} vs {versus}")
        for field, value in differing[label].items():  # recipe values: escaped, never markup
            st.html(f"<span style='{HIGHLIGHT}'>{html.escape(f'{field}: {value}')}</span>")
        st.plotly_chart(
            figures.run_layers(run_id, title="per-layer sparsity", height=300),
            key=f"compare_layers_{run_id}",
        )

st.subheader("Recipe")
only = st.toggle("only fields that differ", value=True, key="compare_only_diff")
table = differing if only else diff.drop(columns="differs")
if table.empty:
    st.caption("The recipes are identical (the runs differ only by chance, e.g. timing).")
else:
    flags = diff["differs"]
    st.dataframe(
        table.style.apply(lambda row: [HIGHLIGHT if flags[row.name] else ""] * len(row), axis=1),
        width="stretch",
    )

st.subheader("Metrics")
st.dataframe(tables.metrics_table(chosen), width="stretch")

layers, curves = figures.overlays(labels)
st.plotly_chart(layers, key="compare_layers_overlay")
st.plotly_chart(curves, key="compare_curves_overlay")
