"""The Sensitivity page's charts and services for causal-LM (perplexity) profiles."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from dashboard.charts import sensitivity

ROWS = pd.DataFrame(
    {
        "layer": ["a", "a", "b", "b"],
        "sparsity": [0.5, 0.9, 0.5, 0.9],
        "loss_delta": [0.01, 0.1, 0.02, 0.2],
        "accuracy_delta": [None, None, None, None],
        "perplexity_delta": [1.0, 10.0, 2.0, 20.0],
    }
)


def test_perplexity_stands_in_for_accuracy_in_an_lm_profile() -> None:
    figure = sensitivity.curves_chart(ROWS, {"a": (0.7, 0.0)}, "accuracy_delta")
    assert "perplexity increase" in figure.layout.title.text
    assert list(figure.data[0].y) == [0.0, 1.0, 10.0]
    marker = figure.data[1]  # placed on the perplexity curve, not at the accuracy given
    assert list(marker.x) == [0.7] and list(marker.y) == pytest.approx([5.5])
    loss = sensitivity.curves_chart(ROWS, {"a": (0.7, 0.05)}, "loss_delta")
    assert "loss increase" in loss.layout.title.text and list(loss.data[1].y) == [0.05]


def test_predicted_vs_actual_shows_perplexity_for_lm_runs() -> None:
    runs = pd.DataFrame(
        {
            "id": [3],
            "predicted_val_after_prune": [None],
            "actual_val_after_prune": [None],
            "predicted_val_perplexity_after_prune": [130.0],
            "actual_val_perplexity_after_prune": [150.0],
        }
    )
    figure = sensitivity.prediction_chart(runs)
    assert "perplexity" in figure.layout.title.text
    assert list(figure.data[1].x) == [130.0] and list(figure.data[1].y) == [150.0]


def test_editor_recipes_measure_on_the_profiles_data() -> None:
    from dashboard.services import sensitivity as profiles

    data = {"kind": "text", "path": "/tmp/t.txt", "seq_len": 32}
    profile = {
        "job": {"model": "tiny_lm", "data": data},
        "metric": "perplexity",
        "dense": {"val_accuracy": None, "val_loss": 4.0, "val_perplexity": 54.6},
        "layers": [
            {
                "layer": "a",
                "params": 100,
                "macs": 100,
                "groups": 100,
                "group_sparsity": 0.01,
                "profiled": True,
            },
        ],  # fmt: skip
        "rows": [
            {"layer": "a", "sparsity": 0.5, "loss_delta": 0.1, "perplexity_delta": 5.7},
            {"layer": "a", "sparsity": 0.9, "loss_delta": 0.5, "perplexity_delta": 35.0},
        ],
    }
    recipe = profiles.allocated_recipe({"model": "tiny_lm"}, profile, 0.5, "sparsity", {}, None)
    assert recipe["data"] == data and recipe["layer_sparsity"] == {"a": 0.5}


def test_an_lm_editor_run_keeps_its_predicted_perplexity(monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard.services import sensitivity as profiles

    document = {"metric": "perplexity", "dense": {"val_loss": 4.0}}
    monkeypatch.setattr(profiles, "profile", lambda run_id: document if run_id == 7 else None)
    prediction = {"profile_id": 7, "predicted_loss_delta": 0.25, "predicted_val_accuracy": None}
    enriched = profiles.perplexity_prediction(prediction)
    assert enriched["predicted_val_perplexity"] == pytest.approx(math.exp(4.25))
    assert profiles.perplexity_prediction({**prediction, "profile_id": 8}) == {
        **prediction,
        "profile_id": 8,
    }
