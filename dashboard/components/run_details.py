"""One run in detail (Runs page): status, metrics, charts, layer table, recipe, actions."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, services
from dashboard.charts import tables
from dashboard.components import widgets
from dashboard.services import figures

ACTIVE = ("queued", "running")


def show(run: pd.Series) -> None:
    """Everything about one run; ``run`` is a row of ``services.runs_frame()``."""
    run_id = int(run["id"])
    if run["state"] == "failed":
        widgets.show_issue(run["error_field"] or "run", run["error"] or "failed without a reason")
    elif run["state"] == "cancelled":
        st.info("This run was cancelled.")
    elif run["state"] in ACTIVE:
        st.info(f"This run is {run['state']}; its details appear when it is done.")
    document = services.results(run_id) if run["state"] == "done" else None
    if document is not None:
        _metrics(document["summary"], run["accuracy_delta"])
        tabs = st.tabs(
            [
                "Per-layer sparsity",
                "Accuracy curve",
                "Reconstruction error",
                "Layer table",
                "Recipe",
            ]
        )
        with tabs[0]:
            st.plotly_chart(figures.run_layers(run_id), key="detail_layers")
        with tabs[1]:
            st.plotly_chart(figures.run_curves(run_id), key="detail_curves")
        with tabs[2]:
            st.plotly_chart(
                charts.reconstruction_error_chart(pd.DataFrame(document["layers"])),
                key="detail_error",
            )
            st.caption(
                "Relative error of each pruned layer's outputs on the calibration inputs of the "
                "dense model: ||XW^T - XW'^T||^2 / ||XW^T||^2, right after the last pruning step."
            )
        with tabs[3]:
            st.dataframe(
                pd.DataFrame(document["layers"]),
                hide_index=True,
                width="stretch",
                column_config={"sparsity": st.column_config.NumberColumn(format="percent")},
            )
        with tabs[4]:
            where = document["environment"]
            st.code(tables.recipe_yaml(document["recipe"]), language="yaml")
            st.caption(
                f"Computed on {where.get('platform', '?')}, torch {where.get('torch', '?')}, "
                f"{where.get('date', '')}"
            )
    _actions(run_id, run["state"] in ACTIVE)


def _metrics(summary: dict, delta: float) -> None:
    cols = st.columns(5)
    cols[0].metric(
        "test accuracy",
        widgets.fmt_pct(summary["test_accuracy"]),
        delta=None if pd.isna(delta) else f"{delta:+.1%} vs dense",
    )
    cols[1].metric("sparsity (pruned layers)", widgets.fmt_pct(summary["sparsity_pruned_layers"]))
    cols[2].metric(
        "nonzero params",
        f"{summary['nonzero_params']:,}",
        help=f"of {summary['params_original']:,}",
    )
    cols[3].metric(
        "theoretical speedup",
        f"{summary['theoretical_speedup']:.2f}x",
        help=summary.get("speedup_kind", "MACs ratio"),
    )
    cols[4].metric(f"size ({summary['precision']})", f"{summary['size_bytes'] / 1024:,.0f} KiB")


def _actions(run_id: int, active: bool) -> None:
    left, right, _ = st.columns([1, 1, 4])
    if left.button("Queue again", key="again", help="A new run with the same recipe"):
        new_id = services.queue_again(run_id)
        services.start_worker_if_needed()
        st.toast(f"Queued #{new_id}")
        st.rerun()
    if right.button("Delete", key="delete", disabled=active, help="Remove the run and its files"):
        services.delete_run(run_id)
        st.rerun()
