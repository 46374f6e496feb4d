"""Run views judge each run by its own metric: accuracy (higher is better) for classifiers,
perplexity (lower is better) for causal language models, never both on one axis.

Pure chart and table tests on hand-made rows, then the Runs, Speed & size and Compare
pages through AppTest: on fabricated results (fast) and on a real finished tiny_lm run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from app_support import charts_of, open_page, texts
from tiny_model import TinyModel

from dashboard import charts
from dashboard.charts import compare, display, tables
from dashboard.charts.runs import curve_metrics
from pruning_core.runs.store import RunStore
from pruning_core.threads import fixed_threads


def _curves(field: str, values: list[float]) -> pd.DataFrame:
    kinds = ["dense", "prune", "finetune"][: len(values)]
    return pd.DataFrame(
        [
            {"kind": kind, "step": 10 * i, "round": 1, "sparsity": 0.5 * (i > 0), field: value}
            for i, (kind, value) in enumerate(zip(kinds, values, strict=True))
        ]
    )


def _layout(figure: Any) -> dict[str, Any]:
    return dict(figure.to_plotly_json()["layout"])


# -- curves ---------------------------------------------------------------------------


def test_curves_chart_draws_val_perplexity_for_language_models() -> None:
    lm = _curves("val_perplexity", [20.0, 400.0, 35.0]).assign(val_accuracy=None)
    figure = charts.curves_chart(lm)
    line, sparsity = figure.data
    assert list(line.y) == [20.0, 400.0, 35.0] and sparsity.yaxis == "y2"
    layout = _layout(figure)
    assert layout["title"]["text"] == "Perplexity while pruning and finetuning"
    assert layout["yaxis"]["title"]["text"] == "val perplexity (lower is better)"
    assert layout["yaxis"]["type"] == "log" and "tickformat" not in layout["yaxis"]
    assert "val perplexity %{y:.2f}" in line.hovertemplate and ".2%" not in line.hovertemplate
    narrow = charts.curves_chart(_curves("val_perplexity", [20.0, 30.0]))
    assert "type" not in _layout(narrow)["yaxis"]  # within 10x: a linear axis
    overlaid = charts.curves_chart(lm, overlaid=True)
    assert _layout(overlaid)["title"]["text"] == "Perplexity while pruning and finetuning, overlaid"


def test_curves_chart_keeps_accuracy_for_classifiers() -> None:
    figure = charts.curves_chart(_curves("val_accuracy", [0.97, 0.6, 0.9]))
    layout = _layout(figure)
    assert layout["title"]["text"] == "Accuracy while pruning and finetuning"
    assert layout["yaxis"]["title"]["text"] == "val accuracy"
    assert layout["yaxis"]["tickformat"].endswith("%") and "type" not in layout["yaxis"]
    assert "val accuracy %{y:.2%}" in figure.data[0].hovertemplate


def test_curves_chart_says_so_when_runs_use_different_metrics() -> None:
    mixed = pd.concat(
        [
            _curves("val_accuracy", [0.97, 0.6]).assign(run="#1 digits"),
            _curves("val_perplexity", [20.0, 30.0]).assign(run="#2 lm"),
        ]
    )
    assert curve_metrics(mixed) == {"#1 digits": "accuracy", "#2 lm": "perplexity"}
    figure = charts.curves_chart(mixed, overlaid=True)
    assert len(figure.data) == 0
    (note,) = figure.layout.annotations
    assert "different metrics" in note.text and "#1 digits" in note.text and "#2 lm" in note.text
    nothing = charts.curves_chart(pd.DataFrame(columns=["kind", "step", "sparsity"]))
    assert len(nothing.data) == 0 and nothing.layout.annotations


# -- Pareto ---------------------------------------------------------------------------

THREE = pd.DataFrame({"size": [1, 2, 3], "score": [30.0, 40.0, 20.0]})


def test_pareto_front_follows_the_metric_direction() -> None:
    lower = charts.pareto_front(THREE, "size", "score", higher_is_better=False)
    assert list(lower["size"]) == [1, 3]  # 2 (40) is beaten by 1: smaller and lower
    higher = charts.pareto_front(THREE, "size", "score")
    assert list(higher["size"]) == [1, 2]  # 3 (20) is beaten by 2 (40)
    tie = pd.DataFrame({"size": [1, 1, 2], "score": [30.0, 25.0, 25.0]})
    assert list(charts.pareto_front(tie, "size", "score", False)["score"]) == [25.0]


def _pareto_runs(metric: str, values: list[float]) -> pd.DataFrame:
    column = "test_perplexity" if metric == "perplexity" else "test_accuracy"
    return pd.DataFrame(
        {
            "run": ["#1", "#2", "#3"],
            "criterion": ["magnitude", "wanda", "random"],
            "metric": metric,
            "size_bytes": [1024, 2048, 3072],
            column: values,
        }
    )


def test_pareto_chart_of_perplexity_runs_is_lower_is_better_on_a_log_axis() -> None:
    figure = charts.pareto_chart(_pareto_runs("perplexity", [30.0, 40.0, 900.0]))
    layout = _layout(figure)
    assert layout["title"]["text"] == "Pareto view: test perplexity vs model size"
    assert layout["yaxis"]["title"]["text"] == "test perplexity (lower is better)"
    assert layout["yaxis"]["type"] == "log"
    front = figure.data[-1]
    assert front.name == "Pareto front" and list(front.x) == [1.0] and list(front.y) == [30.0]
    assert "%{y:.2f}" in figure.data[0].hovertemplate
    fewer = _pareto_runs("perplexity", [30.0, 25.0, 20.0])  # every step buys a lower perplexity
    assert list(charts.pareto_chart(fewer).data[-1].x) == [1.0, 2.0, 3.0]
    assert "type" not in _layout(charts.pareto_chart(fewer))["yaxis"]


def test_pareto_chart_of_accuracy_runs_and_of_mixed_runs() -> None:
    figure = charts.pareto_chart(_pareto_runs("accuracy", [0.8, 0.9, 0.5]))
    layout = _layout(figure)
    assert layout["yaxis"]["title"]["text"] == "test accuracy"
    assert layout["yaxis"]["tickformat"].endswith("%") and list(figure.data[-1].x) == [1.0, 2.0]
    mixed = pd.concat(
        [_pareto_runs("accuracy", [0.8, 0.9, 0.5]), _pareto_runs("perplexity", [30.0, 1, 2])]
    )
    refused = charts.pareto_chart(mixed)
    assert len(refused.data) == 0 and "different metrics" in refused.layout.annotations[0].text
    assert len(charts.pareto_chart(mixed, y="test_perplexity").data) == 4  # 3 criteria + front


# -- runs table -----------------------------------------------------------------------


def _record(run_id: int, summary: dict[str, Any], metric: str, after: float) -> dict[str, Any]:
    return {
        "id": run_id, "state": "done", "recipe": {"model": "m", "criterion": "magnitude"},
        "structure_label": "unstructured", "sparsity_fixed": False, "created": 0.0,
        "started": 0.0, "finished": 1.0, "sweep": None, "summary": summary,
        "facts": {"metric": metric, "val_after_pruning": after},
    }  # fmt: skip


LM_SUMMARY = {"metric": "perplexity", "test_accuracy": None, "dense_test_accuracy": None,
              "val_accuracy": None, "test_perplexity": 112.38, "dense_test_perplexity": 109.35,
              "val_perplexity": 103.5}  # fmt: skip
CLASSIFIER_SUMMARY = {"metric": "accuracy", "test_accuracy": 0.9, "dense_test_accuracy": 0.95,
                      "val_accuracy": 0.91}  # fmt: skip


def test_runs_table_gives_each_run_its_own_metric_and_delta() -> None:
    runs = tables.runs_table(
        [
            _record(2, LM_SUMMARY, "perplexity", 150.0),
            _record(1, CLASSIFIER_SUMMARY, "accuracy", 0.6),
        ]
    )
    lm, classifier = runs.iloc[0], runs.iloc[1]
    assert lm["perplexity_delta"] == pytest.approx(3.03)  # positive: worse than dense
    assert pd.isna(lm["accuracy_delta"]) and pd.isna(lm["recovered"])
    assert classifier["accuracy_delta"] == pytest.approx(-0.05)
    assert classifier["recovered"] == pytest.approx(0.31) and pd.isna(
        classifier["perplexity_delta"]
    )
    view = display.runs_view(runs)
    columns = list(view.data.columns)
    assert columns[5:11] == ["test acc", "test ppl", "val acc after pruning",
                             "val ppl after pruning", "test vs dense", "ppl vs dense"]  # fmt: skip
    assert view.data["test ppl"].dtype == float  # sorts by its numbers
    assert view.data["val ppl after pruning"].tolist()[0] == 150.0
    assert pd.isna(view.data["val acc after pruning"].tolist()[0])
    html = view.to_html()
    for shown in ("112.38", "150.00", "+3.03 ppl", "90.0%", "60.0%", "-5.0 pp"):
        assert shown in html
    assert "15000.0%" not in html  # a perplexity is never drawn as a share


def test_runs_view_shows_only_the_metrics_present() -> None:
    only_lm = display.runs_view(tables.runs_table([_record(1, LM_SUMMARY, "perplexity", 150.0)]))
    assert {"test ppl", "ppl vs dense"} <= set(only_lm.data.columns)
    assert not {"test acc", "test vs dense", "val acc after pruning"} & set(only_lm.data.columns)
    digits = display.runs_view(tables.runs_table([_record(1, CLASSIFIER_SUMMARY, "accuracy", 0.6)]))
    assert {"test acc", "test vs dense", "val acc after pruning"} <= set(digits.data.columns)
    assert not {"test ppl", "ppl vs dense", "val ppl after pruning"} & set(digits.data.columns)


def test_compare_table_of_mixed_runs_keeps_each_metric_in_its_row() -> None:
    runs = tables.runs_table(
        [
            _record(2, LM_SUMMARY, "perplexity", 150.0),
            _record(1, CLASSIFIER_SUMMARY, "accuracy", 0.6),
        ]
    )
    table = compare.metrics_table(runs)
    lm, classifier = table.columns
    assert table.loc["val perplexity right after pruning (before finetuning)", lm] == "150.00"
    assert table.loc["val perplexity right after pruning (before finetuning)", classifier] == "-"
    assert table.loc["val accuracy right after pruning (before finetuning)", classifier] == "60.00%"
    assert table.loc["test perplexity vs dense (+ is worse)", lm] == "+3.03 ppl"
    assert table.loc["test accuracy vs dense", classifier] == "-5.0 pp"
    assert table.loc["test accuracy vs dense", lm] == "-"


# -- pages on fabricated results (fast) -------------------------------------------------


def _fake_run(store: RunStore, recipe: dict, summary: dict, curves: list[dict]) -> int:
    """A finished run with a results document written by hand (no engine run)."""
    run_id = store.enqueue(recipe)
    store.register_worker("w", 1, "here")
    store.claim("w")
    summary = {"sparsity_pruned_layers": 0.5, "theoretical_speedup": 1.5, "size_bytes": 4096,
               "nonzero_params": 512, "params": 1024, "sparsity_total": 0.5, **summary}  # fmt: skip
    layers = [{"name": "fc", "kind": "linear", "shape": [32, 32], "shape_original": [32, 32],
               "params_original": 1024, "params": 1024, "nonzeros": 512, "sparsity": 0.5,
               "pruned": True, "note": "", "reconstruction_error": 0.1, "dense_macs": 1024,
               "effective_macs": 512}]  # fmt: skip
    document = {"summary": summary, "recipe": recipe, "layers": layers, "curves": curves,
                "environment": {}}  # fmt: skip
    folder = store.artifacts_dir(run_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(document))
    assert store.finish(run_id, "w", "done", summary)
    return run_id


LM_CURVES = [
    {"kind": "dense", "step": 0, "sparsity": 0.0, "val_accuracy": None, "val_perplexity": 20.0},
    {"kind": "prune", "step": 0, "round": 1, "sparsity": 0.5, "val_accuracy": None,
     "val_perplexity": 400.0},
    {"kind": "finetune", "step": 8, "round": 1, "epoch": 1, "sparsity": 0.5,
     "val_accuracy": None, "val_perplexity": 30.0},
]  # fmt: skip
DIGITS_CURVES = [
    {"kind": "dense", "step": 0, "sparsity": 0.0, "val_accuracy": 0.97},
    {"kind": "prune", "step": 0, "round": 1, "sparsity": 0.5, "val_accuracy": 0.6},
]


@pytest.fixture
def mixed_store(empty_store: RunStore) -> RunStore:
    """A digits run (#1) and a language-model run (#2), results written by hand."""
    _fake_run(
        empty_store,
        {"model": "digits_mlp", "criterion": "magnitude"},
        CLASSIFIER_SUMMARY,
        DIGITS_CURVES,
    )
    _fake_run(empty_store, {"model": "tiny_lm", "criterion": "wanda"}, LM_SUMMARY, LM_CURVES)
    return empty_store


def test_runs_page_shows_the_perplexity_curve_and_columns(mixed_store: RunStore) -> None:
    at = open_page("runs")
    table = at.dataframe[0].value
    assert table["test ppl"].tolist()[0] == pytest.approx(112.38)  # newest first: the LM
    assert table["test acc"].tolist()[1] == pytest.approx(0.9)
    assert at.selectbox(key="runs_detail").value == 2
    assert [tab.label for tab in at.tabs][:2] == ["Per-layer sparsity", "Perplexity curve"]
    curves = next(c for c in charts_of(at) if "while pruning" in c["layout"]["title"]["text"])
    assert curves["data"][0]["y"] == [20.0, 400.0, 30.0]
    assert curves["layout"]["yaxis"]["title"]["text"] == "val perplexity (lower is better)"
    assert curves["layout"]["yaxis"]["type"] == "log"
    at.selectbox(key="runs_detail").set_value(1).run()
    assert [tab.label for tab in at.tabs][1] == "Accuracy curve"


def test_speed_page_draws_the_pareto_view_by_the_model_metric(
    mixed_store: RunStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRUNING_CORE_RESULTS", str(tmp_path))
    at = open_page("speedups")
    assert at.selectbox(key="pareto_model").value == "digits_mlp"
    pareto = charts_of(at)[-1]
    assert pareto["layout"]["yaxis"]["title"]["text"] == "test accuracy"
    at.selectbox(key="pareto_model").set_value("tiny_lm").run()
    assert not at.exception
    pareto = charts_of(at)[-1]
    assert pareto["layout"]["yaxis"]["title"]["text"] == "test perplexity (lower is better)"
    assert pareto["data"][0]["y"] == [112.38]
    assert "lower test perplexity and cost" in texts(at)


def test_compare_page_does_not_mix_the_two_metrics(mixed_store: RunStore) -> None:
    at = open_page("compare")
    at.multiselect(key="compare_runs").set_value([1, 2]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "judged by different metrics" in texts(at)
    labels = [metric.label for metric in at.metric]
    assert "test accuracy (final)" in labels and "test perplexity (lower is better)" in labels
    assert any(str(m.delta).startswith("not comparable") for m in at.metric)
    overlay = next(c for c in charts_of(at) if "while pruning" in c["layout"]["title"]["text"])
    assert (
        not overlay["data"] and "different metrics" in overlay["layout"]["annotations"][0]["text"]
    )


# -- a real finished tiny_lm run (slow: the engine evaluates perplexity four times) ------


@pytest.fixture(scope="module")
def lm_store(tmp_path_factory: pytest.TempPathFactory, tiny_model: TinyModel) -> RunStore:
    """A finished digits run (#1) and a finished tiny_lm run (#2), run by a real worker."""
    from pruning_core.runs.worker import Worker

    store = RunStore(tmp_path_factory.mktemp("lm_store") / "runs.sqlite")
    store.enqueue(tiny_model.queued())
    store.enqueue({"model": "tiny_lm", "criterion": "magnitude", "sparsity": 0.5,
                   "finetune": {"epochs": 0}})  # fmt: skip
    with fixed_threads(1):
        Worker(store).run(once=True)
    assert [store.get(i).state for i in (1, 2)] == ["done", "done"]  # type: ignore[union-attr]
    return store


@pytest.fixture
def lm_env(lm_store: RunStore, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunStore]:
    monkeypatch.setenv("PRUNING_CORE_STORE", str(lm_store.path))
    monkeypatch.setenv("PRUNING_CORE_AUTOSTART_WORKER", "0")
    yield lm_store


@pytest.mark.slow
def test_runs_page_on_a_real_tiny_lm_run(lm_env: RunStore) -> None:
    document = json.loads((lm_env.artifacts_dir(2) / "results.json").read_text())
    summary, recorded = document["summary"], document["curves"]
    assert summary["metric"] == "perplexity" and summary["test_accuracy"] is None
    at = open_page("runs")
    table = at.dataframe[0].value.set_index("run")
    lm, digits = table.iloc[0], table.iloc[1]
    assert lm["test ppl"] == pytest.approx(summary["test_perplexity"]) and pd.isna(lm["test acc"])
    assert lm["ppl vs dense"] == pytest.approx(
        summary["test_perplexity"] - summary["dense_test_perplexity"]
    )
    assert digits["test acc"] > 0.5 and pd.isna(digits["test ppl"])
    assert at.selectbox(key="runs_detail").value == 2
    assert "Perplexity curve" in [tab.label for tab in at.tabs]
    curves = next(c for c in charts_of(at) if "while pruning" in c["layout"]["title"]["text"])
    assert curves["layout"]["title"]["text"] == "Perplexity while pruning and finetuning"
    line = curves["data"][0]
    assert line["y"] == pytest.approx([row["val_perplexity"] for row in recorded])
    assert all(math.isfinite(value) and value > 1.0 for value in line["y"])
    assert curves["layout"]["yaxis"]["title"]["text"] == "val perplexity (lower is better)"
    assert at.metric[0].label == "test perplexity (lower is better)"
