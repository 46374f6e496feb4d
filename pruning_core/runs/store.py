"""The run store: a SQLite queue of runs shared by the dashboard and worker processes.

A run moves ``queued -> running -> done | failed | cancelled``. Workers claim runs in
one write transaction (two workers never get the same run), write progress from the
engine's callbacks and heartbeat while they work. A run whose worker is gone (killed,
crashed, machine lost) is marked failed with the reason by the next worker or
dashboard that looks (:meth:`RunStore.recover`).

The store is one file (default ``$PRUNING_CORE_STORE`` or ``./runs/runs.sqlite``);
artifacts live next to it, one folder per run id (``artifacts/<id>/``). This module
imports no torch, so the dashboard reads the queue without loading the engine.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pruning_core.runs.records import (
    FINISHED,
    STATES,
    RunRecord,
    WorkerRecord,
    default_store_path,
)
from pruning_core.runs.workers_table import WorkerTable

if TYPE_CHECKING:
    from pruning_core.recipe import Recipe

# Claim order: sensitivity profiles (seconds each) first, so they are never stuck behind a
# long sweep; then oldest first. ``queued_ids`` reports the same order (queue positions).
CLAIM_ORDER = "CASE WHEN json_extract(recipe, '$.job') = 'sensitivity' THEN 0 ELSE 1 END, id"

__all__ = [
    "CLAIM_ORDER",
    "FINISHED",
    "STATES",
    "RunRecord",
    "RunStore",
    "WorkerRecord",
    "default_store_path",
]


class RunStore(WorkerTable):
    """The SQLite run queue, safe to share between processes and threads.

    Every method opens its own short-lived connection, so one instance may serve
    Streamlit sessions and a worker's heartbeat thread alike.
    """

    def enqueue(
        self, recipe: Recipe | dict[str, Any], label: str = "", sweep: str | None = None
    ) -> int:
        """Add one run; returns its id."""
        return self.enqueue_many([recipe], label=label, sweep=sweep)[0]

    def enqueue_many(
        self, recipes: Iterable[Recipe | dict[str, Any]], label: str = "", sweep: str | None = None
    ) -> list[int]:
        """Add several runs in one transaction (a sweep); returns their ids in order."""
        now, ids = time.time(), []
        with self.transaction() as db:
            for recipe in recipes:
                data = recipe if isinstance(recipe, dict) else recipe.model_dump(mode="json")
                cursor = db.execute(
                    "INSERT INTO runs (state, recipe, label, sweep, created) "
                    "VALUES ('queued', ?, ?, ?, ?)",
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
        """Runs, newest first, optionally only those in ``states``."""
        query, args = "SELECT * FROM runs", list(states) if states is not None else None
        if args is not None:
            query += f" WHERE state IN ({', '.join('?' * len(args))})"
        query += " ORDER BY id DESC" + (f" LIMIT {int(limit)}" if limit is not None else "")
        with self._connect() as db:
            return [RunRecord.from_row(row) for row in db.execute(query, args or [])]

    def counts(self) -> dict[str, int]:
        """Number of runs in each state (every state present, zero if none)."""
        with self._connect() as db:
            rows = db.execute("SELECT state, COUNT(*) FROM runs GROUP BY state").fetchall()
        return {state: 0 for state in STATES} | {row[0]: int(row[1]) for row in rows}

    def fingerprint(self) -> tuple[Any, ...]:
        """A cheap value that changes whenever any run changes (for caching views of the queue)."""
        with self._connect() as db:
            row = db.execute(
                "SELECT COUNT(*), MAX(id), SUM(id * LENGTH(state)), SUM(progress), MAX(heartbeat), "
                "MAX(finished), SUM(cancel_requested) FROM runs"
            ).fetchone()
        return tuple(row)

    def queued_ids(self) -> list[int]:
        """Ids of the queued runs in the order workers will claim them (:data:`CLAIM_ORDER`)."""
        with self._connect() as db:
            query = f"SELECT id FROM runs WHERE state = 'queued' ORDER BY {CLAIM_ORDER}"
            return [int(row[0]) for row in db.execute(query)]

    def claim(self, worker_id: str) -> RunRecord | None:
        """Atomically take the next queued run for ``worker_id``; ``None`` if none waits.

        Sensitivity profiles come first, then the oldest run (:data:`CLAIM_ORDER`).
        """
        now = time.time()
        with self.transaction() as db:
            row = db.execute(
                f"SELECT id FROM runs WHERE state = 'queued' ORDER BY {CLAIM_ORDER} LIMIT 1"
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
        """Record the progress of a running run; returns whether a cancel was requested."""
        with self._connect() as db:
            db.execute(
                "UPDATE runs SET phase = ?, progress = ?, message = ?, heartbeat = ? "
                "WHERE id = ? AND worker = ? AND state = 'running'",
                (phase, min(max(fraction, 0.0), 1.0), message, time.time(), run_id, worker_id),
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
        """Close a running run as done, failed or cancelled; False if the worker lost it."""
        if state not in FINISHED:
            raise ValueError(f"state must be one of {FINISHED}, got {state!r}")
        now = time.time()
        with self.transaction() as db:
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
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE runs SET state = 'queued', worker = NULL, started = NULL, "
                "heartbeat = NULL, phase = '', progress = 0, "
                "message = 'back in the queue: its worker was stopped' "
                "WHERE id = ? AND worker = ? AND state = 'running'",
                (run_id, worker_id),
            )
        return cursor.rowcount == 1

    def request_cancel(self, run_id: int) -> str | None:
        """Cancel a run: a queued one at once, a running one at its worker's next check.

        Returns:
            The state afterwards (``cancelled`` or ``running``), or ``None`` if the run
            does not exist or had already finished.
        """
        with self.transaction() as db:
            row = db.execute("SELECT state FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None or row[0] in FINISHED:
                return None
            if row[0] == "queued":
                db.execute(
                    "UPDATE runs SET state = 'cancelled', finished = ?, "
                    "message = 'cancelled before it started' WHERE id = ?",
                    (time.time(), run_id),
                )
                return "cancelled"
            db.execute(
                "UPDATE runs SET cancel_requested = 1, message = 'cancelling...' WHERE id = ?",
                (run_id,),
            )
            return "running"

    def delete(self, run_ids: Iterable[int]) -> list[int]:
        """Forget finished runs (rows only; the caller removes artifacts); returns those deleted."""
        with self.transaction() as db:
            return [
                run_id
                for run_id in run_ids
                if db.execute(
                    "DELETE FROM runs WHERE id = ? AND state IN ('done', 'failed', 'cancelled')",
                    (run_id,),
                ).rowcount
            ]
