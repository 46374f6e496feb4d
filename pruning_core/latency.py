"""Latency measurement on this machine: timers, statistics, metadata and result files.

Every measurement: a fixed thread count (``torch.set_num_threads``), warm-up calls, then
at least 30 timed repetitions; median and interquartile range. Variants compared with
each other are timed *interleaved* (one repetition of each in turn), so a load spike on a
shared machine hits all of them alike instead of biasing one. Rows carry the machine's
metadata and ``kind = "measured"``; nothing here estimates a time.
"""

from __future__ import annotations

import csv
import json
import statistics
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from pruning_core.environment import cpu_flags, cpu_model, machine_metadata

__all__ = ["cpu_flags", "cpu_model", "machine_metadata"]

MIN_REPEATS = 30
RESULTS_DIR = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


def summarize(times_ms: list[float]) -> dict[str, float]:
    """Median, quartiles, interquartile range and minimum of millisecond samples."""
    if len(times_ms) < 2:
        value = times_ms[0] if times_ms else float("nan")
        return {
            "median_ms": value,
            "p25_ms": value,
            "p75_ms": value,
            "iqr_ms": 0.0,
            "min_ms": value,
        }
    q1, _, q3 = statistics.quantiles(times_ms, n=4, method="inclusive")
    return {
        "median_ms": statistics.median(times_ms),
        "p25_ms": q1,
        "p75_ms": q3,
        "iqr_ms": q3 - q1,
        "min_ms": min(times_ms),
    }


def time_interleaved(
    actions: Mapping[str, Callable[[], object]], repeats: int = MIN_REPEATS, warmup: int = 5
) -> dict[str, list[float]]:
    """Milliseconds per call of each action, timed in turn (round-robin) after warm-up.

    Raises:
        ValueError: fewer than :data:`MIN_REPEATS` repetitions were asked for.
    """
    if repeats < MIN_REPEATS:
        raise ValueError(f"repeats must be >= {MIN_REPEATS}, got {repeats}")
    with torch.inference_mode():
        for action in actions.values():
            for _ in range(warmup):
                action()
        times: dict[str, list[float]] = {name: [] for name in actions}
        for _ in range(repeats):
            for name, action in actions.items():
                start = time.perf_counter()
                action()
                times[name].append((time.perf_counter() - start) * 1000.0)
    return times


def measured_rows(
    times: dict[str, list[float]], baseline: str, common: dict[str, Any]
) -> list[dict[str, Any]]:
    """One row per action: statistics and ``speedup`` against the baseline.

    ``speedup`` compares medians; ``speedup_min`` compares the fastest repetitions, which
    on a shared machine estimate the uncontended time more robustly. Both are measured.
    """
    base = summarize(times[baseline])
    rows = []
    for name, samples in times.items():
        stats = summarize(samples)
        rows.append(
            {
                **common,
                "variant": name,
                **stats,
                "repetitions": len(samples),
                "baseline": baseline,
                "baseline_ms": base["median_ms"],
                "baseline_min_ms": base["min_ms"],
                "speedup": base["median_ms"] / stats["median_ms"]
                if stats["median_ms"] > 0
                else None,
                "speedup_min": base["min_ms"] / stats["min_ms"] if stats["min_ms"] > 0 else None,
            }
        )
    return rows


def write_rows(rows: list[dict[str, Any]], out_dir: str | Path, stem: str) -> list[Path]:
    """Write rows as ``stem.json`` (a list) and ``stem.csv`` (union of the columns)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = out / f"{stem}.json", out / f"{stem}.csv"
    json_path.write_text(json.dumps(rows, indent=1, default=str), encoding="utf-8")
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in row.items()}
            )
    return [json_path, csv_path]
