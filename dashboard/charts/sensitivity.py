"""Figures of the Sensitivity page: pure functions ``DataFrame -> Figure`` (no Streamlit).

* :func:`curves_chart`: each layer's sensitivity curve, the proposed point marked.
* :func:`plan_chart`: proposed sparsity per layer over the performance profile
  (shares of parameters, MACs and measured latency).
* :func:`prediction_chart`: predicted against actual accuracy (causal LMs: perplexity)
  of editor runs.

A causal LM's profile measures perplexity (lower is better) and has no accuracy: its
``perplexity_delta`` stands in wherever accuracy is asked for.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.style import BASELINE_COLOR, INK, PALETTE, Trace, build, empty, layout

METRIC_TITLES = {
    "loss_delta": "validation loss increase",
    "accuracy_delta": "validation accuracy change",
    "perplexity_delta": "validation perplexity increase",
}


def shown_metric(rows: pd.DataFrame, metric: str) -> str:
    """The column drawn for ``metric``: ``perplexity_delta`` stands in for an accuracy
    change the profile does not have (a causal LM's perplexity profile)."""
    if (
        metric == "accuracy_delta"
        and (metric not in rows or rows[metric].isna().all())
        and "perplexity_delta" in rows
        and rows["perplexity_delta"].notna().any()
    ):
        return "perplexity_delta"
    return metric


def curves_chart(
    rows: pd.DataFrame,
    chosen: dict[str, tuple[float, float]] | None = None,
    metric: str = "loss_delta",
    approximate: bool = False,
) -> go.Figure:
    """One line per layer: ``metric`` with that layer alone pruned, against its sparsity.

    Args:
        rows: profile rows ``layer, sparsity, loss_delta, accuracy_delta`` (model order).
        chosen: layer -> (proposed sparsity, predicted ``metric`` there), marked with a
            diamond on the curve (the prediction comes with the proposal, not from here).
        metric: ``loss_delta``, ``accuracy_delta`` or ``perplexity_delta`` (see
            :func:`shown_metric`; when perplexity stands in, the marks sit on the drawn
            curve, as the given predictions are of the metric it replaces).
        approximate: the values are an estimate (Fisher), said in the title.
    """
    shown = shown_metric(rows, metric)
    title = f"Sensitivity: {METRIC_TITLES[shown]} with one layer pruned, no finetuning"
    if approximate:
        title = "Sensitivity (approximation): estimated loss increase, one layer pruned"
    if rows.empty or shown not in rows or rows[shown].isna().all():
        return empty(title, "no values for this metric in the profile")
    traces: list[Trace] = []
    for index, (name, group) in enumerate(rows.groupby("layer", sort=False)):
        color = PALETTE[index % len(PALETTE)]
        group = group.sort_values("sparsity")
        xs, ys = [0.0, *group["sparsity"]], [0.0, *group[shown].astype(float)]
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": xs,
                "y": ys,
                "name": str(name),
                "legendgroup": str(name),
                "line": {"color": color, "width": 2},
                "marker": {"size": 6},
                "hovertemplate": f"<b>{name}</b><br>sparsity %{{x:.0%}}<br>"
                f"{METRIC_TITLES[shown]} %{{y:.4f}}<extra></extra>",
            }
        )
        if chosen and name in chosen:
            at, value = chosen[str(name)]
            if shown != metric:
                value = float(np.interp(float(at), xs, ys))
            traces.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "x": [float(at)],
                    "y": [float(value)],
                    "name": f"{name} proposed",
                    "legendgroup": str(name),
                    "showlegend": False,
                    "marker": {"symbol": "diamond", "size": 14, "color": color,
                               "line": {"color": INK, "width": 1.5}},
                    "hovertemplate": f"<b>{name}</b> proposed<br>sparsity %{{x:.1%}}<br>"
                    f"predicted %{{y:.4f}}<extra></extra>",
                }
            )  # fmt: skip
    frame = layout(
        title,
        380,
        xaxis={"title": {"text": "sparsity of the layer alone"}, "tickformat": ".0%"},
        yaxis={"title": {"text": METRIC_TITLES[shown]}, "zeroline": True},
        hovermode="closest",
    )
    frame["margin"] = {"l": 10, "r": 10, "t": 76, "b": 10}
    return build(traces, frame)


def plan_chart(layers: pd.DataFrame, target: float | None = None) -> go.Figure:
    """Proposed sparsity per layer (top) over its share of params, MACs and latency (bottom).

    Args:
        layers: rows ``layer, sparsity, profiled, params_share, macs_share`` and optionally
            ``latency_share`` (measured; missing or empty when not measured).
        target: the average sparsity, drawn as a dashed line.
    """
    title = "Proposed sparsity per layer and where the cost is"
    if layers.empty:
        return empty(title, "no layers")
    names = list(layers["layer"])
    profiled = [bool(p) for p in layers["profiled"]]
    traces: list[Trace] = []
    for kept, label, color in ((False, "proposed sparsity", PALETTE[0]),
                               (True, "kept dense (not profiled)", BASELINE_COLOR)):  # fmt: skip
        rows = [(n, s) for n, s, p in zip(names, layers["sparsity"], profiled, strict=True)
                if p != kept]  # fmt: skip
        if not rows:
            continue
        traces.append(
            {
                "type": "bar",
                "x": [n for n, _ in rows],
                "y": [float(s) for _, s in rows],
                "name": label,
                "marker": {"color": color},
                "text": ["dense" if kept else f"{s:.0%}" for _, s in rows],
                "textposition": "outside",
                "cliponaxis": False,
                "hovertemplate": "<b>%{x}</b><br>sparsity %{y:.1%}<extra></extra>",
                "xaxis": "x",
                "yaxis": "y",
            }
        )
    shares = [("params_share", "share of weights", PALETTE[2]),
              ("macs_share", "share of MACs (theoretical)", PALETTE[1]),
              ("latency_share", "share of CPU latency (measured)", PALETTE[3])]  # fmt: skip
    for column, label, color in shares:
        if column not in layers or layers[column].isna().all():
            continue
        traces.append(
            {
                "type": "bar",
                "x": names,
                "y": list(layers[column].fillna(0.0)),
                "name": label,
                "marker": {"color": color},
                "hovertemplate": f"<b>%{{x}}</b><br>{label} %{{y:.1%}}<extra></extra>",
                "xaxis": "x2",
                "yaxis": "y2",
            }
        )
    frame = layout(
        title,
        560,
        barmode="group",
        xaxis={"anchor": "y", "showticklabels": False, "matches": "x2",
               "categoryorder": "array", "categoryarray": names},
        yaxis={"domain": [0.52, 1.0], "range": [0, 1.12], "tickformat": ".0%",
               "title": {"text": "sparsity"}},
        xaxis2={"anchor": "y2", "categoryorder": "array", "categoryarray": names},
        yaxis2={"domain": [0.0, 0.42], "tickformat": ".0%", "title": {"text": "share"}},
    )  # fmt: skip
    if target is not None:
        frame["shapes"].append(
            {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": target,
             "y1": target, "line": {"dash": "dash", "color": INK, "width": 1.5}}
        )  # fmt: skip
        frame["annotations"].append(
            {"text": f"average {target:.0%}", "xref": "paper", "x": 1.0, "xanchor": "right",
             "yref": "y", "y": target, "yanchor": "bottom", "showarrow": False,
             "font": {"size": 11, "color": INK}}
        )  # fmt: skip
    return build(traces, frame)


def prediction_chart(runs: pd.DataFrame) -> go.Figure:
    """Predicted vs actual validation accuracy right after pruning, one point per run.

    Runs of causal LMs carry perplexity instead (``predicted_val_perplexity_after_prune``,
    ``actual_val_perplexity_after_prune``): drawn when no run has accuracy points.
    """
    title = "Predicted vs actual validation accuracy right after pruning (before finetuning)"
    columns = ["predicted_val_after_prune", "actual_val_after_prune"]
    known = runs.dropna(subset=columns) if set(columns) <= set(runs) else runs.iloc[0:0]
    perplexity = ["predicted_val_perplexity_after_prune", "actual_val_perplexity_after_prune"]
    if known.empty and set(perplexity) <= set(runs):
        title = title.replace("accuracy", "perplexity")
        columns, known = perplexity, runs.dropna(subset=perplexity)
    if known.empty:
        return empty(title, "no finished editor run with a prediction yet")
    percent = columns[0] == "predicted_val_after_prune"
    low = float(min(known[columns[0]].min(), known[columns[1]].min()))
    high = 1.0 if percent else float(max(known[columns[0]].max(), known[columns[1]].max()))
    shown = ".1%" if percent else ".2f"
    traces: list[Trace] = [
        {"type": "scatter", "mode": "lines", "x": [low, high], "y": [low, high],
         "name": "prediction = actual", "line": {"dash": "dot", "color": BASELINE_COLOR}},
        {"type": "scatter", "mode": "markers+text", "x": list(known[columns[0]]),
         "y": list(known[columns[1]]), "text": [f"#{i}" for i in known["id"]],
         "textposition": "top center", "name": "editor runs",
         "marker": {"size": 11, "color": PALETTE[0]},
         "hovertemplate": f"%{{text}}<br>predicted %{{x:{shown}}}<br>actual %{{y:{shown}}}"
         "<extra></extra>"},
    ]  # fmt: skip
    tick = ".0%" if percent else ""
    frame = layout(
        title,
        360,
        xaxis={
            "title": {"text": "predicted (additive single-layer estimate)"},
            "tickformat": tick,
        },
        yaxis={"title": {"text": "actual"}, "tickformat": tick},
    )
    return build(traces, frame)
