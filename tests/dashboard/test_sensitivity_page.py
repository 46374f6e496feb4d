"""The Sensitivity page through AppTest: profiles, the live editor, queueing, predictions."""

from __future__ import annotations

import json

import pytest
from app_support import APP, errors
from streamlit.testing.v1 import AppTest

from pruning_core.runs.store import RunStore
from pruning_core.runs.worker import Worker
from pruning_core.sensitivity.profile import parse_job

pytestmark = pytest.mark.slow  # a profile and an editor run, computed by the real engine
JOB = {"model": "digits_mlp", "sparsities": [0.5, 0.8, 0.9], "calibration": {"samples": 64}}


@pytest.fixture(scope="module")
def profile_store(tmp_path_factory: pytest.TempPathFactory) -> RunStore:
    """A store with one finished profile (#1); the editor test queues and runs #2."""
    store = RunStore(tmp_path_factory.mktemp("sens") / "runs.sqlite")
    store.enqueue(parse_job(JOB).model_dump(mode="json"), label="sensitivity")
    Worker(store).run(once=True)
    return store


@pytest.fixture
def page(profile_store: RunStore, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("PRUNING_CORE_STORE", str(profile_store.path))
    monkeypatch.setenv("PRUNING_CORE_AUTOSTART_WORKER", "0")
    at = AppTest.from_file(APP, default_timeout=180)
    at.switch_page("app_pages/sensitivity.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def _charts(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def test_editor_shows_the_profile_the_plan_and_live_estimates(page: AppTest) -> None:
    assert page.title[0].value == "Sensitivity & per-layer sparsity"
    metrics = _metrics(page)
    assert metrics["average sparsity"] == "90.0%"
    assert metrics["theoretical speedup"].endswith("x")
    assert "predicted val accuracy" in metrics
    charts = _charts(page)
    titles = [chart["layout"]["title"]["text"] for chart in charts]
    assert any("Proposed sparsity per layer" in t for t in titles)
    assert any(t.startswith("Sensitivity:") for t in titles)
    plan = {trace["name"]: trace for trace in charts[0]["data"]}
    assert plan["proposed sparsity"]["x"] == ["net.3", "net.5"]
    assert plan["kept dense (not profiled)"]["x"] == ["net.1", "net.7"]
    assert plan["share of MACs (theoretical)"]["x"] == ["net.1", "net.3", "net.5", "net.7"]
    assert "share of CPU latency (measured)" in plan


def test_the_slider_redistributes_and_the_run_carries_the_allocation(
    page: AppTest, profile_store: RunStore
) -> None:
    page.slider(key="sens_target").set_value(70).run()
    assert _metrics(page)["average sparsity"] == "70.0%"
    page.button(key="sens_queue").click().run()
    assert not page.exception
    assert any("Queued #" in s.value for s in page.success)
    record = profile_store.list_runs()[0]
    assert record.label == "sensitivity editor" and record.state == "queued"
    assert record.recipe["allocation"] == "sensitivity" and record.recipe["sparsity"] == 0.7
    assert set(record.recipe["layer_sparsity"]) == {"net.3", "net.5"}
    Worker(profile_store).run(once=True)
    page.run()
    assert any("Predicted vs actual" in h.value for h in page.subheader)
    frame = page.dataframe[-1].value
    assert frame["actual_val_after_prune"].notna().all()
    assert frame["predicted_val_after_prune"].notna().all()


def test_infeasible_budget_is_an_error_naming_the_field(page: AppTest) -> None:
    page.number_input(key="sens_high_1").set_value(0.5).run()
    assert not page.exception
    shown = errors(page)
    assert any(e.startswith("**sparsity**") and "upper limits" in e for e in shown), shown


def test_a_bad_grid_is_an_error_naming_the_field(page: AppTest) -> None:
    page.text_input(key="sens_grid").set_value("0.5, 1.5").run()
    page.button(key="sens_compute").click().run()
    assert not page.exception
    assert any(e.startswith("**sparsities**") for e in errors(page))
