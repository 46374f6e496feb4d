"""Per-layer values of a transformer as a heatmap: decoder block x projection.

LLM layer rows are named like ``model.layers.3.self_attn.q_proj`` or
``model.layers.3.mlp.gate_proj``; with dozens of blocks a bar per layer is unreadable, so
the Runs page pivots them to one cell per (block, projection): the sparsity, and the
reconstruction error. Pure; no Streamlit, no engine.
"""

from __future__ import annotations

import re

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.style import build, empty, layout

MIN_LAYERS = 40  # more prunable layers than this: the heatmap replaces reading bars
_BLOCK = re.compile(r"(?:^|\.)(?:layers|h|blocks|layer)\.(\d+)\.(.+)$")


# value column -> (color bar title, hover/tick format, fixed range or None)
VALUES = {
    "sparsity": ("sparsity", ".1%", (0.0, 1.0)),
    "reconstruction_error": ("relative output error", ".4f", None),
}


def block_grid(layers: pd.DataFrame, value: str = "sparsity") -> pd.DataFrame:
    """``value`` with decoder blocks as rows (0, 1, ...) and projections as columns.

    A projection is the last part of the name (``q_proj``, ``gate_proj``), in the order the
    layers first list them; rows whose names hold no block number are left out.
    """
    cells = []
    if "name" in layers and value in layers:
        for name, number in zip(layers["name"], layers[value], strict=True):
            found = _BLOCK.search(str(name))
            if found and number is not None and number == number:
                projection = found.group(2).rsplit(".", 1)[-1]
                cells.append((int(found.group(1)), projection, float(number)))
    if not cells:
        return pd.DataFrame()
    frame = pd.DataFrame(cells, columns=["block", "projection", value])
    order = list(dict.fromkeys(frame["projection"]))
    grid = frame.pivot_table(index="block", columns="projection", values=value)
    return grid[order].sort_index()


def wants_heatmap(layers: pd.DataFrame) -> bool:
    """Whether the run has more than :data:`MIN_LAYERS` layers that pivot to blocks."""
    return len(layers) > MIN_LAYERS and not block_grid(layers).empty


def layer_heatmap_chart(
    layers: pd.DataFrame, title: str = "Sparsity per block", value: str = "sparsity"
) -> go.Figure:
    """One cell per (block, projection), colored by ``value`` (see :data:`VALUES`):
    sparsity from 0 to 100%, or the reconstruction error (blank: layer not pruned)."""
    grid = block_grid(layers, value)
    if grid.empty:
        return empty(title, "no layers named by block (model.layers.N....)")
    name, number, fixed = VALUES[value]
    values = grid.to_numpy(dtype=float)
    trace = {
        "type": "heatmap",
        "x": list(grid.columns),
        "y": [f"block {block}" for block in grid.index],
        "z": [[None if v != v else float(v) for v in row] for row in values],
        "colorscale": "Viridis",
        "colorbar": {"title": {"text": name}, "tickformat": number.replace(".1%", ".0%")},
        "hovertemplate": f"%{{y}} · %{{x}}<br>{name} %{{z:{number}}}<extra></extra>",
        "xgap": 1,
        "ygap": 1,
        **({"zmin": fixed[0], "zmax": fixed[1]} if fixed else {}),
    }
    frame = layout(
        title,
        max(320, 18 * len(grid) + 120),
        xaxis={"title": {"text": "projection"}},
        yaxis={"autorange": "reversed", "title": {"text": "decoder block"}},
    )
    return build([trace], frame)
