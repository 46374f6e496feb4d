"""Per-layer reconstruction error of a run: a pure ``DataFrame -> Figure`` builder."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.chart_style import PALETTE, build, empty, layout

TITLE = "Layer reconstruction error (after pruning, before finetuning)"


def reconstruction_error_chart(layers: pd.DataFrame, title: str = TITLE) -> go.Figure:
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
