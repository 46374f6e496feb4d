"""Plotly figure builders: pure functions ``DataFrame -> Figure``, no Streamlit, no engine.

Every builder takes the plain rows the engine writes (``results.json`` layers and
curves, run summaries) as DataFrames; the pages only choose which rows to pass.
Theoretical and measured numbers are never drawn as one series. Cost views (size,
speedup, Pareto) live in :mod:`dashboard.cost_charts` and are re-exported here.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.chart_style import (
    INK,
    PALETTE,
    Trace,
    build,
    color_for,
    empty,
    hline,
    layout,
    percent_ticks,
    rgba,
)
from dashboard.cost_charts import (
    measured_speedup_chart,
    pareto_chart,
    pareto_front,
    size_by_precision_chart,
    speedup_chart,
)

SYMBOLS = {"dense": "circle-open", "prune": "triangle-down", "finetune": "circle"}


def _count_text(value: object) -> str:
    """Round/epoch numbers for hover text: ``1.0`` -> ``1``, missing -> ``-``."""
    return "-" if value is None or pd.isna(value) else str(int(value))  # type: ignore[call-overload]


def _shape_text(shape: object) -> str:
    return "x".join(map(str, shape)) if isinstance(shape, list) else str(shape)


def layer_sparsity_chart(
    layers: pd.DataFrame,
    target: float | dict[str, float] | None = None,
    title: str = "Sparsity per layer",
) -> go.Figure:
    """Bars of each layer's sparsity in model order, one bar group per run.

    Args:
        layers: rows with ``name, params_original, nonzeros, sparsity, pruned, note`` and
            optionally ``run`` (a label; several runs are drawn side by side) and ``shape``.
        target: the global target sparsity (or one per run label), drawn as a dashed line.
        title: chart title.
    """
    if layers.empty:
        return empty(title, "no layers")
    frame = layers if "run" in layers else layers.assign(run="run")
    runs = list(dict.fromkeys(frame["run"]))
    traces: list[Trace] = []
    for index, run in enumerate(runs):
        rows = frame[frame["run"] == run]
        shapes = rows["shape"].map(_shape_text) if "shape" in rows else [""] * len(rows)
        notes = rows["note"].fillna("").replace("", "pruned")
        traces.append(
            {
                "type": "bar",
                "x": list(rows["name"]),
                "y": list(rows["sparsity"]),
                "name": str(run),
                "customdata": list(
                    zip(
                        rows["params_original"],
                        rows["nonzeros"],
                        rows["params_original"] - rows["nonzeros"],
                        shapes,
                        notes,
                        strict=True,
                    )
                ),
                "marker": {"color": PALETTE[index % len(PALETTE)]},
                "cliponaxis": False,
                "text": ["" if pruned else "dense" for pruned in rows["pruned"]],
                "textposition": "outside",
                "textfont": {"color": "#6b7280", "size": 11},
                "hovertemplate": "<b>%{x}</b> (%{customdata[3]})<br>sparsity %{y:.1%}"
                "<br>dense params %{customdata[0]:,}<br>kept (nonzero) %{customdata[1]:,}"
                "<br>removed %{customdata[2]:,}<br>%{customdata[4]}<extra>" + str(run) + "</extra>",
            }
        )
    frame_layout = layout(
        title,
        380,
        barmode="group",
        showlegend=len(runs) > 1,
        xaxis={
            "categoryorder": "array",
            "categoryarray": list(dict.fromkeys(frame["name"])),
            "title": {"text": "layer (model order)"},
        },
        yaxis={
            "range": [0, 1.05],
            "tickformat": ".0%",
            "title": {"text": "sparsity (share of zeros)"},
        },
    )
    targets = target if isinstance(target, dict) else {runs[0]: target}
    targets = {run: value for run, value in targets.items() if value is not None}
    if len(set(targets.values())) == 1:  # one shared target: one black line
        targets = {"": next(iter(targets.values()))}
    for run, value in targets.items():
        color = PALETTE[runs.index(run) % len(PALETTE)] if run in runs and len(runs) > 1 else INK
        hline(frame_layout, value, f"target {value:.0%}", color)
    return build(traces, frame_layout)


def aggregate_seeds(runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean, std and count of ``metric`` per criterion and target sparsity (over seeds)."""
    grouped = runs.dropna(subset=[metric]).groupby(["criterion", "target_sparsity"])[metric]
    table = grouped.agg(["mean", "std", "count"]).reset_index()
    table["std"] = table["std"].fillna(0.0)
    return table.sort_values(["criterion", "target_sparsity"]).reset_index(drop=True)


def accuracy_vs_sparsity_chart(
    runs: pd.DataFrame, metric: str = "test_accuracy", dense: float | None = None
) -> go.Figure:
    """Accuracy against target sparsity, one line per criterion, mean ± std bands over seeds.

    Args:
        runs: one row per finished run with ``criterion, target_sparsity, seed`` and ``metric``.
        metric: the accuracy column to draw.
        dense: the unpruned model's accuracy, drawn as a reference line.
    """
    title = f"{metric.replace('_', ' ')} vs sparsity"
    table = aggregate_seeds(runs, metric) if not runs.empty else pd.DataFrame()
    if table.empty:
        return empty(title, "no finished runs with accuracy")
    names = list(dict.fromkeys(table["criterion"]))
    traces: list[Trace] = []
    for name in names:
        rows, color = table[table["criterion"] == name], color_for(name, names)
        label = "random (baseline)" if name == "random" else name
        sparsity, mean, std = list(rows["target_sparsity"]), rows["mean"], rows["std"]
        if (rows["count"] > 1).any():
            traces.append(
                {
                    "type": "scatter",
                    "x": sparsity + sparsity[::-1],
                    "y": list(mean + std) + list(mean - std)[::-1],
                    "mode": "lines",
                    "fill": "toself",
                    "fillcolor": rgba(color, 0.18),
                    "line": {"width": 0},
                    "hoverinfo": "skip",
                    "legendgroup": label,
                    "showlegend": False,
                    "name": f"{label} ± std",
                }
            )
        traces.append(
            {
                "type": "scatter",
                "x": sparsity,
                "y": list(mean),
                "mode": "lines+markers",
                "name": label,
                "legendgroup": label,
                "marker": {"size": 9},
                "line": {"color": color, "dash": "dash" if name == "random" else "solid"},
                "customdata": list(zip(std, rows["count"], strict=True)),
                "hovertemplate": "sparsity %{x:.0%}<br>mean %{y:.2%} ± %{customdata[0]:.2%}"
                "<br>%{customdata[1]} seed(s)<extra>" + label + "</extra>",
            }
        )
    frame = layout(
        title,
        420,
        xaxis={
            "tickformat": ".0%",
            "range": [-0.02, 1.0],
            "title": {"text": "target sparsity of pruned layers"},
        },
        yaxis={
            "tickformat": percent_ticks(
                [*(table["mean"] - table["std"]), *(table["mean"] + table["std"]), dense]
            ),
            "title": {"text": metric.replace("_", " ")},
        },
    )
    if dense is not None:
        hline(frame, dense, f"dense {dense:.1%}", dash="dot", above=False)
    return build(traces, frame)


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


__all__ = [
    "accuracy_vs_sparsity_chart",
    "aggregate_seeds",
    "curves_chart",
    "layer_sparsity_chart",
    "measured_speedup_chart",
    "pareto_chart",
    "pareto_front",
    "size_by_precision_chart",
    "speedup_chart",
]
