"""The queue as a user waits on it: positions, ETAs, and the lifetime of our worker.

Positions follow the store's own claim order (``RunStore.queued_ids``: sensitivity
profiles first, then oldest first). ETAs come from similar finished runs: same model,
structure, schedule and finetune budget (or, failing those, the same model).

A worker this dashboard process started is stopped when the process exits (a normal
shutdown: Ctrl-C or SIGTERM), so it never lingers as an orphan; the sidebar can also
stop the store's workers at any time (the run in progress goes back to the queue).
"""

from __future__ import annotations

import atexit
import os
import time
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.charts import queue as queue_table
from dashboard.services.store import AUTOSTART_ENV, store
from pruning_core.runs.launcher import ensure_worker, stop_spawned_workers, stop_workers

_STARTED: set[int] = set()  # pids of the workers this dashboard process started


def start_worker_if_needed() -> int | None:
    """Start a worker process if runs wait and none is alive; returns its pid if started."""
    if os.environ.get(AUTOSTART_ENV, "1") == "0" or store().counts()["queued"] == 0:
        return None
    pid = ensure_worker(store())
    if pid is not None:
        _STARTED.add(pid)
        _stop_at_exit()
    return pid


@st.cache_resource(show_spinner=False)
def _stop_at_exit() -> bool:
    """Register (once per process) the exit hook that stops the workers we started."""
    atexit.register(stop_started_workers)
    return True


def stop_started_workers(timeout_s: float = 10.0) -> list[int]:
    """SIGTERM the live workers this process started and wait for them; returns their pids."""
    stopped = stop_spawned_workers(timeout_s)
    _STARTED.difference_update(stopped)
    return stopped


def stop_all_workers() -> list[int]:
    """Stop every live worker of the store on this machine (running runs go back to the queue)."""
    stopped = stop_workers(store())
    _STARTED.difference_update(stopped)
    return stopped


def queue_view() -> pd.DataFrame:
    """Queued and running runs with ``position`` (1 = next) and ``eta_s`` (seconds to done)."""
    return _queue_view(str(store().path), store().fingerprint(), int(time.time() // 5))


@st.cache_data(show_spinner=False, max_entries=8)
def _queue_view(path: str, fingerprint: tuple[Any, ...], tick: int) -> pd.DataFrame:
    records = store().list_runs(("queued", "running", "done"))
    active = [r for r in records if r.state in ("queued", "running")]
    done = [r for r in records if r.state == "done" and r.started and r.finished]
    workers = max(1, len(store().workers()))
    return queue_table.queue_view(
        [r.__dict__ for r in active], [r.__dict__ for r in done], store().queued_ids(), workers,
        time.time(),
    )  # fmt: skip
