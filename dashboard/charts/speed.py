"""Measured speedups: one bar per benchmark configuration, with device, date and spread.

Pure ``DataFrame -> Figure`` builders over the rows of benchmark result files (see
:func:`dashboard.charts.measured.measured_rows`); no Streamlit, no engine.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.style import INK, PALETTE, build, empty, layout

CONFIGURATION_COLUMNS = [
    "run",
    "device",
    "speedup",
    "low",
    "high",
    "count",
    "date",
    "median_ms",
    "sources",
]


def configurations(measured: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration (label and device): the median speedup of its measurements.

    Two result files that timed the same configuration are two measurements of one bar
    (median, with ``low``/``high`` the spread), never two bars drawn end to end. ``date``
    is the newest measurement's date; ``sources`` the files they came from.
    """
    if measured.empty:
        return pd.DataFrame(columns=CONFIGURATION_COLUMNS)
    rows = []
    for (run, device), group in measured.groupby(["run", "device"], sort=False, dropna=False):
        speedups = group["speedup"].astype(float)
        times = pd.to_numeric(group.get("median_ms", pd.Series(dtype=float)), errors="coerce")
        rows.append(
            {
                "run": run,
                "device": device,
                "speedup": float(speedups.median()),
                "low": float(speedups.min()),
                "high": float(speedups.max()),
                "count": len(group),
                "date": max(str(date) for date in group["date"]),
                "median_ms": float(times.median()) if times.notna().any() else None,
                "sources": ", ".join(dict.fromkeys(str(s) for s in group.get("source", []))),
            }
        )
    frame = pd.DataFrame(rows, columns=CONFIGURATION_COLUMNS)
    twins = frame["run"].duplicated(keep=False)  # the same label on two devices: say which
    frame.loc[twins, "run"] = [
        f"{run} · {device}" for run, device in frame.loc[twins, ["run", "device"]].to_numpy()
    ]
    return frame


def bar_text(row: pd.Series) -> str:
    """``1.84x · cpu: AMD EPYC · 2026-11-25`` (``median of 2`` when measured twice)."""
    spread = f" · median of {row['count']}" if row["count"] > 1 else ""
    return f"{row['speedup']:.2f}x · {row['device']} · {str(row['date'])[:10]}{spread}"


def measured_speedup_chart(measured: pd.DataFrame, title: str = "Measured speedup") -> go.Figure:
    """Timed speedups as horizontal bars, one per configuration (long labels stay readable).

    Args:
        measured: measured rows (``run, speedup, device, date, source`` and optionally
            ``median_ms``), several rows of one configuration allowed.
        title: chart title.
    """
    bars = configurations(measured)
    if bars.empty:
        return empty(title, "no measurements")
    rows = bars.iloc[::-1]  # first row on top
    frame = layout(
        title,
        max(260, 34 * len(rows) + 110),
        showlegend=False,
        xaxis={
            "title": {"text": "speedup over the dense baseline (x), timed; whiskers: min-max"},
            "rangemode": "tozero",
        },
        yaxis={"type": "category", "automargin": True},
    )
    frame["shapes"].append(
        {
            "type": "line",
            "yref": "paper",
            "y0": 0,
            "y1": 1,
            "x0": 1,
            "x1": 1,
            "line": {"dash": "dot", "color": INK, "width": 1.5},
        }
    )
    spread = rows["count"] > 1
    trace = {
        "type": "bar",
        "orientation": "h",
        "x": list(rows["speedup"]),
        "y": list(rows["run"]),
        "name": "measured (timed)",
        "marker": {"color": PALETTE[1]},
        "customdata": list(
            zip(rows["device"], rows["date"], rows["median_ms"], rows["count"], strict=True)
        ),
        "hovertemplate": "%{y}<br>measured %{x:.2f}x (median %{customdata[2]:.2f} ms)"
        "<br>on %{customdata[0]}<br>%{customdata[1]}<br>%{customdata[3]} measurement(s)"
        "<extra></extra>",
    }
    if spread.any():
        trace["error_x"] = {
            "type": "data",
            "symmetric": False,
            "array": list((rows["high"] - rows["speedup"]).where(spread, 0.0)),
            "arrayminus": list((rows["speedup"] - rows["low"]).where(spread, 0.0)),
            "color": INK,
            "thickness": 1.2,
        }
    for _, row in rows.iterrows():  # after the whisker, so text and spread never overlap
        frame["annotations"].append(
            {"x": row["high"], "y": row["run"], "text": bar_text(row), "showarrow": False,
             "xanchor": "left", "xshift": 6, "font": {"size": 11, "color": "#374151"}}
        )  # fmt: skip
    frame["xaxis"]["range"] = [0, float(rows["high"].max()) * 2.0]
    return build([trace], frame)
