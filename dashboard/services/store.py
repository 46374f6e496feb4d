"""The run store as the pages see it: queue runs, read them, cancel, start a worker."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import streamlit as st

from pruning_core.runs.executors import describe_executor
from pruning_core.runs.launcher import startup_failure
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


def worker_lines() -> list[str]:
    """One human line per live worker."""
    return [
        f"pid {w.pid} on {w.host}: {w.state}" + (f" (run #{w.run_id})" if w.run_id else "")
        for w in store().workers()
    ]


def executor_info() -> dict[str, Any]:
    """What serves the queue: the local worker or a Ray cluster (see ``describe_executor``)."""
    return describe_executor(store())


def worker_problem() -> str | None:
    """Why the last worker could not start (end of its log), if it could not."""
    return startup_failure(store())


def recover() -> list[int]:
    """Mark the runs of dead workers failed (with the reason); returns their ids."""
    return store().recover()


def queue_run(recipe: Any) -> int:
    """Put one run in the queue."""
    return store().enqueue(recipe, label="single")


def queue_sweep(recipes: list[Any], name: str = "sweep") -> list[int]:
    """Queue a sweep's recipes under one new sweep id (``<name> <date> <tag>``)."""
    sweep_id = f"{name} {time.strftime('%m-%d %H:%M:%S')} {os.urandom(2).hex()}"
    return store().enqueue_many(recipes, label=name, sweep=sweep_id)


def cancel(run_id: int) -> str | None:
    """Cancel a queued or running run."""
    return store().request_cancel(run_id)


def queue_again(run_id: int) -> int | None:
    """Queue a new run with the same recipe as ``run_id``."""
    record = store().get(run_id)
    return store().enqueue(record.recipe, label=f"again #{run_id}") if record else None


def delete_runs(run_ids: list[int]) -> dict[str, Any]:
    """Delete finished runs and their artifact folders.

    Returns:
        ``deleted`` (ids), ``kept`` (ids still queued or running, never deleted),
        ``files`` and ``bytes`` removed from disk.
    """
    deleted = store().delete(run_ids)
    files = size = 0
    for run_id in deleted:
        folder = store().artifacts_dir(run_id)
        found = [path for path in folder.rglob("*") if path.is_file()] if folder.is_dir() else []
        files += len(found)
        size += sum(path.stat().st_size for path in found)
        shutil.rmtree(folder, ignore_errors=True)
    kept = [run_id for run_id in run_ids if run_id not in deleted]
    return {"deleted": deleted, "kept": kept, "files": files, "bytes": size}


def artifact_path(run_id: int, name: str) -> Path:
    """Path of one artifact file of a run."""
    return store().artifacts_dir(run_id) / name
