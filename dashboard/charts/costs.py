"""What pruning buys: size by precision, theoretical vs measured speedup, Pareto views.

Pure ``DataFrame -> Figure`` builders; theoretical and measured numbers are never drawn
as one series.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.metric import PERPLEXITY, frame_metric, log_axis, metric_of
from dashboard.charts.style import (
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

NOT_APPLICABLE = "n/a: this format holds none of the run's pruned layers"


def size_by_precision_chart(sizes: pd.DataFrame, empty_message: str = "no runs") -> go.Figure:
    """Model size by storage format (or by precision when every row is dense), one color per run.

    A format that does not apply to a run (``applies`` false: it holds none of the run's
    pruned layers, e.g. 2:4 on an unstructured run) is written "n/a" and never drawn at
    the dense size.

    Args:
        sizes: rows with ``run, format, precision, size_bytes``, ``kind`` (how the number
            was obtained, shown on hover) and optionally ``applies``.
        empty_message: what the empty chart says.
    """
    title = "Model size by format and precision"
    if sizes.empty:
        return empty(title, empty_message)
    sizes = sizes.reset_index(drop=True)
    by_format = sizes["format"].nunique() > 1
    axis = "format" if by_format else "precision"
    if by_format and sizes["precision"].nunique() == 1:
        title = f"Model size by format ({sizes['precision'].iloc[0]})"
    applies = sizes["applies"] if "applies" in sizes else pd.Series(True, index=sizes.index)
    applies = applies.astype(bool)
    # a format no selected run can use: one "n/a" under it, not one squeezed label per run
    nowhere = {key for key, fits in applies.groupby(sizes[axis]) if not fits.any()}
    traces: list[Trace] = []
    for index, run in enumerate(dict.fromkeys(sizes["run"])):
        rows = sizes[sizes["run"] == run]
        fits = applies[rows.index]
        kib = (rows["size_bytes"] / 1024).where(fits, 0.0)
        shown = [f"{v:,.1f} KiB" if fit else "n/a" for v, fit in zip(kib, fits, strict=True)]
        traces.append(
            {
                "type": "bar",
                "x": list(rows[axis]),
                "y": list(kib),
                "name": str(run),
                "marker": {"color": PALETTE[index % len(PALETTE)]},
                "text": [
                    "" if fit or key in nowhere else "n/a"
                    for fit, key in zip(fits, rows[axis], strict=True)
                ],
                "textposition": "outside",
                "textangle": -90,
                "textfont": {"size": 10, "color": "#6b7280"},
                "cliponaxis": False,
                "customdata": list(
                    zip(
                        rows["format"],
                        rows["precision"],
                        shown,
                        rows["kind"].where(fits, NOT_APPLICABLE),
                        strict=True,
                    )
                ),
                "hovertemplate": "%{customdata[0]} %{customdata[1]}<br>%{customdata[2]}"
                "<br>%{customdata[3]}<extra>" + str(run) + "</extra>",
            }
        )
    frame = layout(
        title,
        380,
        barmode="group",
        bargap=0.25,
        showlegend=True,
        xaxis={"title": {"text": f"storage {axis}"}, "type": "category"},
        yaxis={"title": {"text": "size (KiB)"}},
    )
    for key in sorted(nowhere, key=str):
        frame["annotations"].append(
            {"x": key, "y": 0, "yanchor": "bottom", "text": "n/a", "showarrow": False,
             "font": {"size": 12, "color": "#6b7280"}, "hovertext": NOT_APPLICABLE}
        )  # fmt: skip
    return build(traces, frame)


def speedup_chart(
    theoretical: pd.DataFrame | None,
    measured: pd.DataFrame | None = None,
    title: str = "Speedup over the dense model",
    empty_message: str = "no runs",
) -> go.Figure:
    """Theoretical (MACs ratio) and measured speedups as separate, labelled series.

    Args:
        theoretical: rows with ``run`` and ``theoretical_speedup`` (or ``None``).
        measured: rows with ``run``, ``speedup``, ``device`` and ``date`` (or ``None``).
        title: chart title.
    """
    theoretical = theoretical if theoretical is not None else pd.DataFrame()
    if theoretical.empty and (measured is None or measured.empty):
        return empty(title, empty_message)
    traces: list[Trace] = []
    values = list(theoretical["theoretical_speedup"]) if not theoretical.empty else []
    if values:
        traces.append(
            {
                "type": "bar",
                "x": list(theoretical["run"]),
                "y": values,
                "name": "theoretical (dense / effective MACs)",
                "marker": {
                    "color": rgba(PALETTE[0], 0.35),
                    "line": {"color": PALETTE[0], "width": 1.5},
                },
                "text": [f"{value:.2f}x" for value in values],
                "textposition": "outside",
                "cliponaxis": False,
                "hovertemplate": "%{x}<br>theoretical %{y:.2f}x (MACs ratio, not timed)"
                "<extra></extra>",
            }
        )
    if measured is not None and not measured.empty:
        traces.append(
            {
                "type": "bar",
                "x": list(measured["run"]),
                "y": list(measured["speedup"]),
                "name": "measured (timed)",
                "marker": {"color": PALETTE[1]},
                "customdata": list(zip(measured["device"], measured["date"], strict=True)),
                "hovertemplate": "%{x}<br>measured %{y:.2f}x<br>on %{customdata[0]}"
                "<br>%{customdata[1]}<extra></extra>",
            }
        )
    frame = layout(
        title,
        380,
        barmode="group",
        bargap=0.45,
        showlegend=True,
        xaxis={"title": {"text": "run"}, "type": "category"},
        yaxis={"title": {"text": "speedup (x)"}, "rangemode": "tozero"},
    )
    hline(frame, 1.0, "dense = 1x", dash="dot")
    return build(traces, frame)


def pareto_front(
    points: pd.DataFrame, x: str, y: str, higher_is_better: bool = True
) -> pd.DataFrame:
    """Rows no other row beats, sorted by ``x`` (smaller ``x`` is always better).

    A row is on the front when no row with a smaller-or-equal ``x`` has an equal or better
    ``y``: better is larger when ``higher_is_better`` (accuracy), smaller otherwise
    (perplexity).
    """
    ordered = points.dropna(subset=[x, y]).sort_values(
        [x, y], ascending=[True, not higher_is_better]
    )
    sign = 1.0 if higher_is_better else -1.0
    best, keep = float("-inf"), []
    for index, value in zip(ordered.index, ordered[y], strict=True):
        if sign * value > best:
            keep.append(index)
            best = sign * value
    return ordered.loc[keep]


def pareto_chart(
    runs: pd.DataFrame,
    x: str = "size_bytes",
    y: str | None = None,
    x_title: str = "model size (KiB, dense storage)",
) -> go.Figure:
    """The run's metric against size (or latency) per run, colored by criterion, with the front.

    Accuracy is better higher; perplexity (language models) lower, on a log axis when it
    spans more than 10x. Runs of both kinds are never drawn on one axis: pass the runs of
    one metric (the figure says so otherwise).

    Args:
        runs: one row per run with ``run, criterion``, ``x`` and ``y`` (``runs_frame`` rows:
            ``metric`` says which number each run is judged by).
        x: cost column (smaller is better); ``*_bytes`` columns are shown in KiB.
        y: metric column (default ``test_accuracy``, or ``test_perplexity`` for runs judged
            by perplexity); a ``*perplexity`` column is better lower.
        x_title: axis title.
    """
    cost = x_title.split(" (")[0]
    if y is None:
        kinds = set(runs["metric"].fillna("accuracy")) if "metric" in runs else set()
        if len(kinds) > 1:
            return empty(
                f"Pareto view: metric vs {cost}",
                "these runs are judged by different metrics (accuracy and perplexity): "
                "draw one chart per metric",
            )
        y = metric_of({"metric": frame_metric(runs)})[0]
    name = PERPLEXITY if y.endswith("perplexity") else "accuracy"
    higher = name != PERPLEXITY
    label = y.replace("_", " ") + ("" if higher else " (lower is better)")
    title = f"Pareto view: {y.replace('_', ' ')} vs {cost}"
    points = runs.dropna(subset=[x, y]) if not runs.empty and y in runs else runs.iloc[0:0]
    if points.empty:
        return empty(title, f"no finished runs with {name}")
    points = points.assign(**{y: pd.to_numeric(points[y])})
    value = ".2f" if name == PERPLEXITY else ".2%"
    scale = 1024 if x.endswith("_bytes") else 1
    names = list(dict.fromkeys(points["criterion"]))
    traces: list[Trace] = []
    for criterion in names:
        rows = points[points["criterion"] == criterion]
        traces.append(
            {
                "type": "scatter",
                "x": list(rows[x] / scale),
                "y": list(rows[y]),
                "mode": "markers",
                "name": criterion,
                "text": list(rows["run"]),
                "marker": {"color": color_for(criterion, names), "size": 10, "opacity": 0.85},
                "hovertemplate": f"%{{text}}<br>%{{x:,.1f}}<br>%{{y:{value}}}<extra>"
                + criterion
                + "</extra>",
            }
        )
    front = pareto_front(points, x, y, higher_is_better=higher)
    traces.append(
        {
            "type": "scatter",
            "x": list(front[x] / scale),
            "y": list(front[y]),
            "mode": "lines",
            "name": "Pareto front",
            "hoverinfo": "skip",
            "line": {"color": INK, "dash": "dash", "shape": "hv"},
        }
    )
    yaxis: dict[str, object] = {"title": {"text": label}}
    if higher:
        yaxis["tickformat"] = percent_ticks(points[y])
    elif log_axis(points[y]):
        yaxis["type"] = "log"
    return build(
        traces,
        layout(
            title,
            420,
            xaxis={"title": {"text": x_title}, "rangemode": "tozero", "tickformat": ",.0f"},
            yaxis=yaxis,
        ),
    )
