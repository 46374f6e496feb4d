"""Tables as a person reads them: human column names, ``-`` for missing, shapes as ``AxB``.

Pure pandas (no Streamlit, no engine). Formatting goes through a Styler, so a sorted
column still sorts by its numbers, not by the text shown.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler

from dashboard.charts.layers import shape_text

MISSING = "-"
LAYER_NAMES = {
    "name": "layer",
    "type": "type",
    "shape_original": "shape before",
    "shape": "shape after",
    "rank": "rank (low-rank)",
    "params_original": "weights before",
    "params": "weights stored",
    "params_ratio": "stored / before",
    "nonzeros": "nonzero weights",
    "sparsity": "sparsity",
    "precision_new_zeros": "zeros from precision",
    "dense_macs": "MACs per sample, before",
    "effective_macs": "MACs per sample, effective",
    "reconstruction_error": "reconstruction error",
    "pruned": "pruned",
    "note": "note",
    "best_format": "best format",
    "best_format_bytes": "best format (bytes)",
}
RUN_COLUMNS = {
    "run": "run",
    "state": "state",
    "model": "model",
    "structure": "structure",
    "target_sparsity": "target",
    "test_accuracy": "test acc",
    "val_after_pruning": "val acc after pruning",
    "accuracy_delta": "test vs dense",
    "sparsity_total": "model sparsity",
    "best_size": "best size",
    "best_format": "best format",
    "theoretical_speedup": "speedup (theor.)",
    "precision": "precision",
    "epochs": "epochs",
    "schedule": "schedule",
    "sweep": "sweep",
    "created": "queued at",
    "duration_s": "seconds",
    "error": "error",
}


def layer_table(layers: list[dict[str, Any]]) -> pd.DataFrame:
    """A run's per-layer rows with shapes as ``AxB`` (as the CLI's ``layers.csv`` writes them)."""
    frame = pd.DataFrame(layers)
    for column in ("shape", "shape_original"):
        if column in frame:
            frame[column] = frame[column].map(shape_text)
    return frame


def layer_view(layers: list[dict[str, Any]]) -> Styler:
    """:func:`layer_table` with human column names, percentages and ``-`` for missing."""
    frame = layer_table(layers).rename(columns=LAYER_NAMES)
    percent = [LAYER_NAMES[c] for c in ("sparsity", "params_ratio") if LAYER_NAMES[c] in frame]
    counts = [
        LAYER_NAMES[c]
        for c in ("params_original", "params", "nonzeros", "dense_macs", "effective_macs",
                  "best_format_bytes", "precision_new_zeros")
        if LAYER_NAMES[c] in frame
    ]  # fmt: skip
    styler = frame.style.format(na_rep=MISSING)
    styler = styler.format("{:.1%}", subset=percent, na_rep=MISSING)
    styler = styler.format("{:,.0f}", subset=counts, na_rep=MISSING)
    if LAYER_NAMES["reconstruction_error"] in frame:
        styler = styler.format("{:.4f}", subset=[LAYER_NAMES["reconstruction_error"]],
                               na_rep=MISSING)  # fmt: skip
    return styler.hide(axis="index")


def runs_view(runs: pd.DataFrame) -> Styler:
    """The Runs table: chosen columns, human names, ``-`` for missing, deltas in pp."""
    sizes = pd.to_numeric(runs.get("best_format_bytes", pd.Series(dtype=float)), errors="coerce")
    frame = runs.assign(best_size=sizes / 1024)  # numbers, so the column sorts by size
    frame = frame[[c for c in RUN_COLUMNS if c in frame]].rename(columns=RUN_COLUMNS)
    formats: list[tuple[Any, list[str]]] = [
        ("{:.1%}", ["target_sparsity", "test_accuracy", "val_after_pruning", "sparsity_total"]),
        (lambda value: f"{value * 100:+.1f} pp", ["accuracy_delta"]),
        ("{:.2f}x", ["theoretical_speedup"]),
        ("{:.1f}", ["duration_s"]),
        ("{:.0f}", ["epochs"]),
        ("{:,.0f} KiB", ["best_size"]),
        (lambda t: t.strftime("%Y-%m-%d %H:%M:%S"), ["created"]),
    ]
    styler = frame.style.format(na_rep=MISSING)
    for pattern, columns in formats:
        shown = [RUN_COLUMNS[c] for c in columns if RUN_COLUMNS[c] in frame]
        if shown:
            styler = styler.format(pattern, subset=shown, na_rep=MISSING)
    return styler.hide(axis="index")
