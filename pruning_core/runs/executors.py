"""Executors: where runs execute. ``local`` (the default) or ``ray`` (a Ray cluster).

- ``local``: today's worker process takes runs from the store one at a time and runs
  them on this machine (:class:`pruning_core.runs.worker.Worker`); a sweep runs its
  recipes one after the other in the command's process. Nothing extra to install.
- ``ray``: a head process beside the store sends each run to a Ray cluster as one task
  (:class:`pruning_core.runs.ray_worker.RayWorker`); a sweep sends all its runs at once
  (:func:`pruning_core.runs.ray_sweep.ray_sweep`). Needs the ``ray`` extra.

Importing this module imports neither torch nor ray: the dashboard calls
:func:`describe_executor` for its sidebar, and ``ray`` is imported only when a command
uses it. ``$PRUNING_CORE_EXECUTOR`` and ``$PRUNING_CORE_RAY_ADDRESS`` set the defaults
of ``pruning-core worker``, so a dashboard started with them spawns a Ray head.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pruning_core.errors import UserInputError, shorten
from pruning_core.runs.liveness import worker_is_dead
from pruning_core.runs.ray_cluster import LOCAL, check_address, connect
from pruning_core.runs.ray_sweep import ray_sweep
from pruning_core.runs.ray_worker import EXECUTOR_FILE, RayWorker
from pruning_core.runs.store import RunStore

if TYPE_CHECKING:
    from pruning_core.recipe import Recipe

EXECUTORS = ("local", "ray")
EXECUTOR_ENV = "PRUNING_CORE_EXECUTOR"
ADDRESS_ENV = "PRUNING_CORE_RAY_ADDRESS"


def check_executor(name: str | None) -> str:
    """``local`` or ``ray`` (default: ``$PRUNING_CORE_EXECUTOR``, else ``local``)."""
    name = (name or os.environ.get(EXECUTOR_ENV) or "local").strip().lower()
    if name not in EXECUTORS:
        raise UserInputError(
            "executor", f"'{shorten(name)}' is not an executor; use one of {', '.join(EXECUTORS)}"
        )
    return name


def configured_address(address: str | None) -> str | None:
    """``--ray-address`` as given, else ``$PRUNING_CORE_RAY_ADDRESS``, checked."""
    return check_address(address if address is not None else os.environ.get(ADDRESS_ENV))


def describe_executor(store: RunStore | None = None) -> dict[str, Any]:
    """What runs the queue, for the dashboard's sidebar; torch- and ray-free, cheap.

    With a store served by a live Ray head, the head's last report (written every 10 s):
    ``{"executor": "ray", "address": ..., "cpus": 2.0, "gpus": 0.0, "nodes": 1,
    "ray_version": ..., "worker": "host:pid", "updated": unix time, "live": True}``.
    Otherwise the executor that ``pruning-core worker`` would use (from the environment),
    ``live`` telling whether a worker of the store is alive: for ``local`` the CPUs are this
    machine's and GPUs 0 (local runs use the CPU); for a configured but not running Ray
    head, the address and ``None`` for CPUs and GPUs (unknown until it connects).
    """
    report = _head_report(store) if store is not None else None
    if report is not None:
        return report
    live = store is not None and any(
        not worker_is_dead(worker, time.time()) for worker in store.workers()
    )
    try:
        name = check_executor(None)
        address = configured_address(None)
    except UserInputError as error:
        return {"executor": "invalid", "error": str(error), "live": live}
    if name == "ray":
        return {
            "executor": "ray",
            "address": address or LOCAL,
            "cpus": None,
            "gpus": None,
            "live": False,
        }
    return {
        "executor": "local",
        "address": None,
        "cpus": float(os.cpu_count() or 1),
        "gpus": 0.0,
        "live": live,
    }


def _head_report(store: RunStore) -> dict[str, Any] | None:
    path = store.root / EXECUTOR_FILE
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    heads = {worker.id: worker for worker in store.workers()}
    head = heads.get(str(report.get("worker")))
    if head is None or worker_is_dead(head, time.time()):
        return None  # a report left by a head that is gone
    return {**report, "live": True}


def serve(
    store: RunStore,
    executor: str = "local",
    address: str | None = None,
    plugins: list[str] | None = None,
    once: bool = False,
) -> None:
    """Serve the store's queue with ``executor`` until stopped (``once``: until it is empty).

    Raises:
        UserInputError: Ray is not installed or its cluster cannot be reached.
        ClusterLost: the connection to the Ray cluster failed while runs were in flight.
    """
    if executor == "local":
        from pruning_core.runs.worker import Worker  # imports torch: only for this executor

        Worker(store).run(once=once)
        return
    with connect(address) as cluster:
        RayWorker(store, cluster, plugins).run(once=once)


def sweep_rows(
    recipes: list[Recipe],
    executor: str = "local",
    address: str | None = None,
    runs_dir: Path | None = None,
    on_run: Callable[[int, Recipe], None] | None = None,
    plugins: list[str] | None = None,
    on_retry: Callable[[int, str], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """The summary rows of a sweep, in order, computed by ``executor``."""
    if executor == "local":
        from pruning_core.pipeline.sweep import run_sweep  # imports torch

        yield from run_sweep(recipes, runs_dir, on_run)
        return
    with connect(address) as cluster:
        yield from ray_sweep(cluster, recipes, runs_dir, on_run, plugins, on_retry)
