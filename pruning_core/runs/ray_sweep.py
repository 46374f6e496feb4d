"""A sweep on a Ray cluster: every run one task, rows back in the sweep's order.

The rows are those of :func:`pruning_core.pipeline.sweep.run_sweep` (``run``, the summary,
``seconds``), computed by the same ``prune`` on the cluster's workers. All runs are
submitted at once; Ray starts as many as the cluster's resources allow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pruning_core.errors import RunCancelled, UserInputError
from pruning_core.recipe import Recipe
from pruning_core.runs.ray_cluster import Cluster
from pruning_core.runs.ray_runner import ClusterLost, RayRunFailed, RayRunner
from pruning_core.runs.ray_worker import write_files

POLL_S = 0.2


def ray_sweep(
    cluster: Cluster,
    recipes: list[Recipe],
    runs_dir: Path | None = None,
    on_run: Callable[[int, Recipe], None] | None = None,
    plugins: list[str] | None = None,
    on_retry: Callable[[int, str], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Run each recipe as a Ray task and yield its summary row, in the recipes' order.

    Args:
        cluster: from :func:`pruning_core.runs.ray_cluster.connect`.
        recipes: the sweep's runs (checked beforehand).
        runs_dir: keep every run's artifacts under ``runs_dir/run_NNNN`` (sent back by
            the tasks); ``None``: only the rows come back.
        on_run: called with (index, recipe) when a run starts on the cluster.
        plugins: plugin targets the tasks load before running.
        on_retry: called with (index, Ray's reason) when a run's worker died and it is
            tried again.

    Raises:
        UserInputError: a run's recipe does not fit its model (as ``prune`` raises it).
        RayRunFailed: a run crashed, or its worker died twice.
        ClusterLost: the connection to the cluster failed.
    """
    runner = RayRunner(cluster, plugins, with_files=runs_dir is not None)
    rows: dict[int, dict[str, Any]] = {}
    try:
        for index, recipe in enumerate(recipes):
            runner.submit(index, recipe.model_dump(mode="json"))
        following = 0
        while following < len(recipes):
            for index, event in runner.poll(POLL_S):
                row = _row(index, event, recipes, runs_dir, on_run, on_retry)
                if row is not None:
                    rows[index] = row
            while following in rows:
                yield rows.pop(following)
                following += 1
    finally:  # an error or a closed generator: nothing keeps running on the cluster
        for index in list(runner.flights):
            try:
                runner.forget(index)
            except ClusterLost:
                break


def _row(
    index: int,
    event: dict[str, Any],
    recipes: list[Recipe],
    runs_dir: Path | None,
    on_run: Callable[[int, Recipe], None] | None,
    on_retry: Callable[[int, str], None] | None,
) -> dict[str, Any] | None:
    kind = event["kind"]
    if kind == "started" and event["attempt"] == 1 and on_run is not None:
        on_run(index, recipes[index])
    elif kind == "retry" and on_retry is not None:
        on_retry(index, event["reason"])
    elif kind == "done":
        if runs_dir is not None:
            write_files(runs_dir / f"run_{index:04d}", event["files"])
        return {"run": index, **event["summary"]}
    elif kind == "failed":
        raise UserInputError(event["field"], f"run {index}: {event['error']}")
    elif kind == "cancelled":
        raise RunCancelled(f"run {index} was cancelled on the cluster")
    elif kind in ("crashed", "lost"):
        raise RayRunFailed(f"run {index}: {event['error']}")
    return None
