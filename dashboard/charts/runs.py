"""Figures of one run or several overlaid: metric curves and reconstruction errors.

Pure ``DataFrame -> Figure`` builders over the rows the engine writes (``results.json``
layers and curves); the pages only choose which rows to pass. A curve point carries
``val_accuracy`` (classifiers) or ``val_perplexity`` (causal language models, lower is
better); the chart draws whichever the runs recorded.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.metric import PERPLEXITY, log_axis
from dashboard.charts.style import PALETTE, Trace, build, empty, layout, percent_ticks

SYMBOLS = {"dense": "circle-open", "prune": "triangle-down", "finetune": "circle"}
CURVE_FIELDS = {"accuracy": "val_accuracy", PERPLEXITY: "val_perplexity"}
CURVE_LABELS = {"accuracy": "val accuracy", PERPLEXITY: "val perplexity (lower is better)"}
CURVE_TITLES = {
    "accuracy": "Accuracy while pruning and finetuning",
    PERPLEXITY: "Perplexity while pruning and finetuning",
    "mixed": "Metric while pruning and finetuning",
}


def _count_text(value: object) -> str:
    """Round/epoch numbers for hover text: ``1.0`` -> ``1``, missing -> ``-``."""
    return "-" if value is None or pd.isna(value) else str(int(value))  # type: ignore[call-overload]


def curve_metrics(curves: pd.DataFrame) -> dict[str, str]:
    """Each run's curve metric (``accuracy`` or ``perplexity``), for runs that recorded one.

    Args:
        curves: curve rows with ``val_accuracy`` and/or ``val_perplexity`` and optionally
            ``run`` (one run when missing).
    """
    runs = curves["run"] if "run" in curves else pd.Series("run", index=curves.index)
    found: dict[str, str] = {}
    for name, field in CURVE_FIELDS.items():
        if field in curves:
            numbers = pd.to_numeric(curves[field], errors="coerce")
            for run in dict.fromkeys(runs[numbers.notna()]):
                found.setdefault(str(run), name)
    return {str(run): found[str(run)] for run in dict.fromkeys(runs) if str(run) in found}


def curves_chart(curves: pd.DataFrame, overlaid: bool = False) -> go.Figure:
    """Validation metric (top) and sparsity (bottom) per optimizer step, one line per run.

    The metric is accuracy, or perplexity (lower is better, log axis when it spans more
    than 10x) for language models. Runs judged by different metrics are not drawn on one
    axis: the figure says so instead.

    Args:
        curves: rows with ``kind`` (dense|prune|finetune), ``step``, ``sparsity``,
            ``val_accuracy`` or ``val_perplexity`` and optionally ``run``, ``round``, ``epoch``.
        overlaid: several runs' curves drawn together (the title says so); the title is
            named by the runs' metric.
    """
    metrics = curve_metrics(curves)
    kinds = list(dict.fromkeys(metrics.values()))
    name = kinds[0] if len(kinds) == 1 else "accuracy"
    title = CURVE_TITLES[name if len(kinds) <= 1 else "mixed"] + (", overlaid" if overlaid else "")
    if len(kinds) > 1:
        by = {kind: [run for run, used in metrics.items() if used == kind] for kind in kinds}
        return empty(
            title,
            "these runs are judged by different metrics (accuracy: "
            f"{', '.join(by['accuracy'])}; perplexity: {', '.join(by[PERPLEXITY])}): "
            "compare curves of one metric at a time",
        )
    if not kinds:
        return empty(title, "no accuracy or perplexity recorded (untrained model or no data)")
    field, label = CURVE_FIELDS[name], CURVE_LABELS[name]
    value = ".2f" if name == PERPLEXITY else ".2%"
    frame = curves.assign(**{field: pd.to_numeric(curves[field], errors="coerce")})
    frame = frame.dropna(subset=[field])
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
                "y": list(rows[field]),
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
                f"%{{customdata[2]}})<br>{label.split(' (')[0]} %{{y:{value}}}"
                "<br>sparsity %{customdata[3]:.1%}<extra>" + group + "</extra>",
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
    yaxis: dict[str, object] = {"domain": [0.38, 1.0], "title": {"text": label}}
    if name == PERPLEXITY:
        if log_axis(frame[field]):
            yaxis["type"] = "log"
    else:
        yaxis["tickformat"] = percent_ticks(frame[field])
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
            yaxis=yaxis,
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
