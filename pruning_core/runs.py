"""The run store: a SQLite queue of runs shared by the dashboard and worker processes.

A run moves ``queued -> running -> done | failed | cancelled``. Workers claim runs in
one write transaction (two workers never get the same run), write progress from the
engine's callbacks and heartbeat while they work. A run whose worker stopped
heartbeating (killed, crashed, machine gone) is marked failed with the reason by the
next worker or dashboard that looks (:meth:`RunStore.recover`).

The store is a single file (default ``$PRUNING_CORE_STORE`` or ``./runs/runs.sqlite``);
artifacts live next to it, one folder per run id (``artifacts/<id>/``). This module
imports no torch: the dashboard reads the queue without loading the engine.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pruning_core.liveness import HEARTBEAT_TIMEOUT_S, worker_is_dead

if TYPE_CHECKING:
    from pruning_core.recipe import Recipe

STATES = ("queued", "running", "done", "failed", "cancelled")
FINISHED = ("done", "failed", "cancelled")
STORE_ENV = "PRUNING_CORE_STORE"

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    state TEXT NOT NULL CHECK (state IN ({", ".join(repr(s) for s in STATES)})),
    recipe TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    sweep TEXT,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    phase TEXT NOT NULL DEFAULT '',
    progress REAL NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    error TEXT,
    error_field TEXT,
    worker TEXT,
    heartbeat REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    summary TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_state ON runs (state, id);
CREATE TABLE IF NOT EXISTS workers (
    id TEXT PRIMARY KEY,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    state TEXT NOT NULL,
    started REAL NOT NULL,
    heartbeat REAL NOT NULL,
    run_id INTEGER
);
"""


def default_store_path() -> Path:
    """``$PRUNING_CORE_STORE`` if set, else ``./runs/runs.sqlite``."""
    return Path(os.environ.get(STORE_ENV) or Path("runs") / "runs.sqlite")


@dataclass(frozen=True)
class RunRecord:
    """One row of the queue, as read at one moment."""

    id: int
    state: str
    recipe: dict[str, Any]
    label: str
    sweep: str | None
    created: float
    started: float | None
    finished: float | None
    phase: str
    progress: float
    message: str
    error: str | None
    error_field: str | None
    worker: str | None
    heartbeat: float | None
    cancel_requested: bool
    summary: dict[str, Any] | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> RunRecord:
        """Decode a ``runs`` row (JSON columns parsed)."""
        data = dict(row)
        data["recipe"] = json.loads(data["recipe"])
        data["summary"] = json.loads(data["summary"]) if data["summary"] else None
        data["cancel_requested"] = bool(data["cancel_requested"])
        return cls(**data)


@dataclass(frozen=True)
class WorkerRecord:
    """One worker process as it last reported itself."""

    id: str
    pid: int
    host: str
    state: str  # starting | idle | busy | stopped | dead
    started: float
    heartbeat: float
    run_id: int | None


class RunStore:
    """The SQLite run queue. Safe to use from several processes and threads.

    Every method opens its own short-lived connection, so one instance may be shared
    by Streamlit sessions and a worker's heartbeat thread alike.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        """Open (and create if needed) the store at ``path`` (default: :func:`default_store_path`)."""
        self.path = Path(path) if path is not None else default_store_path()
        self.root = self.path.parent
        self.root.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            yield db
        finally:
            db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken up front, so read-then-update steps cannot interleave."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def artifacts_dir(self, run_id: int) -> Path:
        """Folder of one run's artifacts (recipe.yaml, results.json, layers.csv, model.safetensors)."""
        return self.root / "artifacts" / str(run_id)

    @property
    def uploads_dir(self) -> Path:
        """Folder of uploaded weights files referenced by recipes."""
        return self.root / "uploads"

    # -- queue ----------------------------------------------------------------------------

    def enqueue(
        self, recipe: Recipe | dict[str, Any], label: str = "", sweep: str | None = None
    ) -> int:
        """Add one run; returns its id."""
        return self.enqueue_many([recipe], label=label, sweep=sweep)[0]

    def enqueue_many(
        self, recipes: Iterable[Recipe | dict[str, Any]], label: str = "", sweep: str | None = None
    ) -> list[int]:
        """Add several runs in one transaction (a sweep); returns their ids in order."""
        now = time.time()
        ids = []
        with self._write() as db:
            for recipe in recipes:
                data = recipe if isinstance(recipe, dict) else recipe.model_dump(mode="json")
                cursor = db.execute(
                    "INSERT INTO runs (state, recipe, label, sweep, created) VALUES ('queued', ?, ?, ?, ?)",
                    (json.dumps(data), label, sweep, now),
                )
                ids.append(int(cursor.lastrowid or 0))
        return ids

    def get(self, run_id: int) -> RunRecord | None:
        """One run, or ``None`` if there is no such id."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return RunRecord.from_row(row) if row else None

    def list_runs(
        self, states: Iterable[str] | None = None, limit: int | None = None
    ) -> list[RunRecord]:
        """Runs, newest first, optionally only in ``states``."""
        query, args = "SELECT * FROM runs", []
        if states is not None:
            wanted = list(states)
            query += f" WHERE state IN ({', '.join('?' * len(wanted))})"
            args.extend(wanted)
        query += " ORDER BY id DESC"
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        with self._connect() as db:
            return [RunRecord.from_row(row) for row in db.execute(query, args)]

    def counts(self) -> dict[str, int]:
        """Number of runs in each state (every state present, zero if none)."""
        with self._connect() as db:
            rows = db.execute("SELECT state, COUNT(*) FROM runs GROUP BY state").fetchall()
        return {state: 0 for state in STATES} | {row[0]: int(row[1]) for row in rows}

    def sweeps(self) -> list[str]:
        """Sweep ids, newest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT sweep FROM runs WHERE sweep IS NOT NULL GROUP BY sweep ORDER BY MAX(id) DESC"
            ).fetchall()
        return [row[0] for row in rows]

    def claim(self, worker_id: str) -> RunRecord | None:
        """Take the oldest queued run for ``worker_id`` (atomically), or ``None`` if none waits."""
        now = time.time()
        with self._write() as db:
            row = db.execute(
                "SELECT id FROM runs WHERE state = 'queued' ORDER BY id LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE runs SET state = 'running', worker = ?, started = ?, heartbeat = ?, "
                "phase = 'start', progress = 0, message = '' WHERE id = ?",
                (worker_id, now, now, row[0]),
            )
            db.execute(
                "UPDATE workers SET state = 'busy', run_id = ?, heartbeat = ? WHERE id = ?",
                (row[0], now, worker_id),
            )
            claimed = db.execute("SELECT * FROM runs WHERE id = ?", (row[0],)).fetchone()
        return RunRecord.from_row(claimed)

    def update_progress(
        self, run_id: int, worker_id: str, phase: str, fraction: float, message: str
    ) -> bool:
        """Record progress of a running run; returns whether a cancel was requested."""
        now = time.time()
        with self._connect() as db:
            db.execute(
                "UPDATE runs SET phase = ?, progress = ?, message = ?, heartbeat = ? "
                "WHERE id = ? AND worker = ? AND state = 'running'",
                (phase, min(max(fraction, 0.0), 1.0), message, now, run_id, worker_id),
            )
            row = db.execute("SELECT cancel_requested FROM runs WHERE id = ?", (run_id,)).fetchone()
        return bool(row and row[0])

    def cancel_requested(self, run_id: int) -> bool:
        """Whether the user asked to cancel ``run_id``."""
        with self._connect() as db:
            row = db.execute("SELECT cancel_requested FROM runs WHERE id = ?", (run_id,)).fetchone()
        return bool(row and row[0])

    def finish(
        self,
        run_id: int,
        worker_id: str,
        state: str,
        summary: dict[str, Any] | None = None,
        error: str | None = None,
        error_field: str | None = None,
    ) -> bool:
        """Close a running run as done/failed/cancelled; False if the worker no longer owns it."""
        if state not in FINISHED:
            raise ValueError(f"state must be one of {FINISHED}, got {state!r}")
        now = time.time()
        with self._write() as db:
            cursor = db.execute(
                "UPDATE runs SET state = ?, finished = ?, summary = ?, error = ?, error_field = ?, "
                "progress = CASE WHEN ? = 'done' THEN 1 ELSE progress END, heartbeat = ? "
                "WHERE id = ? AND worker = ? AND state = 'running'",
                (
                    state,
                    now,
                    json.dumps(summary) if summary is not None else None,
                    error,
                    error_field,
                    state,
                    now,
                    run_id,
                    worker_id,
                ),
            )
            db.execute(
                "UPDATE workers SET state = 'idle', run_id = NULL WHERE id = ?", (worker_id,)
            )
        return cursor.rowcount == 1

    def requeue(self, run_id: int, worker_id: str) -> bool:
        """Give a running run back to the queue (its worker was asked to stop)."""
        with self._write() as db:
            cursor = db.execute(
                "UPDATE runs SET state = 'queued', worker = NULL, started = NULL, heartbeat = NULL, "
                "phase = '', progress = 0, message = 'returned to the queue: its worker stopped' "
                "WHERE id = ? AND worker = ? AND state = 'running'",
                (run_id, worker_id),
            )
        return cursor.rowcount == 1

    def request_cancel(self, run_id: int) -> str | None:
        """Cancel a run: queued ones at once, running ones at the worker's next check.

        Returns:
            The run's state afterwards (``cancelled`` or ``running``), or ``None`` if the
            run does not exist or had already finished.
        """
        with self._write() as db:
            row = db.execute("SELECT state FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None or row[0] in FINISHED:
                return None
            if row[0] == "queued":
                db.execute(
                    "UPDATE runs SET state = 'cancelled', finished = ?, message = "
                    "'cancelled before it started' WHERE id = ?",
                    (time.time(), run_id),
                )
                return "cancelled"
            db.execute(
                "UPDATE runs SET cancel_requested = 1, message = 'cancelling...' WHERE id = ?",
                (run_id,),
            )
            return "running"

    def delete(self, run_ids: Iterable[int]) -> list[int]:
        """Forget finished runs (rows only; the caller removes artifacts). Returns deleted ids."""
        ids = list(run_ids)
        with self._write() as db:
            deleted = [
                run_id
                for run_id in ids
                if db.execute(
                    "DELETE FROM runs WHERE id = ? AND state IN ('done', 'failed', 'cancelled')",
                    (run_id,),
                ).rowcount
            ]
        return deleted

    # -- workers --------------------------------------------------------------------------

    def register_worker(self, worker_id: str, pid: int, host: str, state: str = "idle") -> None:
        """Insert or refresh a worker's row."""
        now = time.time()
        with self._write() as db:
            db.execute(
                "INSERT INTO workers (id, pid, host, state, started, heartbeat) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET state = excluded.state, heartbeat = excluded.heartbeat",
                (worker_id, pid, host, state, now, now),
            )

    def heartbeat(self, worker_id: str, run_id: int | None = None) -> None:
        """Say that ``worker_id`` (and its current run) is alive."""
        now = time.time()
        with self._connect() as db:
            db.execute("UPDATE workers SET heartbeat = ? WHERE id = ?", (now, worker_id))
            if run_id is not None:
                db.execute(
                    "UPDATE runs SET heartbeat = ? WHERE id = ? AND worker = ?",
                    (now, run_id, worker_id),
                )

    def set_worker_state(self, worker_id: str, state: str) -> None:
        """Mark a worker ``idle``, ``stopped`` or ``dead``."""
        with self._connect() as db:
            db.execute(
                "UPDATE workers SET state = ?, heartbeat = ? WHERE id = ?",
                (state, time.time(), worker_id),
            )

    def workers(self, include_gone: bool = False) -> list[WorkerRecord]:
        """Workers as last recorded (without stopped/dead ones unless ``include_gone``)."""
        query = "SELECT * FROM workers"
        if not include_gone:
            query += " WHERE state NOT IN ('stopped', 'dead')"
        with self._connect() as db:
            return [WorkerRecord(**dict(row)) for row in db.execute(query + " ORDER BY started")]

    def recover(self, timeout_s: float = HEARTBEAT_TIMEOUT_S) -> list[int]:
        """Mark runs of dead workers failed, with the reason; returns their ids.

        A worker is dead when its process is gone (same host) or it has not heartbeaten
        for ``timeout_s`` seconds. Safe to call from anywhere, any time.
        """
        now = time.time()
        failed = []
        with self._write() as db:
            workers = {
                row["id"]: WorkerRecord(**dict(row)) for row in db.execute("SELECT * FROM workers")
            }
            for worker in workers.values():
                if worker.state not in ("stopped", "dead") and worker_is_dead(
                    worker, now, timeout_s
                ):
                    db.execute("UPDATE workers SET state = 'dead' WHERE id = ?", (worker.id,))
            for row in db.execute("SELECT * FROM runs WHERE state = 'running'").fetchall():
                run = RunRecord.from_row(row)
                worker = workers.get(run.worker or "")
                reason = _death_reason(run, worker, now, timeout_s)
                if reason is None:
                    continue
                db.execute(
                    "UPDATE runs SET state = 'failed', finished = ?, error = ?, error_field = NULL "
                    "WHERE id = ? AND state = 'running'",
                    (now, reason, run.id),
                )
                failed.append(run.id)
        return failed


def _death_reason(
    run: RunRecord, worker: WorkerRecord | None, now: float, timeout_s: float
) -> str | None:
    """Why ``run`` cannot finish any more, or ``None`` while its worker lives."""
    where = f"during '{run.phase or 'start'}' at {run.progress:.0%}"
    if worker is None:
        return f"worker {run.worker} is unknown to the store; the run was orphaned {where}"
    if worker.state == "stopped":
        return f"worker {worker.id} stopped without finishing the run {where}"
    if worker.state != "dead" and not worker_is_dead(worker, now, timeout_s):
        return None
    silent = now - max(worker.heartbeat, run.heartbeat or 0.0)
    return (
        f"worker {worker.id} (pid {worker.pid}) died {where}: process gone or no heartbeat for "
        f"{silent:.0f} s (killed, e.g. SIGKILL/out of memory, or crashed)"
    )


def run_worker(store: Path | None = None, once: bool = False) -> None:
    """Execute queued runs until stopped (or, with ``once``, until the queue is empty).

    Args:
        store: the SQLite file; default ``$PRUNING_CORE_STORE`` or ``./runs/runs.sqlite``.
        once: exit as soon as no run is queued.
    """
    from pruning_core.worker import Worker

    Worker(RunStore(store)).run(once=once)
