"""The worker with the real engine: results, failures, cancel, stop, SIGKILL recovery."""

from __future__ import annotations

import os
import signal

import pytest
from store_driver import StoreDriver
from tiny_model import TinyModel

from pruning_core.runs.launcher import ensure_worker, stop_workers
from pruning_core.runs.liveness import pid_alive
from pruning_core.runs.store import RunStore

LONG = {"finetune": {"epochs": 1000, "batch_size": 16}}  # minutes of work: time to interfere


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


def test_cancel_reaches_a_running_run(driver: StoreDriver, tiny_model: TinyModel) -> None:
    run_id = driver.store.enqueue(tiny_model.queued(**LONG))
    _, thread = driver.start_worker()
    driver.wait(lambda: driver.record(run_id).phase == "finetune")
    assert driver.store.request_cancel(run_id) == "running"
    thread.join(60)
    cancelled = driver.record(run_id)
    assert cancelled.state == "cancelled" and cancelled.error is None


def test_stopping_a_worker_requeues_its_run(driver: StoreDriver, tiny_model: TinyModel) -> None:
    run_id = driver.store.enqueue(tiny_model.queued(**LONG))
    worker, thread = driver.start_worker()
    driver.wait(lambda: driver.record(run_id).phase == "finetune")
    worker.stop()
    thread.join(60)
    requeued = driver.record(run_id)
    assert requeued.state == "queued" and "worker was stopped" in requeued.message


@pytest.mark.slow
def test_sigkilled_worker_fails_its_run_and_the_queue_goes_on(
    driver: StoreDriver, tiny_model: TinyModel
) -> None:
    store = driver.store
    doomed = store.enqueue(tiny_model.queued(**LONG))
    waiting = store.enqueue(tiny_model.queued(structure="2:4"))
    first = ensure_worker(store)  # what the dashboard does when runs are queued
    try:
        assert first is not None
        assert ensure_worker(store) is None  # one is starting: no second worker
        driver.wait(lambda: driver.record(doomed).phase == "finetune")
        os.kill(first, signal.SIGKILL)
        driver.wait(lambda: not pid_alive(first), 10)
        assert store.recover() == [doomed]
        failed = driver.record(doomed)
        assert failed.state == "failed"
        assert f"pid {first}) died during 'finetune'" in (failed.error or "")
        assert driver.record(waiting).state == "queued"
        second = ensure_worker(store)  # a worker is back ...
        assert second is not None and second != first
        driver.wait(lambda: driver.record(waiting).state in ("done", "failed"))
        done = driver.record(waiting)
        assert done.state == "done", done.error  # ... and the queue continues
    finally:
        stop_workers(store)
    assert not [worker for worker in store.workers() if pid_alive(worker.pid)]
