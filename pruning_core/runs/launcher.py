"""Start and stop worker processes for a store, without importing the engine.

The dashboard uses these to make sure a worker serves its queue; the worker itself
(:mod:`pruning_core.runs.worker`) imports torch and the pipeline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pruning_core.runs.liveness import pid_alive, this_host, worker_is_dead
from pruning_core.runs.records import WorkerRecord
from pruning_core.runs.store import RunStore

RESPAWN_AFTER_S = 60.0  # after a worker died while starting, wait this long before another
_spawned: list[subprocess.Popen[bytes]] = []  # kept so that exited workers get reaped


def ensure_worker(store: RunStore, log_file: Path | None = None) -> int | None:
    """Start a worker process for ``store`` unless a live one exists.

    Check and start happen in one write transaction, so two dashboard sessions never
    start two workers at once. The worker outlives the dashboard on purpose: queued
    and running runs go on when the browser or the dashboard goes away.

    Returns:
        The new worker's pid, or ``None`` when one is already alive (or starting), or
        when the last one died while starting less than a minute ago (see its log).
    """
    for process in list(_spawned):
        if process.poll() is not None:  # reap exited workers so they do not linger as zombies
            _spawned.remove(process)
    store.recover()
    with store.transaction() as db:
        rows = db.execute("SELECT * FROM workers").fetchall()
        workers = [WorkerRecord.from_row(row) for row in rows]
        if any(not worker_is_dead(worker, time.time()) for worker in workers):
            return None
        if any(w.state == "crashed" and time.time() - w.started < RESPAWN_AFTER_S for w in workers):
            return None  # the last one died while starting: do not restart it in a loop
        with (log_file or store.root / "worker.log").open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "pruning_core.cli", "worker", "--store", str(store.path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        _spawned.append(process)
        now = time.time()
        db.execute(
            "INSERT OR REPLACE INTO workers (id, pid, host, state, started, heartbeat) "
            "VALUES (?, ?, ?, 'starting', ?, ?)",
            (f"{this_host()}:{process.pid}", process.pid, this_host(), now, now),
        )
    return process.pid


def startup_failure(store: RunStore, lines: int = 3) -> str | None:
    """The end of the worker log when the newest worker died while starting, else ``None``."""
    workers = store.workers(include_gone=True)
    newest = max(workers, key=lambda worker: worker.started, default=None)
    if newest is None or newest.state != "crashed":
        return None
    log = store.root / "worker.log"
    tail = log.read_text(errors="replace").strip().splitlines()[-lines:] if log.is_file() else []
    return "\n".join(tail) or f"worker pid {newest.pid} exited while starting"


def stop_workers(store: RunStore, timeout_s: float = 15.0) -> list[int]:
    """SIGTERM the live workers of ``store`` on this host and wait for them; returns their pids."""
    pids = [w.pid for w in store.workers() if w.host == this_host() and w.pid != os.getpid()]
    return _terminate(pids, timeout_s)


def stop_spawned_workers(timeout_s: float = 10.0) -> list[int]:
    """Stop the workers this process started (e.g. when the dashboard that started them exits)."""
    return _terminate([process.pid for process in _spawned], timeout_s)


def _terminate(pids: list[int], timeout_s: float) -> list[int]:
    """SIGTERM ``pids``, reap our own children, SIGKILL what is still alive at the deadline."""
    pids = [pid for pid in pids if pid_alive(pid)]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    deadline = time.time() + timeout_s
    for process in [p for p in _spawned if p.pid in pids]:  # our children: wait() reaps them
        try:
            process.wait(max(deadline - time.time(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        _spawned.remove(process)
    while any(pid_alive(pid) for pid in pids) and time.time() < deadline:
        time.sleep(0.1)
    for pid in filter(pid_alive, pids):
        os.kill(pid, signal.SIGKILL)
    return pids
