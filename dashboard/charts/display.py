"""Tables as a person reads them: human column names, ``-`` for missing, shapes as ``AxB``.

Pure pandas (no Streamlit, no engine). Formatting goes through a Styler, so a sorted
column still sorts by its numbers, not by the text shown.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler

from dashboard.charts.layers import shape_text
from dashboard.charts.metric import PERPLEXITY

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
    "test_perplexity": "test ppl",
    "val_accuracy_after_pruning": "val acc after pruning",
    "val_perplexity_after_pruning": "val ppl after pruning",
    "accuracy_delta": "test vs dense",
    "perplexity_delta": "ppl vs dense",
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
ACCURACY_COLUMNS = ("test_accuracy", "val_accuracy_after_pruning", "accuracy_delta")
PERPLEXITY_COLUMNS = ("test_perplexity", "val_perplexity_after_pruning", "perplexity_delta")


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
    """The Runs table: chosen columns, human names, ``-`` for missing, deltas in pp.

    Each run shows its own metric: accuracy columns (``test acc``, deltas in pp) for
    classifiers, perplexity columns (``test ppl``, lower is better; ``ppl vs dense``:
    ``+3.03 ppl`` is worse) for language models. A set without language models looks as
    it always did; one with only language models has no accuracy columns.
    """
    sizes = pd.to_numeric(runs.get("best_format_bytes", pd.Series(dtype=float)), errors="coerce")
    metric = runs["metric"] if "metric" in runs else pd.Series(None, index=runs.index)
    lm = metric.eq(PERPLEXITY)
    frame = runs.assign(best_size=sizes / 1024)  # numbers, so the column sorts by size
    for column in ("test_accuracy", "test_perplexity"):
        if column in frame:
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
    if "val_after_pruning" in runs:  # each metric in its own column, sorted by its numbers
        after = pd.to_numeric(runs["val_after_pruning"], errors="coerce")
        frame["val_accuracy_after_pruning"] = after.mask(lm)
        frame["val_perplexity_after_pruning"] = after.where(lm)
    hidden = set(PERPLEXITY_COLUMNS if not lm.any() else ())
    if lm.any() and not (metric.notna() & ~lm).any():
        hidden |= set(ACCURACY_COLUMNS)
    frame = frame[[c for c in RUN_COLUMNS if c in frame and c not in hidden]]
    frame = frame.rename(columns=RUN_COLUMNS)
    formats: list[tuple[Any, list[str]]] = [
        ("{:.1%}", ["target_sparsity", "test_accuracy", "val_accuracy_after_pruning",
                    "sparsity_total"]),
        ("{:.2f}", ["test_perplexity", "val_perplexity_after_pruning"]),
        (lambda value: f"{value * 100:+.1f} pp", ["accuracy_delta"]),
        (lambda value: f"{value:+.2f} ppl", ["perplexity_delta"]),
        ("{:.2f}x", ["theoretical_speedup"]),
        ("{:.1f}", ["duration_s"]),
        ("{:.0f}", ["epochs"]),
        ("{:,.0f} KiB", ["best_size"]),
        (lambda t: t.strftime("%Y-%m-%d %H:%M:%S"), ["created"]),
    ]  # fmt: skip
    styler = frame.style.format(na_rep=MISSING)
    for pattern, columns in formats:
        shown = [RUN_COLUMNS[c] for c in columns if RUN_COLUMNS[c] in frame]
        if shown:
            styler = styler.format(pattern, subset=shown, na_rep=MISSING)
    return styler.hide(axis="index")
