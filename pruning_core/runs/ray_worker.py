"""The Ray head: serves the run store's queue by running each run as a Ray task.

``pruning-core worker --executor ray`` runs one :class:`RayWorker` beside the store (where
the dashboard is). It claims queued runs only while the cluster has room for them, so
runs waiting for resources stay ``queued`` in the store; it writes the tasks' progress
into the store, turns a cancel request into ``ray.cancel``, writes the artifacts that
the tasks send back into the run's folder, and heartbeats like a local worker, so the
dashboard's progress bars, cancel and recovery work the same.

Faults: a run whose Ray worker dies is retried once, then failed with Ray's reason
(:mod:`pruning_core.runs.ray_runner`). When the connection to the cluster is lost the
runs in flight are failed with the reason and the queued ones stay queued.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from pruning_core.errors import shorten
from pruning_core.runs.crash_log import write_error_log
from pruning_core.runs.liveness import HEARTBEAT_INTERVAL_S, this_host
from pruning_core.runs.ray_cluster import Cluster
from pruning_core.runs.ray_runner import ClusterLost, RayRunner
from pruning_core.runs.store import RunStore

EXECUTOR_FILE = "executor.json"  # beside the store: which executor serves it (for the sidebar)
CANCEL_POLL_S = 0.25  # as the local worker: the store's cancel flags are read this often
RECOVER_EVERY_S = 5.0  # ... and dead workers' runs looked for this often
DESCRIBE_EVERY_S = 10.0  # the cluster's resources are re-read this often (it may scale)


class RayWorker:
    """One head process serving a store on a Ray cluster."""

    def __init__(
        self,
        store: RunStore,
        cluster: Cluster,
        plugins: list[str] | None = None,
        poll_s: float = 0.2,
        heartbeat_s: float = HEARTBEAT_INTERVAL_S,
    ) -> None:
        """Prepare the head; nothing happens until :meth:`run`."""
        self.store, self.cluster = store, cluster
        self.runner = RayRunner(cluster, plugins)
        self.poll_s, self.heartbeat_s = poll_s, heartbeat_s
        self.id = f"{this_host()}:{os.getpid()}"
        self._stop = threading.Event()
        self._cancelling: set[int] = set()
        self._last = {"beat": 0.0, "cancel": 0.0, "recover": 0.0, "describe": 0.0}

    def stop(self) -> None:
        """Ask the loop to end; the runs in flight are cancelled and go back to the queue."""
        self._stop.set()

    def run(self, once: bool = False) -> None:
        """Serve the queue until stopped (with ``once``: until it is empty and nothing runs).

        Raises:
            ClusterLost: the connection to the cluster failed; the runs in flight have
                been marked failed with the reason, queued runs stay queued.
        """
        self.store.register_worker(self.id, os.getpid(), this_host(), "idle")
        previous = self._install_signals()
        try:
            while not self._stop.is_set():
                self._every("recover", RECOVER_EVERY_S, self.store.recover)
                self._every("describe", DESCRIBE_EVERY_S, self._write_description)
                claimed = self._fill()
                if once and not claimed and not self.runner.flights:
                    break
                for key, event in self.runner.poll(self.poll_s):
                    self._handle(key, event)
                self._every("cancel", CANCEL_POLL_S, self._check_cancels)
                self._every("beat", self.heartbeat_s, self._beat)
        except ClusterLost as lost:
            where = self.cluster.label
            self._fail_in_flight(f"lost the connection to the Ray cluster {where}: {lost}")
            raise
        finally:
            for key in list(self.runner.flights):  # stopped: in-flight runs go back to the queue
                self.store.requeue(key, self.id)
                try:
                    self.runner.forget(key)
                except ClusterLost:
                    self.runner.flights.pop(key, None)
            self.store.set_worker_state(self.id, "stopped")
            (self.store.root / EXECUTOR_FILE).unlink(missing_ok=True)
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _every(self, name: str, period_s: float, action: Any) -> None:
        if time.monotonic() - self._last[name] >= period_s:
            self._last[name] = time.monotonic()
            action()

    def _fill(self) -> bool:
        """Claim queued runs while the cluster has room; returns whether any was claimed."""
        claimed = False
        capacity = self.runner.capacity()
        while len(self.runner.flights) < capacity and not self._stop.is_set():
            record = self.store.claim(self.id)
            if record is None:
                break
            claimed = True
            self.runner.submit(record.id, record.recipe)
        return claimed

    def _handle(self, run_id: int, event: dict[str, Any]) -> None:
        kind, store = event["kind"], self.store
        if kind == "started":
            where = f"on {event['host']} (pid {event['pid']}, attempt {event['attempt']})"
            self._progress(run_id, "start", 0.0, f"started {where}")
        elif kind == "progress":
            self._progress(run_id, event["phase"], event["fraction"], event["message"])
        elif kind == "retry":
            self._progress(run_id, "retry", 0.0, f"retrying once: {shorten(event['reason'], 300)}")
        elif kind == "done":
            self._finish_done(run_id, event)
        elif kind == "failed":
            error, field = event["error"], event["field"]
            store.finish(run_id, self.id, "failed", error=error, error_field=field)
        elif kind == "crashed":
            where = write_error_log(store.artifacts_dir(run_id), event["details"])
            message = f"internal error ({event['error']}); {where}"
            store.finish(run_id, self.id, "failed", error=message)
        elif kind == "cancelled":
            store.finish(run_id, self.id, "cancelled")
        elif kind == "lost":
            store.finish(run_id, self.id, "failed", error=event["error"])
        if kind in ("done", "failed", "crashed", "cancelled", "lost"):
            self._cancelling.discard(run_id)
            if self.runner.flights:  # finish() marked the head idle; it still has runs
                store.set_worker_state(self.id, "busy")

    def _progress(self, run_id: int, phase: str, fraction: float, message: str) -> None:
        if self.store.update_progress(run_id, self.id, phase, fraction, message):
            self._cancel(run_id)

    def _finish_done(self, run_id: int, event: dict[str, Any]) -> None:
        folder = self.store.artifacts_dir(run_id)
        try:
            write_files(folder, event["files"])
        except OSError as error:
            message = f"cannot write the run's files to {folder}: {error.strerror or error}"
            self.store.finish(run_id, self.id, "failed", error=message, error_field="artifacts")
            return
        self.store.finish(run_id, self.id, "done", summary=event["summary"])

    def _check_cancels(self) -> None:
        for run_id in list(self.runner.flights):
            if run_id not in self._cancelling and self.store.cancel_requested(run_id):
                self._cancel(run_id)

    def _cancel(self, run_id: int) -> None:
        if run_id not in self._cancelling:
            self._cancelling.add(run_id)
            self.runner.cancel(run_id)

    def _beat(self) -> None:
        self.store.heartbeat(self.id)
        for run_id in list(self.runner.flights):
            self.store.heartbeat(self.id, run_id)

    def _write_description(self) -> None:
        """Tell the dashboard which executor serves this store (see ``describe_executor``)."""
        try:
            description = self.cluster.describe()
        except Exception as error:  # the cluster's state, not the head's bug
            raise ClusterLost(f"{type(error).__name__}: {shorten(error, 300)}") from error
        document = {**description, "worker": self.id, "updated": time.time()}
        path = self.store.root / EXECUTOR_FILE
        try:
            scratch = path.with_suffix(".tmp")
            scratch.write_text(json.dumps(document), encoding="utf-8")
            scratch.replace(path)
        except OSError as error:  # only the sidebar's information is lost
            print(f"cannot write {path}: {error}", file=sys.stderr)

    def _fail_in_flight(self, reason: str) -> None:
        for run_id in list(self.runner.flights):
            self.store.finish(run_id, self.id, "failed", error=shorten(reason, 1000))
            try:  # should the connection come back, its task must not run on unseen
                self.runner.forget(run_id)
            except ClusterLost:
                self.runner.flights.pop(run_id, None)

    def _install_signals(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        return {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        print(f"ray worker {self.id}: signal {signum}, stopping", file=sys.stderr)
        self.stop()


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    """Write a task's artifacts (relative path -> bytes) into the run's folder."""
    root = folder.resolve()
    for name, data in files.items():
        path = (folder / name).resolve()
        if not path.is_relative_to(root):  # a name from elsewhere never escapes the folder
            raise OSError(f"refusing to write {name!r} outside {folder}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
