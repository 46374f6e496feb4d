"""The workers table of the run store: registration, heartbeats, recovery of lost runs."""

from __future__ import annotations

import time

from pruning_core.runs.database import Database
from pruning_core.runs.liveness import HEARTBEAT_TIMEOUT_S, death_reason, worker_is_dead
from pruning_core.runs.records import GONE, RunRecord, WorkerRecord


class WorkerTable(Database):
    """Worker processes sharing a store, and the runs they leave behind when they die."""

    def register_worker(self, worker_id: str, pid: int, host: str, state: str = "idle") -> None:
        """Insert or refresh a worker's row."""
        now = time.time()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO workers (id, pid, host, state, started, heartbeat) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE "
                "SET state = excluded.state, heartbeat = excluded.heartbeat",
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
        """Workers as last recorded (stopped, dead and crashed ones only with ``include_gone``)."""
        query = "SELECT * FROM workers" + (
            "" if include_gone else " WHERE state NOT IN ('stopped', 'dead', 'crashed')"
        )
        with self._connect() as db:
            return [WorkerRecord.from_row(row) for row in db.execute(query + " ORDER BY started")]

    def recover(self, timeout_s: float = HEARTBEAT_TIMEOUT_S) -> list[int]:
        """Mark the runs of dead workers failed, with the reason; returns their ids.

        A worker is dead when its process is gone (same host) or it has not heartbeaten
        for ``timeout_s`` seconds. Cheap and safe to call from anywhere, any time.
        """
        now, failed = time.time(), []
        with self.transaction() as db:
            workers = {
                row["id"]: WorkerRecord.from_row(row) for row in db.execute("SELECT * FROM workers")
            }
            for worker in workers.values():
                if worker.state not in GONE and worker_is_dead(worker, now, timeout_s):
                    gone = "crashed" if worker.state == "starting" else "dead"
                    db.execute("UPDATE workers SET state = ? WHERE id = ?", (gone, worker.id))
            for row in db.execute("SELECT * FROM runs WHERE state = 'running'").fetchall():
                run = RunRecord.from_row(row)
                reason = death_reason(run, workers.get(run.worker or ""), now, timeout_s)
                if reason is not None:
                    db.execute(
                        "UPDATE runs SET state = 'failed', finished = ?, error = ?, "
                        "error_field = NULL WHERE id = ? AND state = 'running'",
                        (now, reason, run.id),
                    )
                    failed.append(run.id)
        return failed
