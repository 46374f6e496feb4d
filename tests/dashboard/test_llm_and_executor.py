"""Executor line in the sidebar, metric-aware result views (accuracy vs perplexity), the
Hugging Face folder export and the per-layer heatmap of LLM runs."""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile

import pandas as pd
import pytest
from app_support import charts_of, open_page, texts
from streamlit.testing.v1 import AppTest

from dashboard.charts.compare import metrics_table
from dashboard.charts.heatmap import block_grid, layer_heatmap_chart, wants_heatmap
from dashboard.charts.metric import log_axis, metric_of
from dashboard.charts.queue import executor_text
from dashboard.charts.sweeps import accuracy_vs_sparsity_chart
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


LM = {"metric": "perplexity", "test_accuracy": None, "val_accuracy": None}


def test_metric_of_follows_the_task() -> None:
    assert metric_of({"metric": "accuracy"}) == ("test_accuracy", "test accuracy", True)
    assert metric_of({}) == ("test_accuracy", "test accuracy", True)  # older runs
    assert metric_of(LM) == ("test_perplexity", "test perplexity (lower is better)", False)
    assert metric_of(LM, "val")[0] == "val_perplexity"
    assert log_axis([2.0, 30.0]) and not log_axis([2.0, 19.0]) and not log_axis([None])


def _lm_sweep() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "criterion": ["magnitude"] * 3,
            "target_sparsity": [0.3, 0.5, 0.7],
            "seed": [0, 0, 0],
            "test_perplexity": [12.0, 20.0, 300.0],
            "val_after_pruning": [14.0, 25.0, 400.0],
        }
    )


def test_sweep_chart_draws_perplexity_lower_is_better_on_a_log_axis() -> None:
    figure = accuracy_vs_sparsity_chart(
        _lm_sweep(), "test_perplexity", dense=10.0, after="val_after_pruning"
    ).to_plotly_json()
    axis = figure["layout"]["yaxis"]
    assert axis["title"]["text"] == "test perplexity (lower is better)" and axis["type"] == "log"
    assert "tickformat" not in axis or not axis["tickformat"]
    assert "%{y:.2f}" in figure["data"][0]["hovertemplate"]
    assert any("dense 10.00" in str(note.get("text")) for note in figure["layout"]["annotations"])
    narrow = _lm_sweep().assign(test_perplexity=[12.0, 13.0, 15.0], val_after_pruning=None)
    flat = accuracy_vs_sparsity_chart(narrow, "test_perplexity").to_plotly_json()
    assert "type" not in flat["layout"]["yaxis"]


def test_sweep_chart_keeps_accuracy_as_before() -> None:
    runs = _lm_sweep().rename(columns={"test_perplexity": "test_accuracy"})
    runs["test_accuracy"] = [0.9, 0.8, 0.5]
    figure = accuracy_vs_sparsity_chart(runs, dense=0.95).to_plotly_json()
    axis = figure["layout"]["yaxis"]
    assert axis["title"]["text"] == "test accuracy" and "%" in axis["tickformat"]
    assert figure["data"][0]["hovertemplate"].startswith(
        "sparsity %{x:.0%}<br>mean %{y:.2%} ± %{customdata[0]:.2%}<br>"
    )


def test_compare_table_shows_perplexity_rows_for_lms() -> None:
    chosen = pd.DataFrame(
        {
            "id": [1, 2],
            "run": ["#1 magnitude 50% s0", "#2 wanda 50% s0"],
            "metric": ["perplexity", "perplexity"],
            "test_accuracy": [None, None],
            "test_perplexity": [21.5, 18.25],
            "dense_test_perplexity": [15.0, 15.0],
            "val_after_pruning": [30.0, 22.0],
        }
    )
    table = metrics_table(chosen)
    assert list(table.index) == [
        "val perplexity right after pruning (before finetuning)",
        "test perplexity (lower is better)",
        "dense test perplexity",
    ]
    assert list(table.loc["test perplexity (lower is better)"]) == ["21.50", "18.25"]
    digits = chosen.drop(columns="metric").assign(test_accuracy=[0.9, 0.8])
    assert "test perplexity (lower is better)" not in metrics_table(digits).index


def _headline(summary: dict, run: dict) -> None:
    import pandas as pd

    from dashboard.components import run_details

    run_details.headline(summary, pd.Series(run))


def test_runs_headline_shows_perplexity_for_lms(empty_store: RunStore) -> None:
    summary = {
        **LM,
        "test_perplexity": 21.5,
        "dense_test_perplexity": 15.0,
        "val_perplexity": 19.0,
        "sparsity_pruned_layers": 0.5,
        "theoretical_speedup": 1.0,
    }
    run = {"accuracy_delta": float("nan"), "val_after_pruning": 40.0, "best_format_bytes": None,
           "dense_bytes": 2048, "best_format": None}  # fmt: skip
    at = AppTest.from_function(_headline, args=(summary, run), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    first, second = at.metric[0], at.metric[1]
    assert first.label == "test perplexity (lower is better)" and first.value == "21.50"
    assert first.delta == "+6.50 vs dense" and first.proto.color == 0  # inverse: RED (0) when up
    assert second.label == "val perplexity right after pruning" and second.value == "40.00"


def _lm_run(store: RunStore) -> int:
    """A finished LLM-like run with results, recipe and an ``hf/`` folder (no engine run)."""
    run_id = store.enqueue({"model": "digits_mlp", "criterion": "magnitude", "sparsity": 0.5})
    store.register_worker("w", 1, "here")
    store.claim("w")
    summary = {**LM, "test_perplexity": 21.5, "dense_test_perplexity": 15.0,
               "sparsity_pruned_layers": 0.5, "theoretical_speedup": 1.0}  # fmt: skip
    folder = store.artifacts_dir(run_id)
    (folder / "hf").mkdir(parents=True)
    (folder / "hf" / "config.json").write_text('{"model_type": "llama"}')
    (folder / "hf" / "tokenizer.json").write_text("{}")
    (folder / "hf" / "model.safetensors").write_bytes(b"\0" * 64)
    (folder / "recipe.yaml").write_text("model: digits_mlp\n")
    layers = (
        _llm_layers(11)
        .assign(kind="linear", shape=[[64, 64]] * 45, shape_original=[[64, 64]] * 45,
                params_original=4096, params=4096, nonzeros=2048, pruned=True, note="",
                reconstruction_error=None, dense_macs=4096, effective_macs=2048)
        .to_dict("records")
    )  # fmt: skip
    document = {"summary": summary, "recipe": {"model": "digits_mlp"}, "layers": layers,
                "curves": [], "environment": {}}  # fmt: skip
    (folder / "results.json").write_text(json.dumps(document))
    assert store.finish(run_id, "w", "done", summary)
    return run_id


def test_export_page_offers_the_hf_folder_as_a_zip(empty_store: RunStore) -> None:
    run_id = _lm_run(empty_store)
    at = open_page("export")
    keys = {button.key for button in at.get("download_button")}
    assert "export_hf" in keys
    assert "expect test perplexity **21.5000**" in texts(at)
    from dashboard import services

    with zipfile.ZipFile(io.BytesIO(services.hf_zip(run_id))) as archive:
        assert sorted(archive.namelist()) == [
            f"run_{run_id}_hf/config.json",
            f"run_{run_id}_hf/model.safetensors",
            f"run_{run_id}_hf/tokenizer.json",
        ]
        assert archive.read(f"run_{run_id}_hf/config.json") == b'{"model_type": "llama"}'
    shutil.rmtree(empty_store.artifacts_dir(run_id) / "hf")
    assert services.hf_folder(run_id) is None and services.hf_zip(run_id) == b""
    again = open_page("export")
    assert "export_hf" not in {button.key for button in again.get("download_button")}


def _llm_layers(blocks: int) -> pd.DataFrame:
    projections = ["self_attn.q_proj", "self_attn.k_proj", "mlp.gate_proj", "mlp.down_proj"]
    rows = [
        {"name": f"model.layers.{b}.{p}", "sparsity": 0.1 * b + 0.01 * i}
        for b in range(blocks)
        for i, p in enumerate(projections)
    ]
    return pd.DataFrame([*rows, {"name": "lm_head", "sparsity": 0.0}])


def test_heatmap_pivots_blocks_by_projection() -> None:
    layers = _llm_layers(11)  # 45 layers
    grid = block_grid(layers)
    assert list(grid.columns) == ["q_proj", "k_proj", "gate_proj", "down_proj"]
    assert list(grid.index) == list(range(11))
    assert grid.loc[2, "gate_proj"] == pytest.approx(0.22)
    assert wants_heatmap(layers) and not wants_heatmap(_llm_layers(5))
    assert not wants_heatmap(pd.DataFrame({"name": [f"net.{i}" for i in range(50)],
                                           "sparsity": [0.5] * 50}))  # fmt: skip
    figure = layer_heatmap_chart(layers).to_plotly_json()
    (trace,) = figure["data"]
    assert trace["type"] == "heatmap" and trace["x"] == list(grid.columns)
    assert trace["y"][0] == "block 0" and trace["z"][2][2] == pytest.approx(0.22)
    assert not layer_heatmap_chart(pd.DataFrame()).to_plotly_json()["data"]


def test_reconstruction_error_heatmap_leaves_unpruned_cells_blank() -> None:
    layers = _llm_layers(11)
    layers["reconstruction_error"] = [0.001 * i for i in range(len(layers) - 1)] + [None]
    layers.loc[5, "reconstruction_error"] = None  # block 1 k_proj was kept dense
    grid = block_grid(layers, "reconstruction_error")
    assert grid.loc[2, "gate_proj"] == pytest.approx(0.010)
    figure = layer_heatmap_chart(layers, "errors", "reconstruction_error").to_plotly_json()
    (trace,) = figure["data"]
    assert trace["z"][1][1] is None and trace["z"][2][2] == pytest.approx(0.010)
    assert "zmax" not in trace  # the color range follows the errors, not 0..100%
    assert trace["colorbar"]["title"]["text"] == "relative output error"


def test_runs_page_shows_the_block_heatmap_and_perplexity(empty_store: RunStore) -> None:
    _lm_run(empty_store)
    at = open_page("runs")
    assert at.metric[0].label == "test perplexity (lower is better)"
    assert at.metric[0].value == "21.50"
    kinds = [chart["data"][0]["type"] for chart in charts_of(at) if chart["data"]]
    assert kinds[0] == "heatmap"
