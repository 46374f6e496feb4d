"""Fixtures for the run store, worker, dashboard and browser tests.

Loaded by those test modules with ``pytest_plugins = ["conftest_dashboard"]``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pruning_core.runs.store import RunStore

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dashboard" / "app.py"
MLP_WEIGHTS = ROOT / "sample_models" / "weights" / "digits_mlp.safetensors"


def tiny_recipe(**changes: Any) -> dict[str, Any]:
    """A digits_mlp recipe that runs in about a second (one finetune epoch)."""
    recipe: dict[str, Any] = {
        "model": "digits_mlp",
        "criterion": "magnitude",
        "structure": "unstructured",
        "sparsity": 0.5,
        "finetune": {"epochs": 1, "batch_size": 128},
        "calibration": {"samples": 128},
        "seed": 0,
    }
    recipe.update(changes)
    if recipe.get("structure") == "2:4":
        recipe.pop("sparsity", None)
    return recipe


@pytest.fixture(scope="session")
def recipe() -> Callable[..., dict[str, Any]]:
    """:func:`tiny_recipe`, as a fixture (test modules cannot import a plugin module)."""
    return tiny_recipe


@pytest.fixture(scope="session")
def mlp_weights() -> Path:
    """The shipped digits_mlp weights (tests of the real engine need them)."""
    if not MLP_WEIGHTS.is_file():
        pytest.skip(
            "sample_models/weights/digits_mlp.safetensors is missing (train the samples first)"
        )
    return MLP_WEIGHTS


@pytest.fixture(scope="session")
def filled_store(tmp_path_factory: pytest.TempPathFactory, mlp_weights: Path) -> RunStore:
    """A store with finished runs of every kind, executed by a real in-process worker.

    Runs: magnitude and taylor at 2:4 (ids 1, 2), a sweep of magnitude/random x 0.5/0.8
    x seeds 0/1 without finetuning (ids 3-10), a run failing on a bad skip_layers (11)
    and a cancelled one (12).
    """
    from pruning_core.runs.worker import Worker

    store = RunStore(tmp_path_factory.mktemp("store") / "runs.sqlite")
    store.enqueue(tiny_recipe(structure="2:4"), label="single")
    store.enqueue(tiny_recipe(structure="2:4", criterion="taylor"), label="single")
    sweep = [
        tiny_recipe(criterion=c, sparsity=s, seed=seed, finetune={"epochs": 0})
        for c in ("magnitude", "random")
        for s in (0.5, 0.8)
        for seed in (0, 1)
    ]
    store.enqueue_many(sweep, label="sweep", sweep="sweep-test")
    store.enqueue(tiny_recipe(skip_layers=["nope*"]), label="single")
    store.request_cancel(store.enqueue(tiny_recipe()))
    Worker(store).run(once=True)
    return store


@pytest.fixture
def app_env(filled_store: RunStore, monkeypatch: pytest.MonkeyPatch) -> RunStore:
    """Point the dashboard at ``filled_store`` and keep it from starting workers."""
    monkeypatch.setenv("PRUNING_CORE_STORE", str(filled_store.path))
    monkeypatch.setenv("PRUNING_CORE_AUTOSTART_WORKER", "0")
    return filled_store


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout_s: float = 120.0) -> None:
    """Poll Streamlit's health endpoint until it answers ``ok``."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().decode() == "ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not become healthy in {timeout_s} s")


def stop_process(process: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
    """Terminate a process we started (its whole session), then kill it if it lingers."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture
def dashboard_server(tmp_path: Path) -> Iterator[tuple[str, RunStore]]:
    """A real ``streamlit run dashboard/app.py`` on 127.0.0.1 with an empty store.

    The dashboard starts its own worker when runs are queued; server and workers are
    stopped at the end whatever happens.
    """
    from pruning_core.runs.launcher import stop_workers

    store = RunStore(tmp_path / "store" / "runs.sqlite")
    port = free_port()
    env = {
        **os.environ,
        "PRUNING_CORE_STORE": str(store.path),
        "PRUNING_CORE_AUTOSTART_WORKER": "1",
    }
    log = (tmp_path / "streamlit.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(APP),
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield url, store
    finally:
        stop_process(process)
        stop_workers(store)
        log.close()
