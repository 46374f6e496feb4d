"""Plotly figure builders and table shaping: pure functions, data in, figure (or table) out.

No Streamlit and no engine here: every builder takes the plain rows the engine writes
(``results.json`` layers and curves, run summaries, benchmark rows) and is tested on
plain data. Theoretical and measured numbers are never drawn as one series.

* :mod:`~dashboard.charts.layers`: per-layer sparsity (channel runs: upstream removals).
* :mod:`~dashboard.charts.runs`: metric curves (accuracy, or perplexity for language
  models), reconstruction error.
* :mod:`~dashboard.charts.sweeps`: accuracy against sparsity per criterion (and right
  after pruning).
* :mod:`~dashboard.charts.costs`: size by format, theoretical speedup, Pareto views (the
  front follows the metric's direction: perplexity is better lower).
* :mod:`~dashboard.charts.speed`: measured speedups, one bar per configuration.
* :mod:`~dashboard.charts.sensitivity`: the Sensitivity page's figures.
* :mod:`~dashboard.charts.facts`: what a run's results say beyond its summary (the metric
  right after pruning, the formats that apply, the best one's size).
* :mod:`~dashboard.charts.tables`, :mod:`~dashboard.charts.display`,
  :mod:`~dashboard.charts.compare`, :mod:`~dashboard.charts.measured`,
  :mod:`~dashboard.charts.queue`: tables for the pages (runs, seed groups, queue ETAs).
"""

from dashboard.charts.costs import (
    pareto_chart,
    pareto_front,
    size_by_precision_chart,
    speedup_chart,
)
from dashboard.charts.layers import layer_sparsity_chart
from dashboard.charts.runs import curves_chart, reconstruction_error_chart
from dashboard.charts.speed import measured_speedup_chart
from dashboard.charts.sweeps import accuracy_vs_sparsity_chart, aggregate_seeds

__all__ = [
    "accuracy_vs_sparsity_chart",
    "aggregate_seeds",
    "curves_chart",
    "layer_sparsity_chart",
    "measured_speedup_chart",
    "pareto_chart",
    "pareto_front",
    "reconstruction_error_chart",
    "size_by_precision_chart",
    "speedup_chart",
]
