"""Every page through Streamlit's AppTest, on a store filled by the real engine (digits_mlp)."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import pytest
from safetensors.torch import save
from streamlit.testing.v1 import AppTest

from pruning_core.recipe import recipe_from_yaml
from pruning_core.runs.store import RunStore

pytest_plugins = ["conftest_dashboard"]
APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def charts_of(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def texts(at: AppTest) -> str:
    parts = [
        e.value
        for kind in ("markdown", "caption", "info", "error", "warning", "success")
        for e in getattr(at, kind)
    ]
    return "\n".join(str(part) for part in parts)


@pytest.fixture
def empty_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlp_weights: Path) -> RunStore:
    store = RunStore(tmp_path / "runs.sqlite")
    monkeypatch.setenv("PRUNING_CORE_STORE", str(store.path))
    monkeypatch.setenv("PRUNING_CORE_AUTOSTART_WORKER", "0")
    return store


def configure(**widgets: object) -> AppTest:
    at = open_page("configure")
    at.selectbox(key="cfg_model").set_value("digits_mlp").run()
    for key, value in widgets.items():
        element = next(
            e
            for kind in ("selectbox", "number_input", "slider", "toggle", "checkbox", "radio")
            for e in getattr(at, kind)
            if e.key == key
        )
        element.set_value(value).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_configure_shows_the_model_and_queues_a_run(empty_store: RunStore) -> None:
    at = configure(cfg_structure="n:m", cfg_epochs=1)
    labels = {metric.label: metric.value for metric in at.metric}
    assert labels["parameters"] == "116,618" and labels["dense test accuracy"].endswith("%")
    plan = at.dataframe[0].value
    assert list(plan["layer"]) == ["net.1", "net.3", "net.5", "net.7"]
    assert list(plan["plan"]) == [
        "kept dense (your choice)",
        "prune",
        "prune",
        "kept dense (your choice)",
    ]
    assert labels["theoretical speedup"].endswith("x")
    assert not at.error
    at.button(key="queue_run").click().run()
    (run,) = empty_store.list_runs()
    assert run.state == "queued" and run.recipe["structure"]["kind"] == "n:m"
    assert run.recipe["finetune"]["epochs"] == 1 and run.recipe["skip_layers"] == ["net.1", "net.7"]
    assert "Queued #1" in texts(at)


def test_configure_flags_invalid_combinations_inline(empty_store: RunStore) -> None:
    at = configure(cfg_structure="n:m", cfg_m=3, cfg_n=1)
    (error,) = at.error
    assert "**structure**" in error.value and "not a multiple of M=3" in error.value
    assert at.button(key="queue_run").disabled
    at = configure(cfg_schedule="gradual", cfg_epochs=0)
    assert any("**finetune.epochs**" in e.value for e in at.error)
    assert at.button(key="queue_run").disabled
    at.multiselect(key="cfg_skip_digits_mlp").set_value(["net.1", "net.3", "net.5", "net.7"]).run()
    assert any("every prunable layer is skipped" in e.value for e in at.error)
    assert empty_store.list_runs() == []


def test_configure_accepts_valid_safetensors_only(empty_store: RunStore, mlp_weights: Path) -> None:
    at = configure(cfg_weights="upload")
    assert at.button(key="queue_run").disabled  # nothing uploaded yet
    from safetensors.torch import load_file

    tensors = load_file(mlp_weights)
    at.get("file_uploader")[0].set_value(
        ("mine.safetensors", save(tensors), "application/octet-stream")
    ).run()
    assert not at.error and "validated" in texts(at)
    stored = list(empty_store.uploads_dir.glob("*.safetensors"))
    assert len(stored) == 1 and not at.button(key="queue_run").disabled
    at.button(key="queue_run").click().run()
    assert empty_store.list_runs()[0].recipe["weights"] == str(stored[0])

    buffer = io.BytesIO()
    pickle.dump({"net.1.weight": [1.0]}, buffer, protocol=4)
    at.get("file_uploader")[0].set_value(
        ("evil.safetensors", buffer.getvalue(), "application/octet-stream")
    ).run()
    assert any("**weights**" in e.value and "only .safetensors" in e.value for e in at.error)
    wrong = dict(tensors)
    wrong["net.3.weight"] = wrong["net.3.weight"][:, :10].contiguous()
    at.get("file_uploader")[0].set_value(
        ("wrong.safetensors", save(wrong), "application/octet-stream")
    ).run()
    assert any("'net.3.weight' has shape [256, 10]" in e.value for e in at.error)
    assert at.button(key="queue_run").disabled


def test_configure_queues_a_sweep(empty_store: RunStore) -> None:
    at = configure()
    at.multiselect(key="cfg_sweep_criteria").set_value(["magnitude", "random"])
    at.text_input(key="cfg_sweep_sparsities").set_value("0.5, 0.9")
    at.text_input(key="cfg_sweep_seeds").set_value("0, 1").run()
    assert at.button(key="queue_sweep").label == "Queue sweep (8 runs)"
    at.button(key="queue_sweep").click().run()
    assert "Queued 8 runs, #1 to #8." in texts(at)
    runs = empty_store.list_runs()
    assert len(runs) == 8 and len({run.sweep for run in runs}) == 1 and runs[0].sweep
    assert sorted({(r.recipe["criterion"], r.recipe["sparsity"]) for r in runs}) == [
        ("magnitude", 0.5),
        ("magnitude", 0.9),
        ("random", 0.5),
        ("random", 0.9),
    ]
    at.text_input(key="cfg_sweep_sparsities").set_value("0.5, 1.5").run()
    assert (
        any("**sparsity**" in e.value for e in at.error) and at.button(key="queue_sweep").disabled
    )


def test_runs_page_lists_runs_and_details(app_env: RunStore) -> None:
    at = open_page("runs")
    table = at.dataframe[0].value
    assert len(table) == 12 and set(table["state"]) == {"done", "failed", "cancelled"}
    assert "Nothing queued or running" in texts(at)
    assert at.selectbox(key="runs_detail").value == 10  # newest finished run
    at.selectbox(key="runs_detail").set_value(2).run()
    assert {m.label for m in at.metric} >= {"test accuracy", "theoretical speedup"}
    layers, curves, errors = charts_of(at)
    assert layers["data"][0]["x"] == ["net.1", "net.3", "net.5", "net.7"]
    assert any(trace["name"] == "#2 taylor 2:4 s0" or trace.get("y") for trace in curves["data"])
    assert errors["data"][0]["x"] == ["net.3", "net.5"]  # only the pruned layers
    assert all(value > 0 for value in errors["data"][0]["y"])
    at.selectbox(key="runs_detail").set_value(11).run()
    (error,) = at.error
    assert "**skip_layers**" in error.value and "Traceback" not in error.value


def test_runs_page_shows_progress_and_cancels(empty_store: RunStore, recipe: object) -> None:
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


def test_compare_page_overlays_two_runs(app_env: RunStore) -> None:
    at = open_page("compare")
    at.multiselect(key="compare_runs").set_value([1, 2]).run()
    assert not at.exception
    figures = charts_of(at)
    assert len(figures) == 4  # one per run, overlaid layers, overlaid curves
    overlay = figures[2]
    assert [trace["name"] for trace in overlay["data"]] == [
        "#1 magnitude 2:4 s0",
        "#2 taylor 2:4 s0",
    ]
    diff = at.dataframe[0].value
    assert list(diff.index) == ["criterion"] and list(diff.iloc[0]) == ["magnitude", "taylor"]
    metrics = at.dataframe[1].value
    assert "test accuracy" in metrics.index and metrics.shape[1] == 2


def test_sweeps_page_shows_criteria_with_bands(app_env: RunStore) -> None:
    at = open_page("sweeps")
    assert at.selectbox(key="sweeps_source").value == "sweep-test"
    (figure,) = charts_of(at)
    names = [trace["name"] for trace in figure["data"]]
    assert names == ["magnitude ± std", "magnitude", "random (baseline) ± std", "random (baseline)"]
    table = at.dataframe[0].value  # criteria x sparsities, "mean ± std (seeds)"
    assert list(table.columns) == ["50%", "80%"]
    assert all(cell.endswith("(2)") for cell in table.to_numpy().ravel())


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
    assert len(names) == 6 and names[0] == "#10 random unstructured 80% s1"
    assert "dense" in size["data"][0]["x"] and "(fp32)" in size["layout"]["title"]["text"]
    assert pareto["data"][-1]["name"] == "Pareto front"


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
    assert bars["customdata"] == [["NVIDIA H100", "2026-11-25T10:00:00+00:00", 1.2]]
    assert "No measurement yet on this device" in texts(at)  # H100 is not this machine


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
