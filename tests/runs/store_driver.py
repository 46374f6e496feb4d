"""Drive a run store from a test: workers in threads, waiting on recorded state."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from pruning_core.runs.store import RunRecord, RunStore
from pruning_core.runs.worker import Worker


class StoreDriver:
    """A store plus the workers a test started on it (stopped by :meth:`close`)."""

    def __init__(self, store: RunStore) -> None:
        self.store = store
        self._started: list[tuple[Worker, threading.Thread]] = []

    def record(self, run_id: int) -> RunRecord:
        """The stored record of a run, which must exist."""
        found = self.store.get(run_id)
        assert found is not None, f"run {run_id} is not in the store"
        return found

    def wait(self, check: Callable[[], bool], timeout_s: float = 240) -> None:
        """Poll ``check`` until it holds; raise ``TimeoutError`` after ``timeout_s``."""
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            if check():
                return
            time.sleep(0.05)
        raise TimeoutError(f"condition not met in {timeout_s} s")

    def start_worker(self) -> tuple[Worker, threading.Thread]:
        """A worker in a thread that takes runs until the queue is empty."""
        worker = Worker(self.store, poll_s=0.1)
        thread = threading.Thread(target=worker.run, kwargs={"once": True})
        thread.start()
        self._started.append((worker, thread))
        return worker, thread

    def finish(self, run_id: int) -> RunRecord:
        """Work off the queue in this thread; the run must end ``done``."""
        Worker(self.store, poll_s=0.1).run(once=True)
        done = self.record(run_id)
        assert done.state == "done", done.error
        return done

    def close(self) -> None:
        """Stop the workers this driver started."""
        for worker, thread in self._started:
            worker.stop()
            thread.join(60)
