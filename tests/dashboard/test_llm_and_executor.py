"""Executor line in the sidebar, metric-aware result views (accuracy vs perplexity), the
Hugging Face folder export and the per-layer heatmap of LLM runs."""

from __future__ import annotations

import os

import pytest
from app_support import open_page, texts

from dashboard.charts.queue import executor_text
from pruning_core.runs.store import RunStore


def test_executor_text_local_and_ray() -> None:
    assert executor_text({"executor": "local", "cpus": 8.0, "gpus": 0.0}) == "Local worker (8 CPUs)"
    ray = {"executor": "ray", "address": "10.0.0.1:6379", "cpus": 4.0, "gpus": 1.0, "nodes": 2}
    assert executor_text(ray) == "Ray cluster 10.0.0.1:6379: 4 CPUs, 1 GPUs, 2 nodes"
    unknown = {"executor": "ray", "address": "auto", "cpus": None, "gpus": None}
    assert executor_text(unknown) == "Ray cluster auto: ? CPUs, ? GPUs, ? nodes"


def test_sidebar_names_the_executor(empty_store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRUNING_CORE_EXECUTOR", raising=False)
    at = open_page("runs")
    assert f"Local worker ({os.cpu_count() or 1} CPUs)" in texts(at)
