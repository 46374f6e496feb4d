"""Where 2:4 GPU speedups stand: stored measurements, a live measurement, or none yet.

Stored rows come from ``benchmarks/results/gpu/*.json`` (``benchmarks/gpu_2of4.py``, read
by the engine's ``load_gpu_results``). On a machine with CUDA and no stored rows, the
page can start that benchmark (``--quick``) in the background and shows its rows when
it has written them. Without either, the card says how to measure: never a blank.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

import pruning_core

GPU_ENV = "PRUNING_CORE_GPU_RESULTS"  # folder of stored GPU rows (tests point it elsewhere)
ROOT = Path(__file__).resolve().parents[2]
COMMAND = "python -m benchmarks.gpu_2of4 --out benchmarks/results/gpu"


def folder() -> Path:
    """The folder of stored GPU results."""
    return Path(os.environ.get(GPU_ENV) or ROOT / "benchmarks" / "results" / "gpu")


def status() -> dict[str, Any]:
    """``state`` (``stored``, ``measuring``, ``live`` or ``none``) and what to say about it.

    ``stored``: ``device``, ``date`` and ``rows`` (the 2:4 rows that ran, as a frame).
    ``measuring``/``live``: ``device`` (this machine's GPU). Always ``command``.
    """
    where = folder()
    files = list(where.glob("*.json")) if where.is_dir() else []
    stamp = max((path.stat().st_mtime for path in files), default=0.0)
    rows = _stored(str(where), stamp) if files else pd.DataFrame(columns=["device", "date"])
    if not rows.empty:
        newest = rows.sort_values("date").iloc[-1]
        device = newest["device"]
        mine = rows[rows["device"] == device]
        return {
            "state": "stored",
            "device": device,
            "date": str(mine["date"].max())[:10],
            "rows": mine,
            "command": COMMAND,
        }
    gpu = cuda_device()
    if gpu is None:
        return {"state": "none", "command": COMMAND}
    running = _job().get("process")
    state = "measuring" if running is not None and running.poll() is None else "live"
    return {"state": state, "device": gpu, "command": COMMAND}


@st.cache_data(show_spinner=False, max_entries=4)
def _stored(path: str, stamp: float) -> pd.DataFrame:
    rows = [
        row
        for row in pruning_core.load_gpu_results(path)
        if row.get("status", "ok") == "ok" and isinstance(row.get("speedup"), int | float)
    ]
    return pd.DataFrame(rows, columns=None if rows else ["device", "date", "speedup"])


@st.cache_resource(show_spinner=False)
def cuda_device() -> str | None:
    """This machine's CUDA GPU name, or ``None`` (checked once per dashboard process).

    Without an NVIDIA driver there is no need to import torch (seconds) to know.
    """
    if not Path("/proc/driver/nvidia").exists() and not Path("/dev/nvidia0").exists():
        return None
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


@st.cache_resource(show_spinner=False)
def _job() -> dict[str, Any]:
    return {}


def measure_now() -> None:
    """Start the quick 2:4 benchmark on this machine's GPU in the background (once)."""
    job = _job()
    if job.get("process") is not None and job["process"].poll() is None:
        return
    where = folder()
    where.mkdir(parents=True, exist_ok=True)
    with (where / "live_measurement.log").open("ab") as log:
        job["process"] = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.gpu_2of4", "--quick", "--out", str(where)],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
