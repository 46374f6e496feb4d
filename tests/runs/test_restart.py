"""A profile job survives cancel, a worker restart and a killed worker, resuming from its cache."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest
from store_driver import StoreDriver

from pruning_core.runs.launcher import ensure_worker, stop_workers
from pruning_core.runs.liveness import pid_alive
from pruning_core.runs.store import RunStore
from pruning_core.sensitivity.job import ProfileCache, cache_key
from pruning_core.sensitivity.profile import parse_job

# digits_vit: 18 profiled layers x 3 sparsities, a few seconds: time to interfere
JOB = {"model": "digits_vit", "sparsities": [0.5, 0.8, 0.95], "latency": False}


def _cache(store: RunStore, job: dict[str, Any]) -> ProfileCache:
    return ProfileCache(store.root / "sensitivity_cache", cache_key(parse_job(job)))


def test_stopped_worker_requeues_the_job_and_the_next_one_resumes(driver: StoreDriver) -> None:
    store = driver.store
    run_id = store.enqueue(parse_job(JOB).model_dump(mode="json"), label="sensitivity")
    cache = _cache(store, JOB)
    worker, thread = driver.start_worker()
    driver.wait(lambda: len(cache.rows()) >= 3)
    worker.stop()
    thread.join(60)
    assert driver.record(run_id).state == "queued"
    kept = len(cache.rows())
    summary = driver.finish(run_id).summary
    assert summary is not None
    assert summary["points"] == 54 and summary["reused_points"] == kept >= 3


def test_cancelled_job_queued_again_resumes_from_its_cache(driver: StoreDriver) -> None:
    store = driver.store
    job = parse_job({**JOB, "seed": 1}).model_dump(mode="json")
    run_id = store.enqueue(job, label="sensitivity")
    cache = _cache(store, job)
    _, thread = driver.start_worker()
    driver.wait(lambda: len(cache.rows()) >= 3)
    assert store.request_cancel(run_id) == "running"
    thread.join(60)
    assert driver.record(run_id).state == "cancelled"
    kept = len(cache.rows())
    again = store.enqueue(driver.record(run_id).recipe, label="again")  # "Queue again"
    summary = driver.finish(again).summary
    assert summary is not None
    assert summary["reused_points"] == kept >= 3 and summary["points"] == 54


@pytest.mark.slow
def test_killed_worker_fails_the_job_and_a_new_one_resumes(driver: StoreDriver) -> None:
    store = driver.store
    job = parse_job({**JOB, "seed": 2}).model_dump(mode="json")
    run_id = store.enqueue(job, label="sensitivity")
    cache = _cache(store, job)
    pid = ensure_worker(store)
    try:
        assert pid is not None
        driver.wait(lambda: len(cache.rows()) >= 3)
        os.kill(pid, signal.SIGKILL)
        driver.wait(lambda: not pid_alive(pid), 10)
        assert store.recover() == [run_id]
        assert driver.record(run_id).state == "failed"
    finally:
        stop_workers(store)
    kept = len(cache.rows())  # a torn last line of the killed process is ignored
    summary = driver.finish(store.enqueue(job, label="again")).summary
    assert summary is not None and summary["reused_points"] == kept >= 3
