"""The Sensitivity page for causal LMs and for the model + data chosen on Configure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from app_support import APP, charts_of, texts
from basket_text import text_data, write_basket_text
from streamlit.testing.v1 import AppTest

from dashboard.components.sensitivity_sections import CONFIGURED, configured_label, data_label
from dashboard.services import sensitivity as profiles
from pruning_core.runs.store import RunStore
from pruning_core.runs.worker import Worker
from pruning_core.sensitivity.profile import parse_job
from pruning_core.threads import fixed_threads
from sample_models.language import tiny_lm_shipped

needs_tiny_lm = pytest.mark.skipif(
    not tiny_lm_shipped(), reason="train it first: python -m sample_models.train_tiny_lm"
)
# two layers of block 0 profiled, the rest skipped: a profile of a few seconds
SKIP = ["lm_head", "model.layers.[1-5].*", "model.layers.0.self_attn.[kvo]_proj", "model.layers.0.mlp.[gd]*"]  # fmt: skip


def _page(configured: dict[str, Any] | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    if configured is not None:
        at.session_state["configured_model"] = configured
    at.switch_page("app_pages/sensitivity.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_configure_choice_is_offered_when_it_has_data() -> None:
    text = {"kind": "text", "path": "/m/texts/baskets.txt", "seq_len": 32}
    assert profiles.configured_choice(None) is None
    assert profiles.configured_choice({"model": "hf:/m/gpt", "weights": None, "data": None}) is None
    assert profiles.configured_choice({"model": "digits_mlp", "weights": None, "data": None}) == {
        "model": "digits_mlp",
        "weights": None,
        "data": None,
    }
    chosen = profiles.configured_choice({"model": "hf:/m/gpt", "weights": None, "data": text})
    assert chosen == {"model": "hf:/m/gpt", "weights": None, "data": text}
    assert configured_label(chosen) == "from Configure: gpt + baskets.txt"
    images = {"kind": "image_folder", "train": "/m/cats/train", "val": "/m/cats/val"}
    weights = {"model": "torchvision:resnet18", "weights": "/m/r18.pt", "data": images}
    assert configured_label(weights) == "from Configure: resnet18 (r18.pt) + cats/ (images)"
    assert data_label(None) == "its own data"
    assert profiles.profile_metric("tiny_lm") == "perplexity"
    assert profiles.profile_metric("digits_mlp") == "accuracy"


@needs_tiny_lm
def test_the_form_queues_the_configured_model_with_its_data(
    empty_store: RunStore, tmp_path: Path
) -> None:
    data = text_data(write_basket_text(tmp_path / "baskets.txt"))
    at = _page({"model": "tiny_lm", "weights": None, "data": data})
    select = at.selectbox(key="sens_model")
    assert select.options[0] == "from Configure: tiny_lm + baskets.txt"
    assert select.value == CONFIGURED
    assert "validation loss and perplexity" in at.radio(key="sens_method").options[0]
    samples = at.number_input(key="sens_val_samples_lm")
    assert samples.value == 64  # a language model's profile stays quick by default
    samples.set_value(8).run()
    at.button(key="sens_compute").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    (record,) = empty_store.list_runs()
    assert record.recipe["job"] == "sensitivity" and record.recipe["model"] == "tiny_lm"
    assert record.recipe["data"]["path"] == data["path"] and record.recipe["val_samples"] == 8
    assert parse_job(record.recipe).recipe().data is not None  # the job's recipe has the data


def test_registered_models_keep_all_validation_samples(empty_store: RunStore) -> None:
    at = _page()
    assert at.selectbox(key="sens_model").options[0] != CONFIGURED  # nothing configured
    at.selectbox(key="sens_model").set_value("digits_mlp").run()
    assert at.number_input(key="sens_val_samples_classifier").value == 0  # 0: all
    assert "validation loss and accuracy" in at.radio(key="sens_method").options[0]


@pytest.fixture(scope="module")
def lm_store(tmp_path_factory: pytest.TempPathFactory) -> RunStore:
    """A store with one finished profile (#1) of two ``tiny_lm`` layers on a small text."""
    folder = tmp_path_factory.mktemp("sens_lm")
    job = {
        "model": "tiny_lm",
        "data": text_data(write_basket_text(folder / "baskets.txt")),
        "skip_layers": SKIP,
        "sparsities": [0.3, 0.9],
        "calibration": {"samples": 8},
        "val_samples": 8,
        "latency": False,
    }
    store = RunStore(folder / "runs.sqlite")
    store.enqueue(parse_job(job).model_dump(mode="json"), label="sensitivity")
    with fixed_threads(1):
        Worker(store).run(once=True)
    assert store.list_runs()[0].state == "done"
    return store


@needs_tiny_lm
def test_an_lm_profile_speaks_of_perplexity(
    lm_store: RunStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRUNING_CORE_STORE", str(lm_store.path))
    monkeypatch.setenv("PRUNING_CORE_AUTOSTART_WORKER", "0")
    document = json.loads((lm_store.artifacts_dir(1) / "sensitivity.json").read_text())
    at = _page()
    shown = texts(at)
    dense = document["dense"]["val_perplexity"]
    assert f"dense validation perplexity {dense:.2f} (lower is better)" in shown
    assert "validation loss and perplexity" in shown and "(8 validation samples)" in shown
    assert "accuracy n/a" not in shown and "Predicted perplexity is exp(" in shown
    metrics = {metric.label: metric for metric in at.metric}
    assert "predicted val accuracy" not in metrics
    assert "predicted loss increase" in metrics
    assert "Measured single-layer" in str(metrics["predicted loss increase"].help)
    predicted = metrics["predicted val perplexity"]
    assert float(predicted.value) > 0 and "vs dense" in str(predicted.delta)
    toggle = at.toggle(key="sens_metric")
    assert toggle.label == "show perplexity instead of loss"
    toggle.set_value(True).run()
    titles = [chart["layout"]["title"]["text"] for chart in charts_of(at)]
    assert any("perplexity increase" in title for title in titles), titles
    table = next(frame for frame in at.dataframe if "loss_delta" in frame.value)
    assert "perplexity_delta" in table.value and table.value["perplexity_delta"].notna().all()
    assert "perplexity_delta" in list(table.proto.column_order)
    assert "accuracy_delta" not in list(table.proto.column_order)
    at.button(key="sens_queue").click().run()  # the editor's run measures on the same text
    assert not at.exception, [e.value for e in at.exception]
    record = lm_store.list_runs()[0]
    assert record.label == "sensitivity editor"
    assert record.recipe["data"]["path"] == document["job"]["data"]["path"]
    prediction = json.loads((lm_store.artifacts_dir(record.id) / "prediction.json").read_text())
    assert prediction["predicted_val_perplexity"] == pytest.approx(float(predicted.value), rel=1e-2)
