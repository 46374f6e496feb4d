"""Shared look of the dashboard's charts: palette, layout and small drawing helpers.

Builders assemble plain trace and layout dicts and create the figure once at the end:
validated in one pass, that is several times faster than ``add_trace`` calls. Figures
carry no plotly template, since Streamlit themes them in the browser (and building a
template costs more than a small chart).
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

PALETTE = ["#2563eb", "#ea580c", "#16a34a", "#9333ea", "#db2777", "#0891b2", "#ca8a04", "#4b5563"]
BASELINE_COLOR = "#9ca3af"
INK = "#111827"
Trace = dict[str, Any]


def layout(title: str, height: int, **extra: Any) -> dict[str, Any]:
    """The dashboard's layout with a title, a height and any extra layout fields."""
    return {
        "template": None,
        "title": {"text": title},
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 48, "b": 10},
        "hoverlabel": {"align": "left"},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "left", "x": 0.0},
        "shapes": [],
        "annotations": [],
        **extra,
    }


def legend_for(names: list[str]) -> dict[str, Any]:
    """A one-line legend above the plot when it fits, else a column on the right.

    A horizontal legend that wraps grows upwards over the title; a column never does.
    """
    if len(names) <= 4 and sum(len(str(name)) + 6 for name in names) <= 80:
        return {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "left", "x": 0.0}
    return {"orientation": "v", "yanchor": "top", "y": 1.0, "xanchor": "left", "x": 1.01}


def build(traces: list[Trace], frame: dict[str, Any]) -> go.Figure:
    """The figure, validated once; the legend goes where its entries fit."""
    names = [trace.get("name", "") for trace in traces if trace.get("showlegend", True)]
    return go.Figure(data=traces, layout={**frame, "legend": legend_for(names)})


def empty(title: str, message: str) -> go.Figure:
    """A figure that says why there is nothing to draw."""
    frame = layout(title, 260, xaxis={"visible": False}, yaxis={"visible": False})
    frame["annotations"] = [
        {"text": message, "showarrow": False, "x": 0.5, "y": 0.5, "xref": "paper", "yref": "paper"}
    ]
    return build([], frame)


def hline(
    frame: dict[str, Any],
    y: float,
    text: str,
    color: str = INK,
    dash: str = "dash",
    above: bool = True,
) -> None:
    """Add a labelled horizontal reference line across the plot to ``frame`` (a layout)."""
    frame["shapes"].append(
        {
            "type": "line",
            "xref": "paper",
            "x0": 0,
            "x1": 1,
            "y0": y,
            "y1": y,
            "line": {"dash": dash, "color": color, "width": 1.5},
        }
    )
    frame["annotations"].append(
        {
            "text": text,
            "xref": "paper",
            "x": 0,
            "y": y,
            "showarrow": False,
            "xanchor": "left",
            "yanchor": "bottom" if above else "top",
            "font": {"size": 11, "color": color},
        }
    )


def percent_ticks(values: Any) -> str:
    """A percent tick format with just enough decimals for the values' spread."""
    finite = [float(v) for v in values if v is not None and v == v]
    spread = max(finite) - min(finite) if finite else 1.0
    return ".0%" if spread >= 0.2 else ".1%" if spread >= 0.02 else ".2%"


def color_for(name: str, names: list[str]) -> str:
    """A stable color per series name; the random baseline is always gray."""
    if name == "random":
        return BASELINE_COLOR
    ordered = [item for item in names if item != "random"]
    return PALETTE[ordered.index(name) % len(PALETTE)] if name in ordered else PALETTE[-1]


def rgba(hex_color: str, alpha: float) -> str:
    """``#rrggbb`` with transparency."""
    red, green, blue = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"
