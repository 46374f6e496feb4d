"""A worker the dashboard started stops when the dashboard stops (no orphan left behind).

The run it was executing goes back to the queue for the next worker.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from browser_support import chromium_page, expect
from streamlit_server import ROOT, free_port, start_streamlit, stop_process, wait_healthy

from pruning_core.runs.launcher import stop_workers
from pruning_core.runs.liveness import pid_alive
from pruning_core.runs.store import RunStore

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_worker_stops_with_the_dashboard(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "store" / "runs.sqlite")
    run_id = store.enqueue({"model": "digits_mlp", "finetune": {"epochs": 200}})
    port = free_port()
    env = {**os.environ, "PRUNING_CORE_STORE": str(store.path)}
    flags = ("--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false")
    process = start_streamlit(port, ROOT, env, tmp_path / "streamlit.log", *flags)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, process)
        with chromium_page("worker_lifetime") as page:
            page.goto(f"{url}/runs")  # the page's first script run starts a worker
            expect(page.get_by_text("Worker: pid")).to_be_visible(timeout=120_000)
        deadline = time.time() + 300
        while (record := store.get(run_id)) and record.state != "running":
            assert time.time() < deadline, "the worker never started the run"
            time.sleep(0.5)
        (worker,) = store.workers()
        stop_process(process)  # Ctrl-C / SIGTERM of the dashboard
        deadline = time.time() + 60
        while pid_alive(worker.pid) and time.time() < deadline:
            time.sleep(0.2)
        assert not pid_alive(worker.pid), "the worker outlived the dashboard that started it"
        record = store.get(run_id)
        assert record is not None and record.state == "queued"  # back in the queue, not lost
    finally:
        stop_process(process)
        stop_workers(store)
