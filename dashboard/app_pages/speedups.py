"""Speed and size: theoretical speedups beside measured ones, size by format, Pareto view."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, services
from dashboard.charts import metric
from dashboard.components import cards, widgets

st.title("Speed and size")
runs = services.runs_frame(("done",))
if runs.empty:
    cards.getting_started("speedups")

if not runs.empty:
    ids = widgets.runs_picker(
        runs, "runs", key="speed_runs", default=[int(i) for i in runs["id"][:6]], max_runs=20
    )
    chosen = runs.set_index("id").loc[ids].reset_index() if ids else runs.head(0)
    nothing = "no runs selected: pick runs above"
else:
    chosen, nothing = runs, "no finished runs yet"

st.subheader("Speedup")
cards.gpu_card(key="gpu_speed")
measured = services.measurements()
here = measured[measured["device"] == services.this_device()]
if not chosen.empty:
    st.plotly_chart(
        charts.speedup_chart(
            chosen[["run", "theoretical_speedup"]],
            title="Theoretical speedup",
            empty_message=nothing,
        ),
        key="speed_chart",
    )
    st.caption(
        "*Theoretical*: dense MACs divided by the MACs left after pruning (Linear/Conv). "
        "Real kernels may or may not deliver it; nothing here was timed."
    )
elif not runs.empty:
    st.info("No runs selected: pick runs above to see their theoretical speedup and sizes.")
if here.empty:
    st.info(
        f"**No measurement yet on this device** ({services.this_device()}). Measured "
        "speedups appear here, labelled with device and date, once benchmark results "
        "for it exist under `benchmarks/results/`."
    )
if not measured.empty:
    devices = ", ".join(sorted(set(measured["device"].astype(str))))
    st.plotly_chart(
        charts.measured_speedup_chart(measured, title="Measured speedup"), key="measured_chart"
    )
    st.caption(
        f"*Measured*: timed on {devices}; one bar per configuration (the median when several "
        "result files timed it, whiskers from the lowest to the highest), device and date on "
        "the bar. Benchmark models, not your runs."
    )
    with st.expander(f"Measured rows ({len(measured)}, from `benchmarks/results/`)"):
        st.dataframe(measured, hide_index=True, width="stretch")

if runs.empty:
    st.stop()
st.subheader("Size")
sizes = services.size_rows(chosen)
precisions = list(dict.fromkeys(sizes["precision"]))
if len(set(sizes["format"])) > 1 and precisions:  # many formats: one precision at a time
    shown = st.radio("precision", precisions, horizontal=True, key="size_precision")
    sizes = sizes[sizes["precision"] == shown]
st.plotly_chart(charts.size_by_precision_chart(sizes, empty_message=nothing), key="size_chart")
if not sizes.empty and (sizes["format"] == "dense").all():
    st.caption(
        "Dense storage keeps the zeros, so unstructured sparsity alone does not shrink it; "
        "channel pruning and lower precision do. These runs carry no per-format byte counts."
    )
elif not sizes.empty:
    st.caption(
        "Exact bytes per storage format (values + indices + metadata), as computed by the run. "
        "*n/a*: the format holds none of the run's pruned layers (2:4 on an unstructured run, "
        "a codebook without weight sharing), so it is not drawn at the dense size."
    )

st.subheader("Pareto view")
left, right = st.columns(2)
model = left.selectbox("model", sorted(runs["model"].unique()), key="pareto_model")
axis = right.radio(
    "cost",
    ["nonzero_params", "size_bytes"],
    horizontal=True,
    key="pareto_cost",
    format_func={"nonzero_params": "nonzero parameters", "size_bytes": "size (dense storage)"}.get,
)
title = "nonzero parameters" if axis == "nonzero_params" else "model size (KiB, dense storage)"
points = runs[runs["model"] == model]
kinds = list(dict.fromkeys(points["metric"].fillna("accuracy")))  # one per model, as a rule
for kind in kinds:  # runs judged by accuracy and by perplexity never share an axis
    st.plotly_chart(
        charts.pareto_chart(
            points[points["metric"].fillna("accuracy") == kind],
            x=axis,
            y=metric.metric_of({"metric": kind})[0],
            x_title=title,
        ),
        key="pareto_chart" if len(kinds) == 1 else f"pareto_chart_{kind}",
    )
better = (
    "lower test perplexity"
    if kinds == [metric.PERPLEXITY]
    else "test accuracy"
    if kinds == ["accuracy"]
    else "its metric (accuracy, or perplexity: lower is better)"
)
st.caption(
    "Each point is a finished run of the model; the dashed line joins the runs "
    f"no other run beats on both {better} and cost. Latency joins this view once it is measured."
)
