"""Queue positions and ETAs from similar finished runs (pure; no Streamlit, no engine).

A run's expected duration is the median duration of finished runs that share its
model, job kind, structure kind, schedule and finetune epochs; failing that, its model
and job kind; failing that, unknown. A running run's remainder is its expected
duration less the time it has run (or, from its progress, the time it still needs).
"""

from __future__ import annotations

import statistics
from typing import Any

import pandas as pd

COLUMNS = ["id", "state", "position", "expected_s", "eta_s", "similar", "partial"]


def _keys(recipe: dict[str, Any]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """Close and loose similarity keys of a recipe (or a sensitivity job)."""
    structure = recipe.get("structure")
    kind = structure.get("kind") if isinstance(structure, dict) else structure
    loose = (recipe.get("model"), recipe.get("job"), recipe.get("method"))
    close = (
        *loose,
        kind,
        (recipe.get("schedule") or {}).get("kind"),
        (recipe.get("finetune") or {}).get("epochs"),
    )
    return close, loose


def expected_seconds(
    recipe: dict[str, Any], finished: list[dict[str, Any]]
) -> tuple[float | None, int]:
    """Median duration of the finished runs most similar to ``recipe``, and how many."""
    close, loose = _keys(recipe)
    for level, key in enumerate((close, loose)):
        durations = [
            run["finished"] - run["started"]
            for run in finished
            if _keys(run["recipe"])[level] == key
        ]
        if durations:
            return statistics.median(durations), len(durations)
    return None, 0


def queue_view(
    active: list[dict[str, Any]],
    finished: list[dict[str, Any]],
    order: list[int],
    workers: int,
    now: float,
) -> pd.DataFrame:
    """Running and queued runs with their position, expected duration and ETA (seconds).

    A run with no similar finished run has no ETA; those behind it get one that counts
    only the runs that can be estimated (``partial``: the true wait is longer).

    Args:
        active: queued and running run records (``RunRecord.__dict__``).
        finished: done run records with ``started`` and ``finished``.
        order: queued ids in claim order (the store's).
        workers: live workers sharing the queue (the ETA divides the work ahead by them).
        now: the current Unix time.
    """
    by_id = {run["id"]: run for run in active}
    rows: list[list[Any]] = []
    ahead, unknown = 0.0, False
    for run in sorted((r for r in active if r["state"] == "running"), key=lambda r: r["id"]):
        expected, similar = expected_seconds(run["recipe"], finished)
        elapsed = now - (run.get("started") or now)
        progress = float(run.get("progress") or 0.0)
        if expected is not None:
            left = max(expected - elapsed, 0.0)
        elif progress > 0.05:
            left = elapsed * (1 - progress) / progress
        else:
            left = None
        ahead += left or 0.0
        unknown = unknown or left is None
        rows.append([run["id"], "running", 0, expected, left, similar, False])
    for position, run_id in enumerate((i for i in order if i in by_id), start=1):
        expected, similar = expected_seconds(by_id[run_id]["recipe"], finished)
        ahead += expected or 0.0
        eta = None if expected is None else ahead / workers
        rows.append([run_id, "queued", position, expected, eta, similar, unknown])
        unknown = unknown or expected is None  # runs behind it wait an unknown time more
    return pd.DataFrame(rows, columns=COLUMNS)


def duration_text(seconds: float | None) -> str:
    """``45 s``, ``3 min``, ``1 h 20 min``; ``?`` when unknown."""
    if seconds is None or seconds != seconds:
        return "?"
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


def _count(value: Any) -> str:
    return "?" if value is None else f"{float(value):g}"


def executor_text(info: dict[str, Any]) -> str:
    """``Local worker (8 CPUs)`` or ``Ray cluster ADDR: 4 CPUs, 1 GPUs, 2 nodes``."""
    if info.get("executor") == "ray":
        nodes = info.get("nodes")
        return (
            f"Ray cluster {info.get('address') or '?'}: {_count(info.get('cpus'))} CPUs, "
            f"{_count(info.get('gpus'))} GPUs, {_count(nodes)} nodes"
        )
    if info.get("executor") == "local":
        return f"Local worker ({_count(info.get('cpus'))} CPUs)"
    return f"Executor: {info.get('error') or info.get('executor') or '?'}"
