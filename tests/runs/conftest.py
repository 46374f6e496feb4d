"""Run-store layer: an empty store and a driver that starts workers and waits on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from store_driver import StoreDriver

from pruning_core.runs.store import RunStore


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    """An empty run store in the test's folder."""
    return RunStore(tmp_path / "runs.sqlite")


@pytest.fixture
def driver(store: RunStore) -> Iterator[StoreDriver]:
    """Drives ``store``; the workers it started are stopped at the end of the test."""
    driver = StoreDriver(store)
    yield driver
    driver.close()
