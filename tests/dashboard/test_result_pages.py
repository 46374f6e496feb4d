"""The result pages through AppTest (Runs, Compare, Sweeps, Speed & size, Export), on a store
the real engine filled with digits_mlp runs."""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

import pytest
from app_support import charts_of, errors, open_page, texts

from pruning_core.recipe import recipe_from_yaml
from pruning_core.runs.store import RunStore

SLOW = pytest.mark.slow  # the shared filled store (app_env) runs 12 recipes first


@SLOW
def test_runs_page_lists_runs_and_details(app_env: RunStore) -> None:
    at = open_page("runs")
    table = at.dataframe[0].value
    assert len(table) == 12 and set(table["state"]) == {"done", "failed", "cancelled"}
    assert "dense_macs" not in table and "None" not in table.astype(str).to_numpy()
    assert "Nothing queued or running" in texts(at)
    assert at.selectbox(key="runs_detail").value == 10  # newest finished run
    at.selectbox(key="runs_detail").set_value(2).run()
    assert {m.label for m in at.metric} >= {"test accuracy (final)", "theoretical speedup"}
    layers, curves, reconstruction = charts_of(at)
    assert layers["data"][0]["x"] == ["net.1", "net.3", "net.5", "net.7"]
    recorded = json.loads((app_env.artifacts_dir(2) / "results.json").read_text())["curves"]
    assert [row["kind"] for row in recorded] == ["dense", "prune", "finetune"]  # one epoch
    accuracy, sparsity = curves["data"]  # the run's accuracy line and its sparsity steps
    assert accuracy["x"] == sparsity["x"] == [row["step"] for row in recorded]
    assert accuracy["y"] == pytest.approx([row["val_accuracy"] for row in recorded])
    assert accuracy["marker"]["symbol"] == ["circle-open", "triangle-down", "circle"]
    assert sparsity["yaxis"] == "y2" and sparsity["y"] == pytest.approx([0.0, 0.5, 0.5])
    assert accuracy["y"][1] < accuracy["y"][0]  # pruning costs accuracy, finetuning wins some back
    assert reconstruction["data"][0]["x"] == ["net.3", "net.5"]  # only the pruned layers
    assert all(value > 0 for value in reconstruction["data"][0]["y"])
    at.selectbox(key="runs_detail").set_value(11).run()
    (error,) = errors(at)
    assert error.startswith("**layers kept dense** (skip_layers)") and "Traceback" not in error


def test_runs_page_shows_progress_and_cancels(empty_store: RunStore) -> None:
    run_id = empty_store.enqueue({"model": "digits_mlp"})
    empty_store.register_worker("w", 1, "elsewhere")
    other = empty_store.enqueue({"model": "digits_mlp", "seed": 1})
    empty_store.claim("w")
    empty_store.update_progress(run_id, "w", "finetune", 0.42, "round 1 step 7/17")
    at = open_page("runs")
    (bar,) = at.get("progress")
    assert bar.proto.value == 42 and "finetune 42%" in bar.proto.text
    at.button(key=f"cancel_{other}").click().run()
    assert empty_store.get(other).state == "cancelled"  # type: ignore[union-attr]
    at.button(key=f"cancel_{run_id}").click().run()
    assert empty_store.cancel_requested(run_id)


@SLOW
def test_compare_page_overlays_two_runs(app_env: RunStore) -> None:
    at = open_page("compare")
    at.multiselect(key="compare_runs").set_value([1, 2]).run()
    assert not at.exception
    figures = charts_of(at)
    assert len(figures) == 4  # one per run, overlaid layers, overlaid curves
    overlay = figures[2]
    assert [trace["name"] for trace in overlay["data"]] == [
        "#1 magnitude 2:4 fp32 s0",
        "#2 taylor 2:4 fp32 s0",
    ]
    diff = at.dataframe[0].value
    assert list(diff.index) == ["criterion"] and list(diff.iloc[0]) == ["magnitude", "taylor"]
    metrics = at.dataframe[1].value
    assert "test accuracy" in metrics.index and metrics.shape[1] == 2


@SLOW
def test_compare_page_shows_recipe_values_as_text(
    filled_store: RunStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hostile = "w1<img src=x onerror=alert(1)>[x](javascript:alert(1)).safetensors"
    store = RunStore(tmp_path / "runs.sqlite")  # runs 1 and 2 again, one with a hostile path
    store.register_worker("w", 1, "elsewhere")
    for run_id in (1, 2):
        source = filled_store.get(run_id)
        assert source is not None
        store.enqueue(source.recipe)
        claimed = store.claim("w")
        assert claimed is not None and claimed.id == run_id
        store.finish(run_id, "w", "done", summary=source.summary)
        shutil.copytree(filled_store.artifacts_dir(run_id), store.artifacts_dir(run_id))
    results = store.artifacts_dir(2) / "results.json"
    document = json.loads(results.read_text())
    document["recipe"]["weights"] = hostile
    results.write_text(json.dumps(document))
    monkeypatch.setenv("PRUNING_CORE_STORE", str(store.path))
    monkeypatch.setenv("PRUNING_CORE_AUTOSTART_WORKER", "0")
    at = open_page("compare")
    at.multiselect(key="compare_runs").set_value([1, 2]).run()
    assert not at.exception
    shown = [element.proto.body for element in at.get("html")]
    assert any(f"weights: {html.escape(hostile)}</span>" in body for body in shown)  # as text
    assert any("weights: null</span>" in body for body in shown)
    assert "<img" not in "".join(shown)
    diff = at.dataframe[0].value
    assert diff.loc["weights"].tolist() == ["null", hostile]


@SLOW
def test_sweeps_page_shows_criteria_with_bands(app_env: RunStore) -> None:
    at = open_page("sweeps")
    assert at.selectbox(key="sweeps_source").value == "sweep-test"
    (figure,) = charts_of(at)
    names = [trace["name"] for trace in figure["data"]]
    assert names == [
        "magnitude ± std",
        "magnitude",
        "random (baseline) ± std",
        "random (baseline)",
        "magnitude · right after pruning (val)",
        "random (baseline) · right after pruning (val)",
    ]
    table = at.dataframe[0].value  # criteria x sparsities, "mean ± std (seeds)"
    assert list(table.columns) == ["50%", "80%"]
    assert all(cell.endswith("(2)") for cell in table.to_numpy().ravel())


@SLOW
def test_speed_page_labels_theoretical_numbers(
    app_env: RunStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRUNING_CORE_RESULTS", str(tmp_path))  # no measurements at all
    at = open_page("speedups")
    speed, size, pareto = charts_of(at)
    assert speed["data"][0]["name"] == "theoretical (dense / effective MACs)"
    assert speed["layout"]["title"]["text"] == "Theoretical speedup"
    assert "No measurement yet on this device" in texts(at)
    assert at.radio(key="size_precision").value == "fp32"  # exact bytes per format, one precision
    names = [trace["name"] for trace in size["data"]]  # one color per run: the 6 newest
    assert len(names) == 6 and names[0] == "#10 random unstructured 80% fp32 s1"
    assert "dense" in size["data"][0]["x"] and "(fp32)" in size["layout"]["title"]["text"]
    assert pareto["data"][-1]["name"] == "Pareto front"


@SLOW
def test_speed_page_shows_measurements_with_device_and_date(
    app_env: RunStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    row = {
        "kind": "measured",
        "model": "mlp",
        "structure": "2:4",
        "variant": "fp16",
        "speedup": 1.4,
        "device": "NVIDIA H100",
        "date": "2026-11-25T10:00:00+00:00",
        "median_ms": 1.2,
    }
    (tmp_path / "gpu.json").write_text(json.dumps([row]))
    (tmp_path / "gpu.csv").write_text(
        ",".join(row) + "\n" + ",".join(map(str, row.values())) + "\n"
    )
    monkeypatch.setenv("PRUNING_CORE_RESULTS", str(tmp_path))
    at = open_page("speedups")
    theoretical, measured = charts_of(at)[:2]
    assert [trace["name"] for trace in theoretical["data"]] == [
        "theoretical (dense / effective MACs)"
    ]
    (bars,) = measured["data"]  # the CSV copy of the same row is not counted twice
    assert bars["name"] == "measured (timed)" and bars["y"] == ["mlp · 2:4 · fp16"]
    assert "NVIDIA H100" in texts(at)
    assert bars["customdata"] == [["NVIDIA H100", "2026-11-25T10:00:00+00:00", 1.2, 1]]
    assert [a["text"] for a in measured["layout"]["annotations"]] == [
        "1.40x · NVIDIA H100 · 2026-11-25"
    ]
    assert "No measurement yet on this device" in texts(at)  # H100 is not this machine


@SLOW
def test_export_page_offers_files_that_parse(app_env: RunStore) -> None:
    at = open_page("export")
    at.selectbox(key="export_run").set_value(2).run()
    keys = {button.key for button in at.get("download_button")}
    assert keys == {
        "export_recipe",
        "export_weights",
        "export_layers",
        "export_summary",
        "export_all",
    }
    yaml_text = next(code.value for code in at.code if code.language == "yaml")
    assert yaml_text == (app_env.artifacts_dir(2) / "recipe.yaml").read_text().strip()
    assert recipe_from_yaml(yaml_text).criterion == "taylor"
    assert "pruning-core run run_2_recipe.yaml --out run_2" in [code.value for code in at.code]
