"""The head's side of Ray tasks: submit runs, read their event streams, retry, cancel.

Both the store's Ray worker (:mod:`pruning_core.runs.ray_worker`) and a Ray sweep use
one :class:`RayRunner`. Each run is one streaming task that declares its resources
(one CPU, and one GPU when the recipe asks for CUDA), so Ray places it and the number
of runs in flight follows the cluster's resources.

Faults: Ray's own retries are off (``max_retries=0``); when the worker process or node
of a run dies, the runner resubmits it once itself (``retry`` event, so the store shows
it) and, if that attempt dies too, reports it ``lost`` with Ray's reason. An error from
Ray that is not about one task (the connection to the cluster is gone) raises
:class:`ClusterLost`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pruning_core.errors import shorten
from pruning_core.runs.ray_cluster import Cluster
from pruning_core.runs.ray_task import FINAL, run_events

RETRIES = 1  # a run whose worker dies is tried once more
CAPACITY_EVERY_S = 5.0


class ClusterLost(RuntimeError):
    """Ray itself failed (the connection to the cluster is gone), not one task."""


class RayRunFailed(RuntimeError):
    """A run of a Ray sweep crashed or was lost twice (the reason is the message)."""


def wants_cuda(recipe: dict[str, Any]) -> bool:
    """Whether a recipe asks for a CUDA device (recipes without a ``device`` field run on CPU)."""
    return str(recipe.get("device") or "cpu").startswith("cuda")


def task_resources(recipe: dict[str, Any], cpus_per_run: float = 1.0) -> dict[str, float]:
    """The resources one run declares to Ray: ``num_cpus``, and ``num_gpus`` for CUDA."""
    return {"num_cpus": cpus_per_run} | ({"num_gpus": 1.0} if wants_cuda(recipe) else {})


@dataclass
class Flight:
    """One run in flight on the cluster.

    Attributes:
        key: the run's id in the store, or its index in a sweep.
        recipe: the document the task runs.
        attempt: 1, or 2 after a retry.
        stream: the task's ``ObjectRefGenerator``.
        pid, host: the Ray worker process running it (from its ``started`` event).
        failures: Ray's reasons for the attempts that died.
    """

    key: int
    recipe: dict[str, Any]
    attempt: int
    stream: Any
    pid: int | None = None
    host: str | None = None
    failures: list[str] = field(default_factory=list)


class RayRunner:
    """Runs in flight on one cluster, read back as ``(key, event)`` pairs."""

    def __init__(
        self,
        cluster: Cluster,
        plugins: list[str] | None = None,
        with_files: bool = True,
        cpus_per_run: float = 1.0,
    ) -> None:
        """Prepare the remote task; nothing is submitted until :meth:`submit`."""
        self.cluster, self.ray = cluster, cluster.ray
        self.plugins, self.with_files, self.cpus_per_run = plugins or [], with_files, cpus_per_run
        self.flights: dict[int, Flight] = {}
        self._capacity: tuple[int, float] | None = None  # (runs, when it was read)
        self._cwd = os.getcwd()
        self._task = self.ray.remote(num_returns="streaming", max_retries=0)(run_events)

    def capacity(self) -> int:
        """How many runs the cluster can execute at once (at least one; re-read every 5 s,
        so a cluster that scales up or down is followed)."""
        now = time.monotonic()
        if self._capacity is None or now - self._capacity[1] > CAPACITY_EVERY_S:
            try:
                cpus = self.cluster.resources().get("CPU", 1.0)
            except Exception as error:  # any failure here is the cluster's
                raise ClusterLost(_reason(error)) from error
            self._capacity = (max(1, int(cpus // self.cpus_per_run)), now)
        return self._capacity[0]

    def submit(self, key: int, recipe: dict[str, Any], attempt: int = 1) -> None:
        """Start one run as a Ray task."""
        task = self._task.options(**task_resources(recipe, self.cpus_per_run))
        try:
            stream = task.remote(recipe, self.plugins, attempt, self.with_files, self._cwd)
        except Exception as error:
            raise ClusterLost(_reason(error)) from error
        failures = self.flights[key].failures if key in self.flights else []
        self.flights[key] = Flight(key, recipe, attempt, stream, failures=failures)

    def cancel(self, key: int) -> None:
        """Ask Ray to cancel a run (``ray.cancel``: the task stops at its next check)."""
        flight = self.flights.get(key)
        if flight is not None:
            try:
                self.ray.cancel(flight.stream)
            except Exception as error:
                raise ClusterLost(_reason(error)) from error

    def forget(self, key: int) -> None:
        """Cancel a run and stop following it (the caller requeues or drops it)."""
        if key in self.flights:
            self.cancel(key)
            del self.flights[key]

    def poll(self, timeout_s: float) -> list[tuple[int, dict[str, Any]]]:
        """Wait up to ``timeout_s`` for events; returns them, final events last per run.

        Final events (``done``, ``failed``, ``crashed``, ``cancelled``, ``lost``) end a run's
        flight; a ``retry`` event means it was resubmitted after its worker died.
        """
        if not self.flights:
            return []
        streams = [flight.stream for flight in self.flights.values()]
        try:
            ready, _ = self.ray.wait(streams, num_returns=len(streams), timeout=timeout_s)
        except Exception as error:
            raise ClusterLost(_reason(error)) from error
        ready_ids = {id(stream) for stream in ready}
        events: list[tuple[int, dict[str, Any]]] = []
        for flight in list(self.flights.values()):
            if id(flight.stream) in ready_ids:
                events.extend((flight.key, event) for event in self._drain(flight))
        return events

    def _drain(self, flight: Flight) -> Iterator[dict[str, Any]]:
        exceptions = self.ray.exceptions
        while True:
            try:
                ref = next(flight.stream)
                event = self.ray.get(ref)
            except StopIteration:
                del self.flights[flight.key]
                yield {"kind": "crashed", "error": "the task ended without a result", "details": ""}
                return
            except exceptions.TaskCancelledError:
                del self.flights[flight.key]
                yield {"kind": "cancelled"}
                return
            except exceptions.RaySystemError as error:
                raise ClusterLost(_reason(error)) from error
            except exceptions.RayTaskError as error:  # the task's own code raised
                del self.flights[flight.key]
                yield {"kind": "crashed", "error": _reason(error), "details": str(error)}
                return
            except exceptions.RayError as error:  # the worker or node died: retry once
                yield self._retry_or_lose(flight, _reason(error))
                return
            except Exception as error:  # not a task's error: Ray itself
                raise ClusterLost(_reason(error)) from error
            if event["kind"] == "started":
                flight.pid, flight.host = event["pid"], event["host"]
            if event["kind"] in FINAL:
                del self.flights[flight.key]
                yield event
                return
            yield event
            try:
                more = flight.stream.next_ready()
            except Exception as error:
                raise ClusterLost(_reason(error)) from error
            if not more:  # the next poll's ray.wait reports the stream when it has more
                return

    def _retry_or_lose(self, flight: Flight, reason: str) -> dict[str, Any]:
        flight.failures.append(reason)
        if flight.attempt <= RETRIES:
            self.submit(flight.key, flight.recipe, flight.attempt + 1)
            return {"kind": "retry", "reason": reason, "attempt": flight.attempt + 1}
        del self.flights[flight.key]
        return {
            "kind": "lost",
            "error": f"Ray lost the run twice (tried {flight.attempt} times): {reason}",
        }


def _reason(error: BaseException) -> str:
    """Ray's message for an error, on one line and bounded."""
    text = " ".join(str(error).split()) or type(error).__name__
    return shorten(f"{type(error).__name__}: {text}", 500)
