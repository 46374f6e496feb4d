"""Plotly figure builders: pure functions ``DataFrame -> Figure``, no Streamlit, no engine.

Every builder accepts the plain rows the engine writes (``results.json`` layers and
curves, run summaries) as DataFrames; the pages only pick which rows to pass.
Theoretical and measured numbers are never drawn as one series.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

PALETTE = ["#2563eb", "#ea580c", "#16a34a", "#9333ea", "#db2777", "#0891b2", "#ca8a04", "#4b5563"]
BASELINE_COLOR = "#9ca3af"
SKIPPED_COLOR = "#d1d5db"
_LAYOUT = {
    "template": "plotly_white",
    "margin": {"l": 10, "r": 10, "t": 48, "b": 10},
    "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "left", "x": 0.0},
    "hoverlabel": {"align": "left"},
}


def color_for(name: str, names: list[str]) -> str:
    """A stable color per series name; the random baseline is always gray."""
    if name == "random":
        return BASELINE_COLOR
    ordered = [item for item in names if item != "random"]
    return PALETTE[ordered.index(name) % len(PALETTE)] if name in ordered else PALETTE[-1]


def _rgba(hex_color: str, alpha: float) -> str:
    red, green, blue = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def _empty(title: str, message: str) -> go.Figure:
    figure = go.Figure(layout={**_LAYOUT, "title": title, "height": 260})
    figure.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return figure


def layer_sparsity_chart(
    layers: pd.DataFrame, target: float | dict[str, float] | None = None, title: str = "Sparsity per layer"
) -> go.Figure:
    """Bars of each layer's sparsity in model order, one bar group per run.

    Args:
        layers: rows with ``name, params_original, nonzeros, sparsity, pruned, note`` and
            optionally ``run`` (a label; several runs are drawn side by side) and ``shape``.
        target: the global target sparsity (or one per run label), drawn as a dashed line.
        title: chart title.
    """
    if layers.empty:
        return _empty(title, "no layers")
    frame = layers.copy()
    if "run" not in frame:
        frame["run"] = "run"
    runs = list(dict.fromkeys(frame["run"]))
    order = list(dict.fromkeys(frame["name"]))
    figure = go.Figure(layout={**_LAYOUT, "title": title, "barmode": "group", "height": 380})
    for index, run in enumerate(runs):
        rows = frame[frame["run"] == run]
        color = PALETTE[index % len(PALETTE)]
        note = rows["note"].fillna("").replace("", "pruned")
        shape = rows["shape"].map(lambda s: "x".join(map(str, s)) if isinstance(s, list) else str(s)) \
            if "shape" in rows else pd.Series("", index=rows.index)
        custom = list(zip(rows["params_original"], rows["nonzeros"],
                          rows["params_original"] - rows["nonzeros"], shape, note, strict=True))
        figure.add_bar(
            x=rows["name"], y=rows["sparsity"], name=str(run), customdata=custom,
            marker={"color": [color if pruned else SKIPPED_COLOR for pruned in rows["pruned"]],
                    "line": {"color": color, "width": 1}},
            hovertemplate=(
                "<b>%{x}</b> (%{customdata[3]})<br>sparsity %{y:.1%}<br>dense params %{customdata[0]:,}"
                "<br>kept (nonzero) %{customdata[1]:,}<br>removed %{customdata[2]:,}"
                "<br>%{customdata[4]}<extra>" + str(run) + "</extra>"
            ),
            showlegend=len(runs) > 1,
        )
    targets = target if isinstance(target, dict) else ({runs[0]: target} if target is not None else {})
    for run, value in targets.items():
        if value is None:
            continue
        color = PALETTE[runs.index(run) % len(PALETTE)] if run in runs and len(runs) > 1 else "#111827"
        figure.add_hline(y=value, line={"dash": "dash", "color": color, "width": 1.5},
                         annotation_text=f"target {value:.0%}", annotation_position="top left")
    figure.update_xaxes(categoryorder="array", categoryarray=order, title="layer (model order)")
    figure.update_yaxes(range=[0, 1.05], tickformat=".0%", title="sparsity (share of zeros)")
    return figure


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
        return _empty(title, "no finished runs with accuracy")
    names = list(dict.fromkeys(table["criterion"]))
    figure = go.Figure(layout={**_LAYOUT, "title": title, "height": 420})
    for name in names:
        rows = table[table["criterion"] == name]
        color = color_for(name, names)
        label = "random (baseline)" if name == "random" else name
        if (rows["count"] > 1).any():
            upper, lower = rows["mean"] + rows["std"], rows["mean"] - rows["std"]
            figure.add_scatter(
                x=list(rows["target_sparsity"]) + list(rows["target_sparsity"])[::-1],
                y=list(upper) + list(lower)[::-1], fill="toself", fillcolor=_rgba(color, 0.18),
                line={"width": 0}, hoverinfo="skip", legendgroup=label, showlegend=False,
                name=f"{label} ± std",
            )
        figure.add_scatter(
            x=rows["target_sparsity"], y=rows["mean"], mode="lines+markers", name=label,
            legendgroup=label, line={"color": color, "dash": "dash" if name == "random" else "solid"},
            customdata=list(zip(rows["std"], rows["count"], strict=True)),
            hovertemplate="sparsity %{x:.0%}<br>mean %{y:.2%} ± %{customdata[0]:.2%}"
                          "<br>%{customdata[1]} seed(s)<extra>" + label + "</extra>",
        )
    if dense is not None:
        figure.add_hline(y=dense, line={"dash": "dot", "color": "#111827"},
                         annotation_text=f"dense {dense:.1%}", annotation_position="bottom left")
    figure.update_xaxes(tickformat=".0%", title="target sparsity of pruned layers")
    figure.update_yaxes(tickformat=".0%", title=metric.replace("_", " "))
    return figure


def curves_chart(curves: pd.DataFrame, title: str = "Accuracy while pruning and finetuning") -> go.Figure:
    """Validation accuracy (top) and sparsity (bottom) per optimizer step, one line per run.

    Args:
        curves: rows with ``kind`` (dense|prune|finetune), ``step``, ``sparsity``,
            ``val_accuracy`` and optionally ``run``, ``round``, ``epoch``.
        title: chart title.
    """
    frame = curves.dropna(subset=["val_accuracy"]) if "val_accuracy" in curves else curves.iloc[0:0]
    if frame.empty:
        return _empty(title, "no accuracy recorded (untrained model or no data)")
    frame = frame.copy()
    if "run" not in frame:
        frame["run"] = "run"
    for column in ("round", "epoch"):
        frame[column] = frame[column] if column in frame else None
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32], vertical_spacing=0.06)
    figure.update_layout(**_LAYOUT, title=title, height=440)
    symbols = {"dense": "circle-open", "prune": "triangle-down", "finetune": "circle"}
    for index, run in enumerate(dict.fromkeys(frame["run"])):
        rows = frame[frame["run"] == run]
        color = PALETTE[index % len(PALETTE)]
        custom = list(zip(rows["kind"], rows["round"].fillna("-"), rows["epoch"].fillna("-"),
                          rows["sparsity"], strict=True))
        hover = ("step %{x}<br>%{customdata[0]} (round %{customdata[1]}, epoch %{customdata[2]})"
                 "<br>val accuracy %{y:.2%}<br>sparsity %{customdata[3]:.1%}<extra>" + str(run) + "</extra>")
        figure.add_scatter(
            x=rows["step"], y=rows["val_accuracy"], mode="lines+markers", name=str(run), legendgroup=str(run),
            line={"color": color}, marker={"symbol": [symbols.get(k, "circle") for k in rows["kind"]], "size": 9},
            customdata=custom, hovertemplate=hover, row=1, col=1,
        )
        figure.add_scatter(
            x=rows["step"], y=rows["sparsity"], mode="lines", line={"color": color, "dash": "dot", "shape": "hv"},
            name=f"{run} sparsity", legendgroup=str(run), showlegend=False,
            hovertemplate="step %{x}<br>sparsity %{y:.1%}<extra>" + str(run) + "</extra>", row=2, col=1,
        )
    figure.update_yaxes(tickformat=".0%", title="val accuracy", row=1, col=1)
    figure.update_yaxes(tickformat=".0%", title="sparsity", range=[0, 1.02], row=2, col=1)
    figure.update_xaxes(title="optimizer step (▽ prune step, ● end of finetune epoch)", row=2, col=1)
    figure.update_layout(showlegend=frame["run"].nunique() > 1)
    return figure


def size_by_precision_chart(sizes: pd.DataFrame) -> go.Figure:
    """Model size per run, one bar per storage format and precision.

    Args:
        sizes: rows with ``run, format, precision, size_bytes`` and ``kind`` (how the
            number was obtained, shown on hover).
    """
    title = "Model size by format and precision"
    if sizes.empty:
        return _empty(title, "no finished runs")
    figure = go.Figure(layout={**_LAYOUT, "title": title, "barmode": "group", "height": 380})
    series = list(dict.fromkeys(zip(sizes["format"], sizes["precision"], strict=True)))
    for index, (fmt, precision) in enumerate(series):
        rows = sizes[(sizes["format"] == fmt) & (sizes["precision"] == precision)]
        figure.add_bar(
            x=rows["run"], y=rows["size_bytes"] / 1024, name=f"{fmt} {precision}",
            marker_color=PALETTE[index % len(PALETTE)], customdata=rows["kind"],
            hovertemplate="%{x}<br>%{y:,.1f} KiB<br>%{customdata}<extra>" + f"{fmt} {precision}</extra>",
        )
    figure.update_yaxes(title="size (KiB)")
    figure.update_xaxes(title="run", type="category")
    return figure


def speedup_chart(theoretical: pd.DataFrame, measured: pd.DataFrame | None = None) -> go.Figure:
    """Theoretical (MACs ratio) and measured speedups as separate, labelled series.

    Args:
        theoretical: rows with ``run`` and ``theoretical_speedup``.
        measured: rows with ``run``, ``speedup``, ``device`` and ``date`` (may be empty).
    """
    title = "Speedup over the dense model"
    if theoretical.empty and (measured is None or measured.empty):
        return _empty(title, "no finished runs")
    figure = go.Figure(layout={**_LAYOUT, "title": title, "barmode": "group", "height": 380})
    figure.add_bar(
        x=theoretical["run"], y=theoretical["theoretical_speedup"], name="theoretical (dense / effective MACs)",
        marker={"color": _rgba(PALETTE[0], 0.35), "line": {"color": PALETTE[0], "width": 1.5}},
        hovertemplate="%{x}<br>theoretical %{y:.2f}x (MACs ratio, not timed)<extra></extra>",
    )
    if measured is not None and not measured.empty:
        custom = list(zip(measured["device"], measured["date"], strict=True))
        figure.add_bar(
            x=measured["run"], y=measured["speedup"], name="measured (timed)", marker_color=PALETTE[1],
            customdata=custom, hovertemplate="%{x}<br>measured %{y:.2f}x<br>on %{customdata[0]}"
                                             "<br>%{customdata[1]}<extra></extra>",
        )
    figure.add_hline(y=1.0, line={"dash": "dot", "color": "#111827"}, annotation_text="dense = 1x")
    figure.update_yaxes(title="speedup (x)", rangemode="tozero")
    figure.update_xaxes(title="run", type="category")
    return figure


def pareto_front(points: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Rows not dominated by another (smaller-or-equal ``x`` and larger-or-equal ``y``), by ``x``."""
    ordered = points.dropna(subset=[x, y]).sort_values([x, y], ascending=[True, False])
    best, keep = float("-inf"), []
    for index, value in zip(ordered.index, ordered[y], strict=True):
        if value > best:
            keep.append(index)
            best = value
    return ordered.loc[keep]


def pareto_chart(runs: pd.DataFrame, x: str = "size_bytes", y: str = "test_accuracy",
                 x_title: str = "model size (KiB, dense storage)") -> go.Figure:
    """Accuracy against size (or latency) per run, colored by criterion, with the Pareto front.

    Args:
        runs: one row per run with ``run, criterion``, ``x`` and ``y``.
        x: cost column (smaller is better); ``*_bytes`` columns are shown in KiB.
        y: accuracy column (larger is better).
        x_title: axis title.
    """
    title = f"Pareto view: {y.replace('_', ' ')} vs {x_title.split(' (')[0]}"
    points = runs.dropna(subset=[x, y]) if not runs.empty else runs
    if points.empty:
        return _empty(title, "no finished runs with accuracy")
    scale = 1024 if x.endswith("_bytes") else 1
    names = list(dict.fromkeys(points["criterion"]))
    figure = go.Figure(layout={**_LAYOUT, "title": title, "height": 420})
    for name in names:
        rows = points[points["criterion"] == name]
        figure.add_scatter(
            x=rows[x] / scale, y=rows[y], mode="markers", name=name, text=rows["run"],
            marker={"color": color_for(name, names), "size": 10, "opacity": 0.85},
            hovertemplate="%{text}<br>%{x:,.1f}<br>%{y:.2%}<extra>" + name + "</extra>",
        )
    front = pareto_front(points, x, y)
    figure.add_scatter(x=front[x] / scale, y=front[y], mode="lines", name="Pareto front",
                       line={"color": "#111827", "dash": "dash", "shape": "hv"}, hoverinfo="skip")
    figure.update_xaxes(title=x_title)
    figure.update_yaxes(tickformat=".0%", title=y.replace("_", " "))
    return figure
