"""What one Ray task runs: a recipe through the engine, streamed back to the head as events.

The task is a generator (a Ray streaming task): it yields ``started``, then throttled
``progress`` events, then exactly one final event (``done`` with the summary and the
artifacts' bytes, ``failed``, ``crashed`` or ``cancelled``). The head writes them into
the run store; the task never opens the store, so the store stays on the head.

The engine runs in a thread of the task, because its progress callback cannot yield.
``ray.cancel`` interrupts the generator, whose ``finally`` then asks the engine to stop
at its next cancel check and waits for it, so a cancelled run leaves no thread behind
in the (reused) Ray worker process.

This module imports neither torch nor ray at import time: the head imports it to name
the task, the Ray worker imports the engine when the task runs.
"""

from __future__ import annotations

import os
import queue
import socket
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pruning_core.errors import RunCancelled, UserInputError
from pruning_core.recipe import parse_recipe

FINAL = ("done", "failed", "crashed", "cancelled")
PROGRESS_EVERY_S = 0.25  # at most this often a progress event per phase
JOIN_S = 60.0  # how long a cancelled task waits for the engine to reach a cancel check
_loaded_plugins: set[str] = set()  # Ray reuses worker processes: register each plugin once


def run_events(
    recipe: dict[str, Any], plugins: list[str], attempt: int, with_files: bool, cwd: str
) -> Iterator[dict[str, Any]]:
    """Run one recipe (or sensitivity job) and yield its events.

    Args:
        recipe: the run's recipe document, as queued.
        plugins: ``module:function`` plugin targets to load before the run.
        attempt: 1, or 2 for the retry after a lost worker (reported back in ``started``).
        with_files: return the artifacts' bytes in ``done`` (a sweep without a runs
            folder does not need them).
        cwd: the head's working directory. Where this node has it (a local instance, a
            shared filesystem), relative paths in the recipe (weights, data) mean what they
            mean on the head; Ray starts its workers elsewhere. A task runs alone in its
            worker process, so changing directory affects no other run.
    """
    if Path(cwd).is_dir():
        os.chdir(cwd)
    events: queue.Queue[dict[str, Any]] = queue.Queue()
    stop = threading.Event()
    thread = threading.Thread(
        target=_work, args=(recipe, plugins, with_files, events, stop), name="run", daemon=True
    )
    yield {"kind": "started", "pid": os.getpid(), "host": socket.gethostname(), "attempt": attempt}
    thread.start()
    try:
        while True:
            try:
                event = events.get(timeout=0.1)
            except queue.Empty:
                continue
            yield event
            if event["kind"] in FINAL:
                return
    finally:  # normal end, or ray.cancel's KeyboardInterrupt, or the generator closed
        stop.set()
        thread.join(JOIN_S)


def _work(
    recipe: dict[str, Any],
    plugins: list[str],
    with_files: bool,
    events: queue.Queue[dict[str, Any]],
    stop: threading.Event,
) -> None:
    try:
        events.put(execute(recipe, plugins, with_files, _Throttle(events.put), stop.is_set))
    except UserInputError as error:
        events.put({"kind": "failed", "error": error.message, "field": error.field})
    except RunCancelled:
        events.put({"kind": "cancelled"})
    except Exception as error:  # a bug in one run must reach the head with its traceback
        events.put(
            {
                "kind": "crashed",
                "error": f"{type(error).__name__}: {error}",
                "details": traceback.format_exc(),
            }
        )


def execute(
    recipe: dict[str, Any],
    plugins: list[str],
    with_files: bool,
    progress: Callable[[str, float, str], None],
    should_cancel: Callable[[], bool],
) -> dict[str, Any]:
    """Run the engine on one document; returns the ``done`` event.

    The same steps as the local worker's :meth:`~pruning_core.runs.worker.Worker.execute`,
    with the artifacts written to a temporary folder and returned as bytes.
    """
    # Imported here, on the Ray worker: the head imports this module without torch.
    from pruning_core.models.registry import load_env_plugins, load_plugin
    from pruning_core.pipeline.run import prune
    from pruning_core.runs.worker import save_artifacts
    from pruning_core.sensitivity.job import run_sensitivity_job

    if not _loaded_plugins:
        load_env_plugins()
        _loaded_plugins.add("")
    for target in plugins:
        if target not in _loaded_plugins:
            load_plugin(target)
            _loaded_plugins.add(target)
    with tempfile.TemporaryDirectory(prefix="pruning-core-ray-") as scratch:
        folder = Path(scratch) / "artifacts"
        if recipe.get("job") == "sensitivity":
            # The cache of profile rows is per task here (the local worker's is per store).
            summary = run_sensitivity_job(
                recipe, folder, Path(scratch) / "cache", progress, should_cancel
            )
        else:
            result = prune(parse_recipe(recipe), progress=progress, should_cancel=should_cancel)
            if with_files:
                save_artifacts(result, folder)
            summary = {**result.summary, "seconds": result.timing.get("seconds")}
        files = read_files(folder) if with_files else {}
    return {"kind": "done", "summary": summary, "files": files}


def read_files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by its relative path (``/``-separated)."""
    if not folder.is_dir():
        return {}
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


class _Throttle:
    """The engine's progress callback: at most one event per phase every 0.25 s."""

    def __init__(self, send: Callable[[dict[str, Any]], None]) -> None:
        self.send, self._phase, self._last = send, "", 0.0

    def __call__(self, phase: str, fraction: float, message: str) -> None:
        now = time.monotonic()
        if phase == self._phase and now - self._last < PROGRESS_EVERY_S and fraction < 1.0:
            return
        self._phase, self._last = phase, now
        self.send({"kind": "progress", "phase": phase, "fraction": fraction, "message": message})
