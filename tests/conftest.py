"""Markers and the fixtures every layer shares.

Layers: ``engine/``, ``sensitivity/``, ``runs/``, ``dashboard/``, ``browser/`` (each with
its own conftest). Fast lane: ``pytest -m "not slow and not browser"``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from tiny_model import TinyModel

from pruning_core.runs.store import RunStore
from pruning_core.threads import fixed_threads


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Every test runs on one torch thread (session fixtures use ``fixed_threads(1)`` too)."""
    with fixed_threads(1):
        yield


@pytest.fixture(scope="session")
def tiny_model() -> TinyModel:
    """The shared tiny model: digits_mlp with its shipped weights and tiny budgets."""
    model = TinyModel()
    if not model.weights.is_file():
        pytest.skip(f"{model.weights} is missing (train the sample models first)")
    return model


@pytest.fixture(scope="session")
def filled_store(tmp_path_factory: pytest.TempPathFactory, tiny_model: TinyModel) -> RunStore:
    """A store with finished runs of every kind, executed by a real in-process worker.

    Runs: magnitude and taylor at 2:4 (ids 1, 2), a sweep of magnitude/random x 0.5/0.8
    x seeds 0/1 without finetuning (ids 3-10), a run failing on a bad skip_layers (11)
    and a cancelled one (12).
    """
    from pruning_core.runs.worker import Worker

    store = RunStore(tmp_path_factory.mktemp("store") / "runs.sqlite")
    store.enqueue(tiny_model.queued(structure="2:4"), label="single")
    store.enqueue(tiny_model.queued(structure="2:4", criterion="taylor"), label="single")
    sweep = [
        tiny_model.queued(criterion=c, sparsity=s, seed=seed, finetune={"epochs": 0})
        for c in ("magnitude", "random")
        for s in (0.5, 0.8)
        for seed in (0, 1)
    ]
    store.enqueue_many(sweep, label="sweep", sweep="sweep-test")
    store.enqueue(tiny_model.queued(skip_layers=["nope*"]), label="single")
    store.request_cancel(store.enqueue(tiny_model.queued()))
    with fixed_threads(1):  # session fixtures start before the autouse one_thread
        Worker(store).run(once=True)
    return store
