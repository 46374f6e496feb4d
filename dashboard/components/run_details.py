"""One run in detail (Runs page): status, headline metrics, charts, layer table, recipe, actions."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard import charts, services
from dashboard.charts import display, facts, heatmap, metric, tables
from dashboard.components import cards, runs_table, widgets
from dashboard.services import figures

ACTIVE = ("queued", "running")


def show(run: pd.Series, runs: pd.DataFrame) -> None:
    """Everything about one run; ``run`` is a row of ``services.runs_frame()`` (``runs``)."""
    run_id = int(run["id"])
    if run["state"] == "failed":
        widgets.show_issue(
            run["error_field"] or "run", run["error"] or "failed without a reason", form=True
        )
    elif run["state"] == "cancelled":
        st.info("This run was cancelled.")
    elif run["state"] in ACTIVE:
        st.info(f"This run is {run['state']}; its details appear when it is done.")
    document = services.results(run_id) if run["state"] == "done" else None
    if document is not None:
        headline(document["summary"], run)
        if run["structure"] == "2:4":
            cards.gpu_card(document["summary"], key=f"gpu_{run_id}")
        lm = metric.metric_name(document["summary"]) == metric.PERPLEXITY
        tabs = st.tabs(
            ["Per-layer sparsity", "Perplexity curve" if lm else "Accuracy curve",
             "Reconstruction error", "Layer table", "Recipe"]
        )  # fmt: skip
        with tabs[0]:
            layers = pd.DataFrame(document["layers"])
            if heatmap.wants_heatmap(layers):  # LLMs: block x projection, not 100s of bars
                st.plotly_chart(heatmap.layer_heatmap_chart(layers), key="detail_heatmap")
            st.plotly_chart(figures.run_layers(run_id), key="detail_layers")
            if run["structure"] == "channel":
                st.caption(
                    "Removing a layer's output channels also removes the next layer's inputs "
                    "that read them: hatched, *inputs removed upstream*. A layer kept dense "
                    "can lose inputs that way too."
                )
        with tabs[1]:
            st.plotly_chart(figures.run_curves(run_id), key="detail_curves")
            if lm:
                st.caption(
                    "Validation perplexity (exp of the mean next-token loss): lower is better."
                )
        with tabs[2]:
            if heatmap.wants_heatmap(layers):  # the same block x projection view
                st.plotly_chart(
                    heatmap.layer_heatmap_chart(
                        layers, "Reconstruction error per block", "reconstruction_error"
                    ),
                    key="detail_error_heatmap",
                )
            st.plotly_chart(charts.reconstruction_error_chart(layers), key="detail_error")
            st.caption(
                "Relative error of each pruned layer's outputs on the calibration inputs of the "
                "dense model: ||XW^T - XW'^T||^2 / ||XW^T||^2, right after the last pruning step."
            )
        with tabs[3]:
            st.dataframe(display.layer_view(document["layers"]), width="stretch")
        with tabs[4]:
            where = document["environment"]
            st.code(tables.recipe_yaml(document["recipe"]), language="yaml")
            st.caption(
                f"Computed on {where.get('platform', '?')}, torch {where.get('torch', '?')}, "
                f"{where.get('date', '')}"
            )
    _actions(run_id, run["state"] in ACTIVE, runs)


def headline(summary: dict, run: pd.Series) -> None:
    """Final test metric, the val metric right after pruning -> after finetuning, size."""
    cols = st.columns([1, 1.3, 1, 1.3, 0.9])
    if metric.metric_name(summary) == metric.PERPLEXITY:
        _perplexity_headline(summary, run, cols)
    else:
        _accuracy_headline(summary, run, cols)
    cols[2].metric("sparsity (pruned)", widgets.fmt_pct(summary["sparsity_pruned_layers"]))
    best, dense = facts.size_headline({**run.to_dict(), "precision": summary.get("precision")})
    cols[3].metric("size, best format", best, delta=dense, delta_color="off", delta_arrow="off",
                   help="Smallest storage format that applies to this run (exact bytes: "
                   "values + indices + metadata), beside dense storage")  # fmt: skip
    cols[4].metric(
        "theoretical speedup",
        f"{summary['theoretical_speedup']:.2f}x",
        help=summary.get("speedup_kind", "MACs ratio"),
    )


def _accuracy_headline(summary: dict, run: pd.Series, cols: list[Any]) -> None:
    """Classifiers: test accuracy vs dense (pp) and val accuracy right after pruning."""
    delta = run["accuracy_delta"]
    cols[0].metric(
        "test accuracy (final)",
        widgets.fmt_pct(summary.get("test_accuracy")),
        delta=None if pd.isna(delta) else f"{widgets.fmt_pp(delta)} vs dense",
    )
    after, final = run.get("val_after_pruning"), summary.get("val_accuracy")
    cols[1].metric(
        "val acc. right after pruning",
        widgets.fmt_pct(after),
        delta=None if after is None or pd.isna(after) or final is None
        else f"{widgets.fmt_pp(final - after)} by finetuning",
        help="Before any finetuning: what the pruning alone cost. The final val accuracy is "
        f"{widgets.fmt_pct(final)}.",
    )  # fmt: skip


def _perplexity_headline(summary: dict, run: pd.Series, cols: list[Any]) -> None:
    """Language models: test perplexity (lower is better) and val perplexity after pruning."""
    field, label, _ = metric.metric_of(summary)
    final, dense = summary.get(field), summary.get(f"dense_{field}")
    delta = (
        f"{final - dense:+.2f} vs dense"
        if isinstance(final, int | float) and isinstance(dense, int | float)
        else None
    )
    cols[0].metric(label, metric.fmt(final, metric.PERPLEXITY), delta=delta, delta_color="inverse")
    after, tuned = run.get("val_after_pruning"), summary.get("val_perplexity")
    cols[1].metric(
        "val perplexity right after pruning",
        metric.fmt(after, metric.PERPLEXITY),
        help="Before any finetuning: what the pruning alone cost. The final val perplexity is "
        f"{metric.fmt(tuned, metric.PERPLEXITY)}.",
    )


def _actions(run_id: int, active: bool, runs: pd.DataFrame) -> None:
    left, right, _ = st.columns([1, 1, 4])
    if left.button("Queue again", key="again", help="A new run with the same recipe"):
        new_id = services.queue_again(run_id)
        services.start_worker_if_needed()
        st.toast(f"Queued #{new_id}")
        st.rerun()
    if right.button("Delete", key="delete", disabled=active, help="Remove the run and its files"):
        runs_table.ask_delete([run_id], "details")
    runs_table.confirm(runs, "details")
