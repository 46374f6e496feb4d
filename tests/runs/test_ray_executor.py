"""The Ray executor: sweeps and the run queue on a real local Ray instance.

The slow tests share one Ray instance (127.0.0.1 only, 2 CPUs, no dashboard) that the
module starts and stops. Ray never runs a store query: the head (the test process)
does, and the tests check the store as the dashboard would see it.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from tiny_model import TinyModel
from typer.testing import CliRunner

from pruning_core.cli import app
from pruning_core.errors import UserInputError
from pruning_core.runs import executors
from pruning_core.runs.ray_cluster import Cluster, check_address, connect
from pruning_core.runs.ray_runner import ClusterLost, task_resources
from pruning_core.runs.ray_worker import EXECUTOR_FILE, RayWorker, write_files
from pruning_core.runs.store import RunRecord, RunStore

ROOT = Path(__file__).resolve().parents[2]
LONG = {"finetune": {"epochs": 1000, "batch_size": 16}}  # minutes of work: time to interfere
SWEEP = ("--criteria", "magnitude,random", "--sparsities", "0.5,0.7,0.9", "--seeds", "0,1")


# --- fast: no Ray instance ------------------------------------------------------------


def test_the_engine_and_the_cli_import_neither_ray_nor_torch() -> None:
    code = (
        "import sys, pruning_core, pruning_core.cli, pruning_core.runs.executors as e;"
        "e.describe_executor();"
        "print(sorted(m for m in ('ray', 'torch') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_without_ray_installed_the_cli_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` sees when it is absent
    recipe_file = tmp_path / "r.yaml"
    recipe_file.write_text("model: digits_mlp\n")
    for args in (
        ["sweep", str(recipe_file), "--executor", "ray", "--out", str(tmp_path / "s.csv")],
        ["worker", "--executor", "ray", "--store", str(tmp_path / "runs.sqlite")],
    ):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, result.output
        assert result.output.strip().splitlines() == [
            "error: executor: 'ray' needs the Ray package: pip install 'pruning-core[ray]' "
            "(ray==2.60.0), or use --executor local"
        ]


@pytest.mark.parametrize(
    ("args", "piece"),
    [
        (["--executor", "dask"], "executor: 'dask' is not an executor; use one of local, ray"),
        (["--executor", "ray", "--ray-address", "nohost"], "ray-address: 'nohost' is not a Ray"),
        (["--ray-address", "auto"], "ray-address: only used with --executor ray"),
    ],
)
def test_executor_options_are_checked_first(tmp_path: Path, args: list[str], piece: str) -> None:
    recipe_file = tmp_path / "r.yaml"
    recipe_file.write_text("model: digits_mlp\n")
    result = CliRunner().invoke(app, ["sweep", str(recipe_file), *args])
    assert result.exit_code == 2 and piece in result.output, result.output
    assert "Traceback" not in result.output


def test_addresses_and_resources() -> None:
    assert check_address(None) is None and check_address(" ") is None
    assert check_address("auto") == "auto"
    assert check_address("ray://head:10001") == "ray://head:10001"
    assert check_address("10.0.0.1:6379") == "10.0.0.1:6379"
    for bad in ("ray://head", "head:port", "ray://:10001", "head:70000"):
        with pytest.raises(UserInputError):
            check_address(bad)
    assert task_resources({"model": "digits_mlp"}) == {"num_cpus": 1.0}
    assert task_resources({"device": "cuda:0"}) == {"num_cpus": 1.0, "num_gpus": 1.0}


def test_describe_executor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(executors.EXECUTOR_ENV, raising=False)
    monkeypatch.delenv(executors.ADDRESS_ENV, raising=False)
    store = RunStore(tmp_path / "runs.sqlite")
    local = executors.describe_executor(store)
    assert local == {
        "executor": "local",
        "address": None,
        "cpus": float(os.cpu_count() or 1),
        "gpus": 0.0,
        "live": False,
    }
    monkeypatch.setenv(executors.EXECUTOR_ENV, "ray")
    monkeypatch.setenv(executors.ADDRESS_ENV, "ray://head:10001")
    assert executors.describe_executor(store)["address"] == "ray://head:10001"
    # a live head's report wins; a dead head's report is ignored
    store.register_worker("vm:1", os.getpid(), "elsewhere", "busy")
    report = {
        "executor": "ray",
        "address": "auto",
        "cpus": 16.0,
        "gpus": 8.0,
        "nodes": 2,
        "worker": "vm:1",
        "updated": time.time(),
    }
    (store.root / EXECUTOR_FILE).write_text(json.dumps(report))
    assert executors.describe_executor(store) == {**report, "live": True}
    store.set_worker_state("vm:1", "stopped")
    assert executors.describe_executor(store)["cpus"] is None


def test_returned_files_never_leave_the_run_folder(tmp_path: Path) -> None:
    write_files(tmp_path / "7", {"results.json": b"{}", "sub/a.txt": b"a"})
    assert (tmp_path / "7" / "sub" / "a.txt").read_bytes() == b"a"
    with pytest.raises(OSError):
        write_files(tmp_path / "8", {"../escape.txt": b"x"})
    assert not (tmp_path / "escape.txt").exists()


# --- slow: a real local Ray instance ----------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A local Ray instance for this module: 127.0.0.1, 2 CPUs, no dashboard."""
    with connect(None, num_cpus=2) as started:
        assert started.ray.get_runtime_context().gcs_address.startswith("127.0.0.1:")
        assert started.describe()["cpus"] == 2.0
        yield started
    assert not started.ray.is_initialized()


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_a_sweep_through_ray_gives_the_local_numbers(
    cluster: Cluster, tmp_path: Path, tiny_model: TinyModel
) -> None:
    recipe_file = tmp_path / "base.yaml"
    recipe_file.write_text(yaml.safe_dump(tiny_model.queued()))
    runner = CliRunner()
    on_ray = runner.invoke(
        app,
        [
            "sweep",
            str(recipe_file),
            *SWEEP,
            "--executor",
            "ray",
            "--out",
            str(tmp_path / "ray.csv"),
            "--runs-dir",
            str(tmp_path / "ray_runs"),
        ],
    )
    assert on_ray.exit_code == 0, on_ray.output
    # Ray gives each task num_cpus=1 thread; the same in the local run makes it bitwise
    # comparable (with 2 threads the losses differ in the 8th digit: summation order).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        local = runner.invoke(
            app, ["sweep", str(recipe_file), *SWEEP, "--out", str(tmp_path / "local.csv")]
        )
    finally:
        torch.set_num_threads(threads)
    assert local.exit_code == 0, local.output
    ray_rows, local_rows = _read_csv(tmp_path / "ray.csv"), _read_csv(tmp_path / "local.csv")
    assert len(ray_rows) == len(local_rows) == 12
    for ray_row, local_row in zip(ray_rows, local_rows, strict=True):
        assert list(ray_row) == list(local_row)
        ray_row.pop("seconds"), local_row.pop("seconds")
        assert ray_row == local_row
    for index in range(12):
        folder = tmp_path / "ray_runs" / f"run_{index:04d}"
        assert sorted(p.name for p in folder.iterdir()) == [
            "layers.csv",
            "model.safetensors",
            "recipe.yaml",
            "results.json",
        ]


def wait_for(
    store: RunStore, run_id: int, check: Callable[[RunRecord], bool], timeout_s: float = 240
) -> RunRecord:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        record = store.get(run_id)
        if record is not None and check(record):
            return record
        time.sleep(0.1)
    raise TimeoutError(f"run {run_id}: {store.get(run_id)}")


class Head:
    """A Ray head serving ``store`` in a thread of the test, as ``worker --executor ray``."""

    def __init__(self, store: RunStore, cluster: Cluster) -> None:
        self.worker = RayWorker(store, cluster, poll_s=0.1)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.worker.run(once=True)
        except BaseException as error:  # handed to the test
            self.error = error

    def pid_of(self, run_id: int, attempt: int, timeout_s: float = 240) -> int:
        """The Ray worker process running ``attempt`` of a run, once it finetunes."""
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            flight = self.worker.runner.flights.get(run_id)
            record = self.worker.store.get(run_id)
            if (
                flight
                and flight.attempt == attempt
                and flight.pid
                and record
                and record.phase == "finetune"
            ):
                return flight.pid
            time.sleep(0.1)
        raise TimeoutError(f"run {run_id} attempt {attempt} never reached finetune")


@pytest.mark.slow
def test_the_queue_on_ray_survives_a_killed_worker_and_cancels(
    cluster: Cluster, tmp_path: Path, tiny_model: TinyModel
) -> None:
    store = RunStore(tmp_path / "runs.sqlite")
    killed, cancelled = (
        store.enqueue(tiny_model.queued(**LONG)),
        store.enqueue(tiny_model.queued(**LONG)),
    )
    short = store.enqueue_many([tiny_model.queued(seed=seed) for seed in range(4)])
    head = Head(store, cluster)

    wait_for(store, cancelled, lambda r: r.phase == "finetune")
    assert store.request_cancel(cancelled) == "running"  # the head turns it into ray.cancel

    os.kill(head.pid_of(killed, attempt=1), signal.SIGKILL)
    second = head.pid_of(killed, attempt=2)  # retried once, on another worker process
    retried = store.get(killed)
    assert retried is not None and retried.state == "running" and retried.error is None
    os.kill(second, signal.SIGKILL)

    head.thread.join(300)
    assert not head.thread.is_alive() and head.error is None
    runs = {run.id: run for run in store.list_runs()}
    assert len(runs) == 6 and store.counts()["running"] == 0
    assert runs[cancelled].state == "cancelled" and runs[cancelled].error is None
    failed = runs[killed]
    assert failed.state == "failed" and "WorkerCrashedError" in (failed.error or "")
    assert "tried 2 times" in (failed.error or "")
    for run_id in short:
        assert runs[run_id].state == "done" and runs[run_id].progress == 1.0
        assert runs[run_id].summary is not None and runs[run_id].summary["seed"] in range(4)
        assert (store.artifacts_dir(run_id) / "model.safetensors").is_file()
    assert {run.worker for run in runs.values()} == {head.worker.id}
    assert [w.state for w in store.workers(include_gone=True)] == ["stopped"]
    assert not (store.root / EXECUTOR_FILE).exists()


@pytest.mark.slow
def test_a_lost_cluster_fails_the_runs_in_flight_and_keeps_the_queue(
    cluster: Cluster,
    tmp_path: Path,
    tiny_model: TinyModel,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = RunStore(tmp_path / "runs.sqlite")
    ids = store.enqueue_many([tiny_model.queued(seed=seed, **LONG) for seed in range(3)])
    head = Head(store, cluster)
    for run_id in ids[:2]:  # two CPUs: two in flight, the third waits in the queue
        wait_for(store, run_id, lambda r: r.phase == "finetune")
    report = json.loads((store.root / EXECUTOR_FILE).read_text())
    assert report["executor"] == "ray" and report["cpus"] == 2.0

    def gone(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("GCS at 127.0.0.1 unreachable")

    monkeypatch.setattr(cluster.ray, "wait", gone)  # what a lost connection looks like
    head.thread.join(60)
    monkeypatch.undo()
    assert isinstance(head.error, ClusterLost)
    for run_id in ids[:2]:
        record = store.get(run_id)
        assert record is not None and record.state == "failed"
        assert "lost the connection to the Ray cluster" in (record.error or "")
        assert "ConnectionError: GCS at 127.0.0.1 unreachable" in (record.error or "")
    third = store.get(ids[2])
    assert third is not None and third.state == "queued"
