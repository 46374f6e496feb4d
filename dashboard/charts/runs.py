"""Figures of one run or several overlaid: accuracy curves and reconstruction errors.

Pure ``DataFrame -> Figure`` builders over the rows the engine writes (``results.json``
layers and curves); the pages only choose which rows to pass.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.style import PALETTE, Trace, build, empty, layout, percent_ticks

SYMBOLS = {"dense": "circle-open", "prune": "triangle-down", "finetune": "circle"}


def _count_text(value: object) -> str:
    """Round/epoch numbers for hover text: ``1.0`` -> ``1``, missing -> ``-``."""
    return "-" if value is None or pd.isna(value) else str(int(value))  # type: ignore[call-overload]


def curves_chart(
    curves: pd.DataFrame, title: str = "Accuracy while pruning and finetuning"
) -> go.Figure:
    """Validation accuracy (top) and sparsity (bottom) per optimizer step, one line per run.

    Args:
        curves: rows with ``kind`` (dense|prune|finetune), ``step``, ``sparsity``,
            ``val_accuracy`` and optionally ``run``, ``round``, ``epoch``.
        title: chart title.
    """
    frame = curves.dropna(subset=["val_accuracy"]) if "val_accuracy" in curves else curves.iloc[0:0]
    if frame.empty:
        return empty(title, "no accuracy recorded (untrained model or no data)")
    frame = frame.assign(
        run=frame.get("run", "run"), round=frame.get("round"), epoch=frame.get("epoch")
    )
    runs = list(dict.fromkeys(frame["run"]))
    traces: list[Trace] = []
    for index, run in enumerate(runs):
        rows, color, group = frame[frame["run"] == run], PALETTE[index % len(PALETTE)], str(run)
        steps = list(rows["step"])
        traces.append(
            {
                "type": "scatter",
                "x": steps,
                "y": list(rows["val_accuracy"]),
                "mode": "lines+markers",
                "name": group,
                "legendgroup": group,
                "line": {"color": color},
                "marker": {
                    "symbol": [SYMBOLS.get(kind, "circle") for kind in rows["kind"]],
                    "size": 9,
                },
                "customdata": list(
                    zip(
                        rows["kind"],
                        rows["round"].map(_count_text),
                        rows["epoch"].map(_count_text),
                        rows["sparsity"],
                        strict=True,
                    )
                ),
                "hovertemplate": "step %{x}<br>%{customdata[0]} (round %{customdata[1]}, epoch "
                "%{customdata[2]})<br>val accuracy %{y:.2%}<br>sparsity %{customdata[3]:.1%}<extra>"
                + group
                + "</extra>",
            }
        )
        traces.append(
            {
                "type": "scatter",
                "x": steps,
                "y": list(rows["sparsity"]),
                "yaxis": "y2",
                "mode": "lines",
                "name": f"{group} sparsity",
                "legendgroup": group,
                "showlegend": False,
                "line": {"color": color, "dash": "dot", "shape": "hv"},
                "hovertemplate": "step %{x}<br>sparsity %{y:.1%}<extra>" + group + "</extra>",
            }
        )
    return build(
        traces,
        layout(
            title,
            440,
            showlegend=len(runs) > 1,
            xaxis={
                "anchor": "y2",
                "title": {"text": "optimizer step (▽ prune step, ● end of finetune epoch)"},
            },
            yaxis={
                "domain": [0.38, 1.0],
                "tickformat": percent_ticks(frame["val_accuracy"]),
                "title": {"text": "val accuracy"},
            },
            yaxis2={
                "domain": [0.0, 0.3],
                "tickformat": ".0%",
                "range": [0, 1.02],
                "title": {"text": "sparsity"},
            },
        ),
    )


ERROR_TITLE = "Layer reconstruction error (after pruning, before finetuning)"


def reconstruction_error_chart(layers: pd.DataFrame, title: str = ERROR_TITLE) -> go.Figure:
    """Bars of ``||XW^T - XW'^T||^2 / ||XW^T||^2`` per pruned layer, in model order.

    Args:
        layers: rows with ``name`` and ``reconstruction_error`` (missing or null for layers
            that were not pruned, models without data, and channel runs).
        title: chart title.
    """
    if "reconstruction_error" not in layers or layers["reconstruction_error"].isna().all():
        return empty(title, "no reconstruction error for this run (no data, or channels removed)")
    rows = layers.dropna(subset=["reconstruction_error"])
    trace = {
        "type": "bar",
        "x": rows["name"].tolist(),
        "y": rows["reconstruction_error"].tolist(),
        "marker": {"color": PALETTE[0]},
        "name": "reconstruction error",
        "hovertemplate": "%{x}<br>relative error %{y:.4f}<extra></extra>",
    }
    frame = layout(
        title,
        380,
        xaxis={"title": {"text": "layer (model order)"}, "type": "category"},
        yaxis={"title": {"text": "relative output error"}, "rangemode": "tozero"},
    )
    return build([trace], frame)
