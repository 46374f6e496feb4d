"""Figures of the Sensitivity page: pure functions ``DataFrame -> Figure`` (no Streamlit).

* :func:`curves_chart`: each layer's sensitivity curve, the proposed point marked.
* :func:`plan_chart`: proposed sparsity per layer over the performance profile
  (shares of parameters, MACs and measured latency).
* :func:`prediction_chart`: predicted against actual accuracy of editor runs.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.style import BASELINE_COLOR, INK, PALETTE, Trace, build, empty, layout

METRIC_TITLES = {
    "loss_delta": "validation loss increase",
    "accuracy_delta": "validation accuracy change",
}


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
        metric: ``loss_delta`` or ``accuracy_delta``.
        approximate: the values are an estimate (Fisher), said in the title.
    """
    title = f"Sensitivity: {METRIC_TITLES[metric]} with one layer pruned, no finetuning"
    if approximate:
        title = "Sensitivity (approximation): estimated loss increase, one layer pruned"
    if rows.empty or rows[metric].isna().all():
        return empty(title, "no values for this metric in the profile")
    traces: list[Trace] = []
    for index, (name, group) in enumerate(rows.groupby("layer", sort=False)):
        color = PALETTE[index % len(PALETTE)]
        group = group.sort_values("sparsity")
        xs, ys = [0.0, *group["sparsity"]], [0.0, *group[metric].astype(float)]
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
                f"{METRIC_TITLES[metric]} %{{y:.4f}}<extra></extra>",
            }
        )
        if chosen and name in chosen:
            at, value = chosen[str(name)]
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
        yaxis={"title": {"text": METRIC_TITLES[metric]}, "zeroline": True},
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
    """Predicted vs actual validation accuracy right after pruning, one point per run."""
    title = "Predicted vs actual validation accuracy right after pruning (before finetuning)"
    known = runs.dropna(subset=["predicted_val_after_prune", "actual_val_after_prune"])
    if known.empty:
        return empty(title, "no finished editor run with a prediction yet")
    low = float(
        min(known["predicted_val_after_prune"].min(), known["actual_val_after_prune"].min())
    )
    traces: list[Trace] = [
        {"type": "scatter", "mode": "lines", "x": [low, 1.0], "y": [low, 1.0],
         "name": "prediction = actual", "line": {"dash": "dot", "color": BASELINE_COLOR}},
        {"type": "scatter", "mode": "markers+text", "x": list(known["predicted_val_after_prune"]),
         "y": list(known["actual_val_after_prune"]), "text": [f"#{i}" for i in known["id"]],
         "textposition": "top center", "name": "editor runs",
         "marker": {"size": 11, "color": PALETTE[0]},
         "hovertemplate": "%{text}<br>predicted %{x:.1%}<br>actual %{y:.1%}<extra></extra>"},
    ]  # fmt: skip
    frame = layout(
        title,
        360,
        xaxis={
            "title": {"text": "predicted (additive single-layer estimate)"},
            "tickformat": ".0%",
        },
        yaxis={"title": {"text": "actual"}, "tickformat": ".0%"},
    )
    return build(traces, frame)
