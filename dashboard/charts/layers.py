"""Per-layer sparsity of one run or several overlaid, with what removed each layer's weights.

In a channel run a layer also loses weights it did not choose: the inputs that fed on
the previous layer's removed output channels. Those are drawn stacked on the layer's own
share ("inputs removed upstream"), so a layer never seems to exceed its target by itself,
and a layer kept dense that lost inputs is labelled as such, not as "dense".
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.style import INK, PALETTE, Trace, build, empty, hline, layout, rgba

KEPT_DENSE = "dense"
KEPT_CUT = "kept; inputs cut"
OWN = "own channels removed"
UPSTREAM = "inputs removed upstream"


def shape_text(shape: object) -> str:
    """``[64, 32, 3, 3]`` -> ``64x32x3x3`` (the CLI's ``layers.csv`` writes shapes so)."""
    if isinstance(shape, list | tuple) and shape and isinstance(shape[0], list | tuple):
        return " + ".join(shape_text(part) for part in shape)  # low-rank factors
    return "x".join(map(str, shape)) if isinstance(shape, list | tuple) else str(shape)


def _upstream_share(original: object, now: object, sparsity: float) -> float:
    """Share of the layer's original weights removed because upstream outputs went away."""
    if not (isinstance(original, list) and isinstance(now, list)) or len(original) != len(now):
        return 0.0
    if len(now) < 2 or any(isinstance(side, list) for side in now):  # factorized: no channels
        return 0.0
    out_now, out_was, in_now, in_was = now[0], original[0], now[1], original[1]
    if not in_was or in_now >= in_was:
        return 0.0
    return float(min(sparsity, (1 - in_now / in_was) * (out_now / out_was)))


def removal_parts(layers: pd.DataFrame) -> pd.DataFrame:
    """``own`` and ``upstream`` shares of each layer's sparsity, and its bar ``label``."""
    if {"shape", "shape_original"} <= set(layers.columns):
        upstream = [
            _upstream_share(was, now, float(sparsity))
            for was, now, sparsity in zip(
                layers["shape_original"], layers["shape"], layers["sparsity"], strict=True
            )
        ]
    else:
        upstream = [0.0] * len(layers)
    parts = layers.assign(upstream=upstream)
    parts["own"] = (parts["sparsity"] - parts["upstream"]).clip(lower=0.0)
    parts["label"] = [
        "" if pruned else KEPT_CUT if cut > 0 else KEPT_DENSE
        for pruned, cut in zip(parts["pruned"], parts["upstream"], strict=True)
    ]
    return parts


def _hover(rows: pd.DataFrame, run: str) -> tuple[list[tuple[object, ...]], str]:
    shapes = rows["shape"].map(shape_text) if "shape" in rows else [""] * len(rows)
    notes = rows["note"].fillna("").replace("", "pruned")
    data = list(
        zip(
            rows["params_original"],
            rows["nonzeros"],
            rows["params_original"] - rows["nonzeros"],
            shapes,
            notes,
            rows["own"],
            rows["upstream"],
            strict=True,
        )
    )
    template = (
        "<b>%{x}</b> (%{customdata[3]})<br>sparsity %{customdata[5]:.1%} own"
        " + %{customdata[6]:.1%} inputs removed upstream"
        "<br>dense params %{customdata[0]:,}<br>kept (nonzero) %{customdata[1]:,}"
        "<br>removed %{customdata[2]:,}<br>%{customdata[4]}<extra>" + run + "</extra>"
    )
    return data, template


def layer_sparsity_chart(
    layers: pd.DataFrame,
    target: float | dict[str, float] | None = None,
    title: str = "Sparsity per layer",
) -> go.Figure:
    """Bars of each layer's sparsity in model order, one bar group per run.

    Args:
        layers: rows with ``name, params_original, nonzeros, sparsity, pruned, note`` and
            optionally ``run`` (a label; several runs are drawn side by side), ``shape``
            and ``shape_original`` (channel runs: upstream removals drawn stacked).
        target: the global target sparsity (or one per run label), drawn as a dashed line.
        title: chart title.
    """
    if layers.empty:
        return empty(title, "no layers")
    frame = removal_parts(layers if "run" in layers else layers.assign(run="run"))
    runs = list(dict.fromkeys(frame["run"]))
    stacked = bool((frame["upstream"] > 0).any())
    names = list(dict.fromkeys(frame["name"]))
    # a layer dense in every overlaid run gets one label, not one per run on top of each other
    everywhere = {
        name
        for name in names
        if len(runs) > 1 and (frame.loc[frame["name"] == name, "label"] == KEPT_DENSE).all()
    }
    traces: list[Trace] = []
    for index, run in enumerate(runs):
        rows = frame[frame["run"] == run]
        color = PALETTE[index % len(PALETTE)]
        customdata, template = _hover(rows, str(run))
        labels = [
            "" if name in everywhere else text
            for name, text in zip(rows["name"], rows["label"], strict=True)
        ]
        own: Trace = {
            "type": "bar",
            "x": list(rows["name"]),
            "y": list(rows["own"] if stacked else rows["sparsity"]),
            "name": f"{run} · {OWN}" if stacked and len(runs) > 1 else OWN if stacked else str(run),
            "offsetgroup": str(index),
            "customdata": customdata,
            "marker": {"color": color},
            "cliponaxis": False,
            "hovertemplate": template,
            "text": [] if stacked else labels,
            "textposition": "outside",
            "textangle": -90 if len(runs) > 2 else 0,
            "textfont": {"color": "#6b7280", "size": 11},
        }
        traces.append(own)
        if stacked:
            traces.append(
                {
                    **own,
                    "y": list(rows["upstream"]),
                    "base": list(rows["own"]),
                    "name": f"{run} · {UPSTREAM}" if len(runs) > 1 else UPSTREAM,
                    "marker": {
                        "color": rgba(color, 0.35),
                        "line": {"color": color, "width": 1},
                        "pattern": {"shape": "/", "fgcolor": color, "size": 6},
                    },
                    "text": labels,
                }
            )
    frame_layout = layout(
        title,
        380,
        barmode="group",
        showlegend=len(runs) > 1 or stacked,
        xaxis={
            "categoryorder": "array",
            "categoryarray": names,
            "title": {"text": "layer (model order)"},
        },
        yaxis={
            "range": [0, 1.05],
            "tickformat": ".0%",
            "title": {"text": "sparsity (share of original weights removed)"},
        },
    )
    for name in names:
        if name in everywhere:
            frame_layout["annotations"].append(
                {
                    "x": name,
                    "y": 0,
                    "text": KEPT_DENSE,
                    "showarrow": False,
                    "yanchor": "bottom",
                    "font": {"color": "#6b7280", "size": 11},
                }  # fmt: skip
            )
    targets = target if isinstance(target, dict) else {runs[0]: target}
    targets = {run: value for run, value in targets.items() if value is not None}
    if len(set(targets.values())) == 1:  # one shared target: one black line
        targets = {"": next(iter(targets.values()))}
    for run, value in targets.items():
        color = PALETTE[runs.index(run) % len(PALETTE)] if run in runs and len(runs) > 1 else INK
        hline(frame_layout, value, f"target {value:.0%}", color)
    return build(traces, frame_layout)
