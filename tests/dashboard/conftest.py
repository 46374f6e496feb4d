"""Dashboard layer: the app through Streamlit's AppTest, on stores the real engine filled.

``filled_store`` and ``tiny_model`` come from ``tests/conftest.py``; page helpers live in
``app_support.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_model import TinyModel

from pruning_core.runs.store import RunStore


@pytest.fixture
def app_env(filled_store: RunStore, monkeypatch: pytest.MonkeyPatch) -> RunStore:
    """Point the dashboard at ``filled_store`` and keep it from starting workers."""
    monkeypatch.setenv("PRUNING_CORE_STORE", str(filled_store.path))
    monkeypatch.setenv("PRUNING_CORE_AUTOSTART_WORKER", "0")
    return filled_store


@pytest.fixture
def empty_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_model: TinyModel) -> RunStore:
    """An empty store the dashboard uses (no worker is started)."""
    store = RunStore(tmp_path / "runs.sqlite")
    monkeypatch.setenv("PRUNING_CORE_STORE", str(store.path))
    monkeypatch.setenv("PRUNING_CORE_AUTOSTART_WORKER", "0")
    return store
