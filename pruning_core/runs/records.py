"""Rows of the run store: the SQLite schema and the records read from it."""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATES = ("queued", "running", "done", "failed", "cancelled")
FINISHED = ("done", "failed", "cancelled")
STORE_ENV = "PRUNING_CORE_STORE"
GONE = ("stopped", "dead", "crashed")  # worker states that will never work again

SCHEMA = f"""
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
    """One row of the queue, as read at one moment.

    Attributes:
        id: run id (also the name of its artifacts folder).
        state: queued, running, done, failed or cancelled.
        recipe: the recipe as queued (JSON mapping).
        label: free text (``single``, ``sweep``, ``again #12``).
        sweep: id shared by the runs of one sweep, or ``None``.
        created, started, finished: Unix times.
        phase, progress, message: the engine's last progress report.
        error, error_field: why the run failed, and the recipe field to blame if any.
        worker: id (``host:pid``) of the worker that claimed it.
        heartbeat: last sign of life of that worker for this run.
        cancel_requested: the user asked to stop it.
        summary: the run's summary metrics once done.
    """

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
    """One worker process as it last reported itself.

    Attributes:
        id: ``host:pid``.
        pid, host: where the process runs.
        state: starting, idle, busy, stopped, dead, or crashed (died while starting).
        started, heartbeat: Unix times.
        run_id: the run it is executing, if any.
    """

    id: str
    pid: int
    host: str
    state: str
    started: float
    heartbeat: float
    run_id: int | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> WorkerRecord:
        """Decode a ``workers`` row."""
        return cls(**dict(row))
