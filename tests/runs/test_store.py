"""The SQLite run store on its own: queue, claim, progress, cancel, recovery (no engine)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pruning_core.runs.launcher import ensure_worker, startup_failure
from pruning_core.runs.liveness import pid_alive, this_host
from pruning_core.runs.store import RunStore

RECIPE = {"model": "digits_mlp", "criterion": "magnitude"}


def test_queue_is_first_in_first_out(store: RunStore) -> None:
    ids = store.enqueue_many([RECIPE, {**RECIPE, "seed": 1}], sweep="s")
    store.register_worker("w", 1, "elsewhere")
    assert store.claim("w").id == ids[0]  # type: ignore[union-attr]
    assert store.claim("w").id == ids[1]  # type: ignore[union-attr]
    assert store.claim("w") is None
    run = store.get(ids[1])
    assert run is not None and run.state == "running" and run.worker == "w" and run.sweep == "s"
    assert run.recipe == {**RECIPE, "seed": 1}
    assert store.counts() == {"queued": 0, "running": 2, "done": 0, "failed": 0, "cancelled": 0}


def test_store_creates_its_folder_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "store" / "runs.sqlite"
    run_id = RunStore(path).enqueue(RECIPE)
    again = RunStore(path)
    assert again.get(run_id) is not None and again.get(run_id).state == "queued"  # type: ignore[union-attr]
    assert again.artifacts_dir(run_id) == path.parent / "artifacts" / str(run_id)


def test_progress_and_finish_belong_to_the_claiming_worker(store: RunStore) -> None:
    run_id = store.enqueue(RECIPE)
    store.claim("w1")
    assert store.update_progress(run_id, "w1", "finetune", 1.7, "step 3") is False
    run = store.get(run_id)
    assert run is not None and (run.phase, run.progress, run.message) == ("finetune", 1.0, "step 3")
    assert not store.finish(run_id, "intruder", "done")
    assert store.finish(run_id, "w1", "done", summary={"test_accuracy": 0.9})
    run = store.get(run_id)
    assert run is not None and run.state == "done" and run.summary == {"test_accuracy": 0.9}
    assert run.finished is not None and run.progress == 1.0
    with pytest.raises(ValueError, match="state must be"):
        store.finish(run_id, "w1", "running")


def test_cancel_queued_at_once_and_running_through_the_flag(store: RunStore) -> None:
    queued, running = store.enqueue(RECIPE), store.enqueue(RECIPE)
    store.register_worker("w", 1, "elsewhere")
    assert store.claim("w").id == queued  # type: ignore[union-attr]
    assert store.request_cancel(running) == "cancelled"  # still queued: cancelled at once
    assert store.get(running).state == "cancelled"  # type: ignore[union-attr]
    assert store.request_cancel(queued) == "running"  # the worker stops it at its next check
    assert store.cancel_requested(queued)
    assert store.update_progress(queued, "w", "prune", 0.5, "") is True
    store.finish(queued, "w", "cancelled")
    assert store.request_cancel(queued) is None  # already finished
    assert store.request_cancel(9999) is None


def test_requeue_gives_a_run_back(store: RunStore) -> None:
    run_id = store.enqueue(RECIPE)
    store.claim("w")
    assert store.requeue(run_id, "w")
    run = store.get(run_id)
    assert run is not None and run.state == "queued" and run.worker is None
    assert store.claim("w2").id == run_id  # type: ignore[union-attr]


def test_delete_only_finished_runs(store: RunStore) -> None:
    done, queued = store.enqueue(RECIPE), store.enqueue(RECIPE)
    store.claim("w")
    store.finish(done, "w", "failed", error="boom")
    assert store.delete([done, queued]) == [done]
    assert store.get(done) is None and store.get(queued) is not None


def test_recover_fails_the_run_of_a_dead_process(store: RunStore) -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()  # a pid that existed and is gone now
    store.register_worker("ghost", process.pid, this_host())
    run_id = store.enqueue(RECIPE)
    store.claim("ghost")
    store.update_progress(run_id, "ghost", "finetune", 0.4, "")
    assert store.recover() == [run_id]
    run = store.get(run_id)
    assert run is not None and run.state == "failed"
    assert "died during 'finetune' at 40%" in (run.error or "")
    assert "SIGKILL" in (run.error or "")
    assert [w.state for w in store.workers(include_gone=True)] == ["dead"]
    assert store.recover() == []  # idempotent


def test_recover_uses_heartbeats_for_other_hosts(store: RunStore) -> None:
    store.register_worker("remote", 12345, "another-host")
    run_id = store.enqueue(RECIPE)
    store.claim("remote")
    assert store.recover(timeout_s=60) == []  # fresh heartbeat: alive
    time.sleep(0.3)
    assert store.recover(timeout_s=0.1) == [run_id]
    assert "no heartbeat" in (store.get(run_id).error or "")  # type: ignore[union-attr]


def test_recover_leaves_live_workers_alone(store: RunStore) -> None:
    store.register_worker("me", os.getpid(), this_host())
    run_id = store.enqueue(RECIPE)
    store.claim("me")
    assert store.recover() == []
    assert store.get(run_id).state == "running"  # type: ignore[union-attr]


def test_pid_alive() -> None:
    assert pid_alive(os.getpid())
    assert not pid_alive(0)


_CLAIMER = """
import json, sys, time
from pruning_core.runs.store import RunStore
store = RunStore(sys.argv[1])
start = float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
claimed = []
while (record := store.claim(sys.argv[3])) is not None:
    claimed.append(record.id)
print(json.dumps(claimed))
"""


def test_concurrent_workers_never_claim_the_same_run(store: RunStore) -> None:
    ids = store.enqueue_many([{**RECIPE, "seed": i} for i in range(60)])
    start = time.time() + 2.0  # let all processes start, then race
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _CLAIMER, str(store.path), str(start), f"w{i}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    claimed = [json.loads(process.communicate(timeout=60)[0]) for process in processes]
    flat = [run_id for part in claimed for run_id in part]
    assert sorted(flat) == ids  # every run claimed exactly once
    for worker, part in enumerate(claimed):
        assert all(store.get(run_id).worker == f"w{worker}" for run_id in part)  # type: ignore[union-attr]


def test_a_worker_dying_while_starting_is_not_restarted_in_a_loop(store: RunStore) -> None:
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(1)"])
    process.wait()  # like a worker whose imports failed
    store.register_worker(f"{this_host()}:{process.pid}", process.pid, this_host(), "starting")
    (store.root / "worker.log").write_text(
        "Traceback ...\nModuleNotFoundError: No module named 'x'\n"
    )
    store.enqueue(RECIPE)
    assert store.recover() == []
    assert [w.state for w in store.workers(include_gone=True)] == ["crashed"]
    assert ensure_worker(store) is None  # no respawn loop; the dashboard shows the log instead
    assert startup_failure(store) == "Traceback ...\nModuleNotFoundError: No module named 'x'"
