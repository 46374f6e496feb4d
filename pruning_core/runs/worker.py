"""The worker process: takes runs from the store, runs the engine, writes artifacts.

Start one with ``pruning-core worker`` (the dashboard starts one itself when runs are
queued and none is alive). Several workers may share a store. This is the ``local``
executor; ``pruning-core worker --executor ray`` serves the store from a Ray cluster
instead (:mod:`pruning_core.runs.ray_worker`, chosen by :mod:`pruning_core.runs.executors`).

SIGTERM or Ctrl-C stop a worker gracefully: the run in progress goes back to the queue
for the next worker. A SIGKILL cannot be caught; that run is then marked failed by
:meth:`RunStore.recover` as soon as anyone notices the process is gone.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from types import FrameType
from typing import Any

from pruning_core.errors import RunCancelled, UserInputError
from pruning_core.pipeline.artifacts import save_run
from pruning_core.pipeline.run import RunResult, prune
from pruning_core.recipe import parse_recipe
from pruning_core.runs.crash_log import write_error_log
from pruning_core.runs.liveness import HEARTBEAT_INTERVAL_S, this_host
from pruning_core.runs.records import RunRecord
from pruning_core.runs.store import RunStore
from pruning_core.sensitivity.job import run_sensitivity_job

PROGRESS_EVERY_S = 0.25  # at most this often a progress row is written ...
CANCEL_POLL_S = 0.25  # ... and the cancel flag read
RECOVER_EVERY_S = 5.0  # an idle worker looks for dead colleagues' runs this often


class Worker:
    """One worker loop bound to a store."""

    def __init__(
        self, store: RunStore, poll_s: float = 0.5, heartbeat_s: float = HEARTBEAT_INTERVAL_S
    ) -> None:
        """Prepare a worker; nothing happens until :meth:`run`."""
        self.store, self.poll_s, self.heartbeat_s = store, poll_s, heartbeat_s
        self.id = f"{this_host()}:{os.getpid()}"
        self.current: int | None = None
        self._stop = threading.Event()

    def stop(self) -> None:
        """Ask the loop to end; the current run goes back to the queue."""
        self._stop.set()

    def run(self, once: bool = False) -> None:
        """Process queued runs until stopped (with ``once``: until none is queued)."""
        self.store.register_worker(self.id, os.getpid(), this_host(), "idle")
        threading.Thread(target=self._beat, name="heartbeat", daemon=True).start()
        previous = self._install_signals()
        last_recover = 0.0
        try:
            while not self._stop.is_set():
                if time.monotonic() - last_recover > RECOVER_EVERY_S:
                    self.store.recover()
                    last_recover = time.monotonic()
                record = self.store.claim(self.id)
                if record is not None:
                    self.execute(record)
                elif once:
                    break
                else:
                    self._stop.wait(self.poll_s)
        finally:
            self._stop.set()
            self.store.set_worker_state(self.id, "stopped")
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                self.store.heartbeat(self.id, self.current)
            except Exception as error:  # a busy database must not end the heartbeat
                print(f"heartbeat failed: {error}", file=sys.stderr)

    def _install_signals(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        return {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        print(f"worker {self.id}: signal {signum}, stopping", file=sys.stderr)
        self.stop()

    def execute(self, record: RunRecord) -> None:
        """Run one claimed record to its end state."""

        self.current = record.id
        monitor = _Monitor(self.store, record.id, self.id, self._stop)
        try:
            if record.recipe.get("job") == "sensitivity":  # a profile, not a pruning run
                summary = run_sensitivity_job(
                    record.recipe,
                    self.store.artifacts_dir(record.id),
                    self.store.root / "sensitivity_cache",
                    monitor.progress,
                    monitor.should_cancel,
                )
            else:
                result = prune(
                    parse_recipe(record.recipe),
                    progress=monitor.progress,
                    should_cancel=monitor.should_cancel,
                )
                save_artifacts(result, self.store.artifacts_dir(record.id))
                summary = {**result.summary, "seconds": result.timing.get("seconds")}
            self.store.finish(record.id, self.id, "done", summary=summary)
        except UserInputError as error:
            self.store.finish(
                record.id, self.id, "failed", error=error.message, error_field=error.field
            )
        except RunCancelled:
            if monitor.user_cancelled:
                self.store.finish(record.id, self.id, "cancelled")
            else:
                self.store.requeue(record.id, self.id)
        except Exception as error:  # a bug in one run must not take the worker down
            self._log_crash(record.id, error)
        except BaseException:
            self.store.requeue(record.id, self.id)
            raise
        finally:
            self.current = None

    def _log_crash(self, run_id: int, error: Exception) -> None:
        where = write_error_log(self.store.artifacts_dir(run_id), traceback.format_exc())
        message = f"internal error ({type(error).__name__}: {error}); {where}"
        self.store.finish(run_id, self.id, "failed", error=message)


def save_artifacts(result: RunResult, folder: Path) -> None:
    """Write the run's artifacts, turning a filesystem error into a user-facing reason."""
    try:
        save_run(result, folder)
    except OSError as error:
        raise UserInputError(
            "artifacts", f"cannot write the run's files to {folder}: {error.strerror or error}"
        ) from None


class _Monitor:
    """The engine's callbacks for one run: throttled progress writes and cancel checks."""

    def __init__(
        self, store: RunStore, run_id: int, worker_id: str, stopping: threading.Event
    ) -> None:
        self.store, self.run_id, self.worker_id, self.stopping = store, run_id, worker_id, stopping
        self.user_cancelled = False
        self._last_write = self._last_poll = 0.0
        self._phase = ""

    def progress(self, phase: str, fraction: float, message: str) -> None:
        now = time.monotonic()
        if phase == self._phase and now - self._last_write < PROGRESS_EVERY_S and fraction < 1.0:
            return
        self._phase, self._last_write, self._last_poll = phase, now, now
        if self.store.update_progress(self.run_id, self.worker_id, phase, fraction, message):
            self.user_cancelled = True

    def should_cancel(self) -> bool:
        if self.stopping.is_set():
            return True
        now = time.monotonic()
        if not self.user_cancelled and now - self._last_poll >= CANCEL_POLL_S:
            self._last_poll = now
            self.user_cancelled = self.store.cancel_requested(self.run_id)
        return self.user_cancelled
