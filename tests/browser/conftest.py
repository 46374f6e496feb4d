"""Browser layer: the real app served by ``streamlit run`` and driven in Debian's Chromium.

Chromium helpers (launch, settle, screenshots) live in ``browser_support.py``, the
server's start and stop in ``streamlit_server.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from streamlit_server import ROOT, free_port, start_streamlit, stop_process, wait_healthy

from pruning_core.runs.store import RunStore


@contextmanager
def serve(
    folder: Path, autostart: bool, script_args: tuple[str, ...] = ()
) -> Iterator[tuple[str, RunStore]]:
    """A real dashboard on 127.0.0.1 with an empty store in ``folder``, started as the
    launcher does (``script_args`` after ``--``, e.g. ``--models-dir DIR``); stopped (with
    the workers it started) whatever happens."""
    from pruning_core.runs.launcher import stop_workers

    store = RunStore(folder / "store" / "runs.sqlite")
    port = free_port()
    env = {
        **os.environ,
        "PRUNING_CORE_STORE": str(store.path),
        "PRUNING_CORE_AUTOSTART_WORKER": "1" if autostart else "0",
    }
    flags: tuple[str, ...] = (
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
    )
    flags += ("--", *script_args) if script_args else ()
    process = start_streamlit(port, ROOT, env, folder / "streamlit.log", *flags)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield url, store
    finally:
        stop_process(process)
        stop_workers(store)


@pytest.fixture
def dashboard_server(tmp_path: Path) -> Iterator[tuple[str, RunStore]]:
    """The dashboard, which starts its own worker when runs are queued."""
    with serve(tmp_path, autostart=True) as served:
        yield served


@pytest.fixture
def quiet_dashboard(tmp_path: Path) -> Iterator[tuple[str, RunStore]]:
    """The dashboard without its own worker: the test runs one and decides when it works."""
    with serve(tmp_path, autostart=False) as served:
        yield served
