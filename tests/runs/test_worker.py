"""The worker with the real engine: results, failures, cancel, stop, SIGKILL recovery."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pruning_core.runs.liveness import pid_alive
from pruning_core.runs.store import RunRecord, RunStore
from pruning_core.runs.launcher import ensure_worker, stop_workers
from pruning_core.runs.worker import Worker

pytest_plugins = ["conftest_dashboard"]
Recipe = Callable[..., dict[str, Any]]

LONG = {"finetune": {"epochs": 1000, "batch_size": 16}}  # minutes of work: time to interfere


def wait_for(
    store: RunStore, run_id: int, check: Callable[[RunRecord], bool], timeout_s: float = 240
) -> RunRecord:
    """Poll the store until ``check`` holds for the run."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        record = store.get(run_id)
        if record is not None and check(record):
            return record
        time.sleep(0.1)
    raise TimeoutError(f"run {run_id}: {store.get(run_id)}")


def test_worker_finishes_fails_and_skips_cancelled_runs(filled_store: RunStore) -> None:
    runs = {run.id: run for run in filled_store.list_runs()}
    assert [runs[i].state for i in range(1, 13)] == ["done"] * 10 + ["failed", "cancelled"]
    done = runs[2]
    assert done.summary is not None and done.summary["criterion"] == "taylor"
    assert done.summary["structure"] == "2:4" and done.summary["sparsity_pruned_layers"] == 0.5
    assert done.progress == 1.0 and done.phase == "done"
    for name in ("recipe.yaml", "results.json", "layers.csv", "model.safetensors"):
        assert (filled_store.artifacts_dir(2) / name).is_file()
    assert runs[11].error_field == "skip_layers" and "matches no prunable layer" in (
        runs[11].error or ""
    )
    assert not filled_store.artifacts_dir(12).exists()
    assert all(worker.state == "stopped" for worker in filled_store.workers(include_gone=True))


def _run_in_thread(store: RunStore) -> tuple[Worker, threading.Thread]:
    worker = Worker(store, poll_s=0.1)
    thread = threading.Thread(target=worker.run, kwargs={"once": True})
    thread.start()
    return worker, thread


def test_cancel_reaches_a_running_run(tmp_path: Path, mlp_weights: Path, recipe: Recipe) -> None:
    store = RunStore(tmp_path / "runs.sqlite")
    run_id = store.enqueue(recipe(**LONG))
    _, thread = _run_in_thread(store)
    wait_for(store, run_id, lambda r: r.phase == "finetune")
    assert store.request_cancel(run_id) == "running"
    thread.join(60)
    record = store.get(run_id)
    assert record is not None and record.state == "cancelled" and record.error is None


def test_stopping_a_worker_requeues_its_run(
    tmp_path: Path, mlp_weights: Path, recipe: Recipe
) -> None:
    store = RunStore(tmp_path / "runs.sqlite")
    run_id = store.enqueue(recipe(**LONG))
    worker, thread = _run_in_thread(store)
    wait_for(store, run_id, lambda r: r.phase == "finetune")
    worker.stop()
    thread.join(60)
    record = store.get(run_id)
    assert (
        record is not None and record.state == "queued" and "worker was stopped" in record.message
    )


def test_sigkilled_worker_fails_its_run_and_the_queue_goes_on(
    tmp_path: Path, mlp_weights: Path, recipe: Recipe
) -> None:
    store = RunStore(tmp_path / "runs.sqlite")
    doomed = store.enqueue(recipe(**LONG))
    waiting = store.enqueue(recipe(structure="2:4"))
    first = ensure_worker(store)  # what the dashboard does when runs are queued
    try:
        assert first is not None
        assert ensure_worker(store) is None  # one is starting: no second worker
        wait_for(store, doomed, lambda r: r.phase == "finetune")
        os.kill(first, signal.SIGKILL)
        deadline = time.time() + 10
        while pid_alive(first) and time.time() < deadline:
            time.sleep(0.05)
        assert store.recover() == [doomed]
        failed = store.get(doomed)
        assert failed is not None and failed.state == "failed"
        assert f"pid {first}) died during 'finetune'" in (failed.error or "")
        assert store.get(waiting).state == "queued"  # type: ignore[union-attr]
        second = ensure_worker(store)  # a worker is back ...
        assert second is not None and second != first
        done = wait_for(store, waiting, lambda r: r.state in ("done", "failed"))
        assert done.state == "done", done.error  # ... and the queue continues
    finally:
        stop_workers(store)
    assert not [worker for worker in store.workers() if pid_alive(worker.pid)]
