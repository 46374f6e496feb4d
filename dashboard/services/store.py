"""The run store as the pages see it: queue runs, read them, cancel, start a worker."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import streamlit as st

from pruning_core.runs.launcher import ensure_worker, startup_failure
from pruning_core.runs.store import RunStore, default_store_path

AUTOSTART_ENV = "PRUNING_CORE_AUTOSTART_WORKER"  # "0": never start a worker (tests)


def _store_arg() -> str | None:
    """``--store PATH`` after ``--`` on the ``streamlit run`` command line, if given."""
    args = sys.argv[1:]
    return args[args.index("--store") + 1] if "--store" in args[:-1] else None


@st.cache_resource(show_spinner=False)
def _open_store(path: str) -> RunStore:
    return RunStore(path)


def store() -> RunStore:
    """The run store: ``-- --store PATH``, ``$PRUNING_CORE_STORE`` or ``./runs/runs.sqlite``."""
    path = Path(_store_arg() or default_store_path()).resolve()
    return _open_store(str(path / "runs.sqlite" if path.is_dir() else path))


def start_worker_if_needed() -> int | None:
    """Start a worker process if runs wait and none is alive; returns its pid if started."""
    if os.environ.get(AUTOSTART_ENV, "1") == "0" or store().counts()["queued"] == 0:
        return None
    return ensure_worker(store())


def worker_lines() -> list[str]:
    """One human line per live worker."""
    return [
        f"pid {w.pid} on {w.host}: {w.state}" + (f" (run #{w.run_id})" if w.run_id else "")
        for w in store().workers()
    ]


def worker_problem() -> str | None:
    """Why the last worker could not start (end of its log), if it could not."""
    return startup_failure(store())


def recover() -> list[int]:
    """Mark the runs of dead workers failed (with the reason); returns their ids."""
    return store().recover()


def queue_run(recipe: Any) -> int:
    """Put one run in the queue."""
    return store().enqueue(recipe, label="single")


def queue_sweep(recipes: list[Any]) -> list[int]:
    """Queue a sweep's recipes under one new sweep id."""
    sweep_id = f"sweep {time.strftime('%m-%d %H:%M:%S')} {os.urandom(2).hex()}"
    return store().enqueue_many(recipes, label="sweep", sweep=sweep_id)


def cancel(run_id: int) -> str | None:
    """Cancel a queued or running run."""
    return store().request_cancel(run_id)


def queue_again(run_id: int) -> int | None:
    """Queue a new run with the same recipe as ``run_id``."""
    record = store().get(run_id)
    return store().enqueue(record.recipe, label=f"again #{run_id}") if record else None


def delete_run(run_id: int) -> bool:
    """Delete a finished run and its artifacts."""
    if not store().delete([run_id]):
        return False
    shutil.rmtree(store().artifacts_dir(run_id), ignore_errors=True)
    return True


def artifact_path(run_id: int, name: str) -> Path:
    """Path of one artifact file of a run."""
    return store().artifacts_dir(run_id) / name
