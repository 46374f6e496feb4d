"""Criteria sweeps: accuracy against sparsity per criterion, mean ± std over seeds.

Pure ``DataFrame -> Figure`` builders; no Streamlit, no engine.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.metric import log_axis
from dashboard.charts.style import (
    Trace,
    build,
    color_for,
    empty,
    hline,
    layout,
    percent_ticks,
    rgba,
)


def aggregate_seeds(runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean, std and count of ``metric`` per criterion and target sparsity (over seeds)."""
    grouped = runs.dropna(subset=[metric]).groupby(["criterion", "target_sparsity"])[metric]
    table = grouped.agg(["mean", "std", "count"]).reset_index()
    table["std"] = table["std"].fillna(0.0)
    return table.sort_values(["criterion", "target_sparsity"]).reset_index(drop=True)


AFTER_PRUNING = "right after pruning (val)"


def accuracy_vs_sparsity_chart(
    runs: pd.DataFrame,
    metric: str = "test_accuracy",
    dense: float | None = None,
    after: str | None = None,
) -> go.Figure:
    """Accuracy against target sparsity, one line per criterion, mean ± std bands over seeds.

    Args:
        runs: one row per finished run with ``criterion, target_sparsity, seed`` and ``metric``.
        metric: the accuracy column to draw.
        dense: the unpruned model's accuracy, drawn as a reference line.
        after: a column with the metric right after pruning, before finetuning (drawn as a
            second, dotted line per criterion), or ``None``.
    """
    perplexity = metric.endswith("_perplexity")  # lower is better, a number not a share
    value = ".2f" if perplexity else ".2%"
    title = f"{metric.replace('_', ' ')} vs sparsity"
    table = aggregate_seeds(runs, metric) if not runs.empty else pd.DataFrame()
    if table.empty:
        return empty(title, f"no finished runs with {'perplexity' if perplexity else 'accuracy'}")
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
                "hovertemplate": f"sparsity %{{x:.0%}}<br>mean %{{y:{value}}} ± "
                f"%{{customdata[0]:{value}}}"
                "<br>%{customdata[1]} seed(s)<extra>" + label + "</extra>",
            }
        )
    extra = _after_traces(runs, after, names, value) if after and after in runs else []
    traces += extra
    shown = [*table["mean"], *(m for t in extra for m in t["y"])]
    frame = layout(
        title,
        420,
        xaxis={
            "tickformat": ".0%",
            "range": [-0.02, 1.0],
            "title": {"text": "target sparsity of pruned layers"},
        },
        yaxis=_perplexity_axis(metric, [*shown, dense])
        if perplexity
        else {
            "tickformat": percent_ticks(
                [*(table["mean"] - table["std"]), *(table["mean"] + table["std"]), *shown, dense]
            ),
            "title": {"text": metric.replace("_", " ")},
        },
    )
    if dense is not None:
        dense_text = f"dense {dense:.2f}" if perplexity else f"dense {dense:.1%}"
        hline(frame, dense, dense_text, dash="dot", above=False)
    return build(traces, frame)


def _perplexity_axis(metric: str, values: list[float | None]) -> dict[str, object]:
    """Plain numbers, lower is better; a log axis when they span more than 10x."""
    axis: dict[str, object] = {"title": {"text": f"{metric.replace('_', ' ')} (lower is better)"}}
    if log_axis(values):
        axis["type"] = "log"
    return axis


def _after_traces(
    runs: pd.DataFrame, after: str, names: list[str], value: str = ".2%"
) -> list[Trace]:
    """Dotted lines of the metric right after pruning (mean over seeds), one per criterion."""
    table = aggregate_seeds(runs, after)
    traces: list[Trace] = []
    for name in names:
        rows = table[table["criterion"] == name]
        if rows.empty:
            continue
        label = f"{'random (baseline)' if name == 'random' else name} · {AFTER_PRUNING}"
        traces.append(
            {
                "type": "scatter",
                "x": list(rows["target_sparsity"]),
                "y": list(rows["mean"]),
                "mode": "lines+markers",
                "name": label,
                "legendgroup": label,
                "marker": {"size": 7, "symbol": "triangle-down"},
                "line": {"color": color_for(name, names), "dash": "dot", "width": 1.5},
                "opacity": 0.8,
                "customdata": list(zip(rows["std"], rows["count"], strict=True)),
                "hovertemplate": "sparsity %{x:.0%}<br>right after pruning, before finetuning:"
                f" %{{y:{value}}} ± %{{customdata[0]:{value}}}<br>%{{customdata[1]}} seed(s)<extra>"
                + name
                + "</extra>",
            }
        )
    return traces
