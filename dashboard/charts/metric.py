"""Which number a run is judged by: accuracy (higher is better) or, for causal language
models, perplexity (lower is better). Pure; no Streamlit, no engine.

Run summaries name their ``metric``; classifiers fill ``test_accuracy`` and
``dense_test_accuracy``, LMs ``test_perplexity`` and ``dense_test_perplexity`` (their
accuracy fields are ``None``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

PERPLEXITY = "perplexity"
LOG_SPAN = 10.0  # a log axis once the values span more than this factor


def metric_name(summary: Mapping[str, Any] | None) -> str:
    """``accuracy`` or ``perplexity`` (older runs without ``metric`` are accuracy runs)."""
    name = (summary or {}).get("metric")
    return PERPLEXITY if name == PERPLEXITY else "accuracy"


def metric_of(summary: Mapping[str, Any] | None, split: str = "test") -> tuple[str, str, bool]:
    """``(field, label, higher_is_better)`` of the run's final metric on ``split``."""
    if metric_name(summary) == PERPLEXITY:
        return f"{split}_perplexity", f"{split} perplexity (lower is better)", False
    return f"{split}_accuracy", f"{split} accuracy", True


def frame_metric(runs: pd.DataFrame) -> str:
    """The metric of a set of runs (``runs_frame`` rows): perplexity when any run uses it."""
    if "metric" in runs and (runs["metric"] == PERPLEXITY).any():
        return PERPLEXITY
    return "accuracy"


def fmt(value: Any, name: str) -> str:
    """A metric value as read: ``97.2%`` for accuracy, ``23.41`` for perplexity."""
    if value is None or not isinstance(value, int | float) or value != value:
        return "n/a"
    return f"{value:.2f}" if name == PERPLEXITY else f"{value:.1%}"


def log_axis(values: Iterable[Any]) -> bool:
    """Whether positive ``values`` span more than :data:`LOG_SPAN` (so a log axis reads better)."""
    numbers = [float(v) for v in values if isinstance(v, int | float) and v == v and v > 0]
    return bool(numbers) and max(numbers) > LOG_SPAN * min(numbers)
