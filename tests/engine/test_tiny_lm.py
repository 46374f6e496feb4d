"""The shipped tiny language model: registered, small, and reporting what its record says."""

from __future__ import annotations

import json

import pytest

from pruning_core.models.hf import load_causal_lm
from pruning_core.models.lm_metrics import perplexity
from pruning_core.models.registry import MODELS, load_data
from pruning_core.pipeline.checks import check
from pruning_core.pipeline.run import prune
from pruning_core.recipe import parse_recipe
from sample_models.language import TINY_LM_DIR, tiny_lm_shipped

pytestmark = pytest.mark.skipif(
    not tiny_lm_shipped(), reason="train it first: python -m sample_models.train_tiny_lm"
)
RECORD = TINY_LM_DIR / "training.json"


def _record() -> dict[str, object]:
    return json.loads(RECORD.read_text())


def test_tiny_lm_is_a_registered_causal_lm_under_5_mib() -> None:
    spec = MODELS.get("tiny_lm")
    assert spec.task == "causal_lm" and spec.trained and spec.default_skip == ("lm_head",)
    assert spec.input_shape == (128,)
    assert (TINY_LM_DIR / "model.safetensors").stat().st_size <= 5 * 2**20
    assert {"config.json", "tokenizer.json", "pydoc_topics.txt"} <= {
        path.name for path in TINY_LM_DIR.iterdir()
    }
    splits = load_data(spec)
    assert splits is not None
    assert {name: len(split) for name, split in splits.items()} == _record()["data"]["windows"]
    assert check(parse_recipe({"model": "tiny_lm", "criterion": "sparsegpt"})) == []


@pytest.mark.slow
def test_the_engine_reproduces_the_recorded_dense_perplexity() -> None:
    splits = load_data(MODELS.get("tiny_lm"))
    assert splits is not None
    value, _ = perplexity(load_causal_lm(TINY_LM_DIR), splits["test"].x)
    assert value == pytest.approx(_record()["dense_test_perplexity"], abs=1e-3)


@pytest.mark.slow
def test_sparsegpt_beats_magnitude_at_2_of_4_on_the_tiny_lm() -> None:
    def test_perplexity(criterion: str) -> float:
        recipe = parse_recipe(
            {
                "model": "tiny_lm",
                "criterion": criterion,
                "structure": "2:4",
                "finetune": {"epochs": 0},
                "calibration": {"samples": 32, "batch_size": 16},
            }
        )
        return float(prune(recipe).summary["test_perplexity"])

    assert test_perplexity("sparsegpt") < test_perplexity("magnitude")
