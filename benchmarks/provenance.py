"""Where and when a README figure was measured: one JSON result file beside the CSV/MD.

Every figure script calls :func:`started` once its thread count is fixed, and
:func:`write_json` at the end. The JSON holds the machine metadata
(:func:`pruning_core.environment.machine_metadata`: date, CPU model and SIMD flags, cores,
threads, 1-minute load average, torch and Python versions) taken at the start, the load
average and the wall-clock seconds at the end, the command, and every row.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from pruning_core.environment import load_average, machine_metadata


def started(command: str) -> dict[str, Any]:
    """The machine metadata now (call after ``torch.set_num_threads``), ``command``, a clock."""
    return {**machine_metadata(), "command": command, "_started": time.perf_counter()}


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf -> None, containers recursively, other objects as text."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    if hasattr(value, "item"):  # numpy / torch scalars
        return _clean(value.item())
    return str(value)


def finished(meta: dict[str, Any]) -> dict[str, Any]:
    """``meta`` with the load average and elapsed seconds at the end."""
    done = {k: v for k, v in meta.items() if k != "_started"}
    done["load_average_1min_end"] = load_average()
    done["seconds"] = round(time.perf_counter() - meta["_started"], 1)
    return done


def header(meta: dict[str, Any]) -> str:
    """One Markdown line naming the machine, date, threads, load and torch version."""
    end = meta.get("load_average_1min_end")
    load = f"{meta['load_average_1min']:.2f}" + (f" -> {end:.2f}" if end is not None else "")
    return (
        f"Measured {meta['date']} on {meta['cpu_model']} (flags: {meta['cpu_flags'] or 'none'}; "
        f"{meta['cpu_cores']} cores), torch kernels {meta.get('cpu_capability', 'not recorded')}, "
        f"{meta['threads']} thread(s), load average (1 min) {load}, "
        f"torch {meta['torch']}, Python {meta['python']}"
        + (f", {meta['seconds']:.0f} s in all" if "seconds" in meta else "")
        + "."
    )


def write_json(path: Path, meta: dict[str, Any], rows: list[dict[str, Any]], **extra: Any) -> Path:
    """Write ``{"metadata": meta, **extra, "rows": rows}`` to ``path`` (NaN as null)."""
    payload = {"metadata": meta, **extra, "rows": rows}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_clean(payload), indent=1) + "\n", encoding="utf-8")
    return path
