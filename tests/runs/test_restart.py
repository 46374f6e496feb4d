"""A profile job survives cancel, a worker restart and a killed worker, resuming from its cache."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from pruning_core.runs.liveness import pid_alive
from pruning_core.runs.store import RunRecord, RunStore
from pruning_core.sensitivity.profile import parse_job
from pruning_core.sensitivity.job import ProfileCache, cache_key
from pruning_core.runs.launcher import ensure_worker, stop_workers
from pruning_core.runs.worker import Worker

# digits_vit: 18 profiled layers x 3 sparsities, a few seconds: time to interfere
JOB = {"model": "digits_vit", "sparsities": [0.5, 0.8, 0.95], "latency": False}


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _cache(store: RunStore, job: dict[str, Any]) -> ProfileCache:
    return ProfileCache(store.root / "sensitivity_cache", cache_key(parse_job(job)))


def _wait(check: Callable[[], bool], timeout_s: float = 240) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise TimeoutError("condition not met")


def _state(store: RunStore, run_id: int) -> RunRecord:
    record = store.get(run_id)
    assert record is not None
    return record


def _worker_thread(store: RunStore) -> tuple[Worker, threading.Thread]:
    worker = Worker(store, poll_s=0.1)
    thread = threading.Thread(target=worker.run, kwargs={"once": True})
    thread.start()
    return worker, thread


def _finish(store: RunStore, run_id: int) -> dict[str, Any]:
    Worker(store, poll_s=0.1).run(once=True)
    record = _state(store, run_id)
    assert record.state == "done", record.error
    assert record.summary is not None
    return record.summary


def test_stopped_worker_requeues_the_job_and_the_next_one_resumes(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite")
    run_id = store.enqueue(parse_job(JOB).model_dump(mode="json"), label="sensitivity")
    cache = _cache(store, JOB)
    worker, thread = _worker_thread(store)
    _wait(lambda: len(cache.rows()) >= 3)
    worker.stop()
    thread.join(60)
    assert _state(store, run_id).state == "queued"
    kept = len(cache.rows())
    summary = _finish(store, run_id)
    assert summary["points"] == 54 and summary["reused_points"] == kept >= 3


def test_cancelled_job_queued_again_resumes_from_its_cache(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite")
    job = parse_job({**JOB, "seed": 1}).model_dump(mode="json")
    run_id = store.enqueue(job, label="sensitivity")
    cache = _cache(store, job)
    _, thread = _worker_thread(store)
    _wait(lambda: len(cache.rows()) >= 3)
    assert store.request_cancel(run_id) == "running"
    thread.join(60)
    assert _state(store, run_id).state == "cancelled"
    kept = len(cache.rows())
    again = store.enqueue(_state(store, run_id).recipe, label="again")  # "Queue again"
    summary = _finish(store, again)
    assert summary["reused_points"] == kept >= 3 and summary["points"] == 54


@pytest.mark.slow
def test_killed_worker_fails_the_job_and_a_new_one_resumes(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite")
    job = parse_job({**JOB, "seed": 2}).model_dump(mode="json")
    run_id = store.enqueue(job, label="sensitivity")
    cache = _cache(store, job)
    pid = ensure_worker(store)
    try:
        assert pid is not None
        _wait(lambda: len(cache.rows()) >= 3)
        os.kill(pid, signal.SIGKILL)
        _wait(lambda: not pid_alive(pid), 10)
        assert store.recover() == [run_id]
        assert _state(store, run_id).state == "failed"
    finally:
        stop_workers(store)
    kept = len(cache.rows())  # a torn last line of the killed process is ignored
    summary = _finish(store, store.enqueue(job, label="again"))
    assert summary["reused_points"] == kept >= 3
