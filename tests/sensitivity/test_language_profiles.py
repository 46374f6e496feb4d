"""Sensitivity profiles of causal LMs (perplexity) and of the recipe's own ``data:``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from basket_text import text_data, write_basket_text
from typer.testing import CliRunner

from pruning_core.cli import app
from pruning_core.data_config import TextData
from pruning_core.errors import UserInputError
from pruning_core.models.lm_metrics import perplexity
from pruning_core.models.registry import build_model, load_data, spec_for
from pruning_core.recipe import load_recipe
from pruning_core.runs.store import RunStore
from pruning_core.runs.worker import Worker
from pruning_core.sensitivity.job import cache_key
from pruning_core.sensitivity.plan import allocated_recipe, propose
from pruning_core.sensitivity.profile import compute_profile, parse_job, val_subset
from pruning_core.threads import fixed_threads
from sample_models.language import tiny_lm_shipped

pytestmark = pytest.mark.skipif(
    not tiny_lm_shipped(), reason="train it first: python -m sample_models.train_tiny_lm"
)
Profile = dict[str, Any]
TINY_LM = Path(__file__).resolve().parents[2] / "sample_models" / "tiny_lm"
PROFILED = ["model.layers.0.self_attn.q_proj", "model.layers.0.mlp.up_proj"]
SKIP = ["lm_head", "model.layers.[1-5].*", "model.layers.0.self_attn.[kvo]_proj", "model.layers.0.mlp.[gd]*"]  # fmt: skip
LM_JOB = {
    "model": "tiny_lm",
    "skip_layers": SKIP,
    "sparsities": [0.3, 0.9],
    "calibration": {"samples": 8},
    "val_samples": 8,
    "latency": False,
}


@pytest.fixture(scope="module")
def lm_profile() -> Profile:
    """The measured profile of two layers of ``tiny_lm`` on its own data."""
    with fixed_threads(1):
        return compute_profile(parse_job(LM_JOB), lambda *_: None)


@pytest.fixture(scope="module")
def text_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_basket_text(tmp_path_factory.mktemp("text") / "baskets.txt")


def test_tiny_lm_profile_measures_perplexity(lm_profile: Profile) -> None:
    assert lm_profile["metric"] == "perplexity" and lm_profile["metric_direction"] == "lower"
    dense = lm_profile["dense"]
    assert dense["val_accuracy"] is None
    assert dense["val_perplexity"] == pytest.approx(math.exp(dense["val_loss"]))
    spec = spec_for("tiny_lm")
    val = val_subset(load_data(spec)["val"], 8, 0)  # type: ignore[index]
    assert (dense["val_perplexity"], dense["val_loss"]) == pytest.approx(
        perplexity(build_model(spec), val.x)
    )
    rows = lm_profile["rows"]
    assert [(r["layer"], r["sparsity"]) for r in rows] == [
        (name, s) for name in PROFILED for s in (0.3, 0.9)
    ]
    for row in rows:
        assert row["val_accuracy"] is None and row["accuracy_delta"] is None
        assert math.isfinite(row["val_perplexity"]) and math.isfinite(row["val_loss"])
        assert row["perplexity_delta"] == pytest.approx(
            row["val_perplexity"] - dense["val_perplexity"]
        )
        assert row["loss_delta"] == pytest.approx(row["val_loss"] - dense["val_loss"])
        assert (row["perplexity_delta"] > 0) == (row["loss_delta"] > 0)  # same direction
    mean = {s: sum(r["loss_delta"] for r in rows if r["sparsity"] == s) / 2 for s in (0.3, 0.9)}
    assert mean[0.9] > mean[0.3] and mean[0.9] > 0  # damage grows with sparsity
    profiled = [row for row in lm_profile["layers"] if row["profiled"]]
    assert [row["layer"] for row in profiled] == PROFILED


def test_latency_of_a_language_model_is_timed_on_its_token_windows() -> None:
    job = {**LM_JOB, "sparsities": [0.9], "val_samples": 2, "latency": True}
    profile = compute_profile(parse_job(job), lambda *_: None)
    assert profile["latency"]["kind"] == "measured" and profile["latency"]["batch"] == 2
    assert all(row["latency_ms"] > 0 for row in profile["layers"])
    assert sum(row["latency_share"] for row in profile["layers"]) == pytest.approx(1.0)


def test_allocation_reads_the_loss_increase_and_predicts_perplexity(lm_profile: Profile) -> None:
    plan = propose(lm_profile, 0.5)
    assert set(plan["sparsity"]) == set(PROFILED)
    dense = lm_profile["dense"]
    assert plan["predicted_val_perplexity"] == pytest.approx(
        math.exp(dense["val_loss"] + plan["predicted_loss_delta"])
    )
    assert plan["predicted_val_accuracy"] is None
    assert all("perplexity_delta" in row for row in plan["layers"])
    recipe = allocated_recipe({"model": "tiny_lm"}, lm_profile, 0.5)
    assert recipe["layer_sparsity"] == pytest.approx(plan["sparsity"])


def test_a_profile_measures_the_recipes_text(lm_profile: Profile, text_file: Path) -> None:
    job = parse_job({**LM_JOB, "data": text_data(text_file), "val_samples": None})
    profile = compute_profile(job, lambda *_: None)
    assert profile["job"]["data"]["path"] == str(text_file)
    spec = spec_for("tiny_lm", None, TextData(**text_data(text_file)))
    val = load_data(spec, TextData(**text_data(text_file)))["val"]  # type: ignore[index]
    assert tuple(val.x.shape[1:]) == (32,)
    expected = perplexity(build_model(spec), val.x)
    assert (profile["dense"]["val_perplexity"], profile["dense"]["val_loss"]) == pytest.approx(
        expected
    )
    assert profile["dense"]["val_loss"] != pytest.approx(lm_profile["dense"]["val_loss"])
    assert all(math.isfinite(row["val_perplexity"]) for row in profile["rows"])


def test_fisher_profiles_of_a_language_model_estimate_loss() -> None:
    job = parse_job({**LM_JOB, "method": "fisher"})
    profile = compute_profile(job, lambda *_: None)
    assert profile["metric"] == "perplexity" and profile["approximation"]
    for row in profile["rows"]:
        assert row["val_perplexity"] is None and row["perplexity_delta"] is None
        assert math.isfinite(row["loss_delta"]) and row["loss_delta"] > 0


def test_cli_profiles_an_hf_model_on_the_recipes_text(
    tmp_path: Path, text_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PRUNING_CORE_MODELS", raising=False)
    base = tmp_path / "base.yaml"
    recipe = {"model": f"hf:{TINY_LM}", "data": text_data(text_file), "skip_layers": SKIP,
              "calibration": {"samples": 4}}  # fmt: skip
    base.write_text(yaml.safe_dump(recipe))
    written = tmp_path / "allocated.yaml"
    result = CliRunner().invoke(
        app,
        ["sensitivity", str(base), "--out", str(tmp_path / "out"), "--sparsities", "0.5,0.9",
         "--no-latency", "--val-samples", "4", "--target", "0.7", "--write-recipe", str(written)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "predicted validation perplexity" in result.output
    saved = json.loads((tmp_path / "out" / "sensitivity.json").read_text())
    assert saved["metric"] == "perplexity" and saved["job"]["data"]["path"] == str(text_file)
    header = (tmp_path / "out" / "sensitivity.csv").read_text().splitlines()[0].split(",")
    assert "val_perplexity" in header and "val_accuracy" not in header
    allocated = load_recipe(written)
    assert allocated.data is not None and allocated.data.kind == "text"
    assert allocated.layer_sparsity is not None and set(allocated.layer_sparsity) == set(PROFILED)


def test_the_worker_profiles_a_job_with_data(tmp_path: Path, text_file: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite")
    job = {**LM_JOB, "data": text_data(text_file), "sparsities": [0.5]}
    run_id = store.enqueue(parse_job(job).model_dump(mode="json"), label="sensitivity")
    Worker(store).run(once=True)
    record = store.get(run_id)
    assert record is not None and record.state == "done", record and record.error
    assert record.summary is not None and record.summary["metric"] == "perplexity"
    assert math.isfinite(record.summary["dense_val_perplexity"])


def test_the_cache_key_follows_the_data_and_its_files(tmp_path: Path) -> None:
    text = write_basket_text(tmp_path / "a.txt")
    own, with_text = parse_job(LM_JOB), parse_job({**LM_JOB, "data": text_data(text)})
    assert cache_key(own) != cache_key(with_text)
    before = cache_key(with_text)
    text.write_text(text.read_text() + "\nOne more basket.", encoding="utf-8")
    assert cache_key(with_text) != before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"structure": "channel"}, "structure"),  # LMs are masked in place
        ({"model": f"hf:{TINY_LM}"}, "model"),  # no data of its own and none given
        ({"model": "digits_mlp", "skip_layers": None}, "data.kind"),  # text needs an LM
    ],
)
def test_impossible_language_jobs_are_refused_naming_the_field(
    text_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    changes: dict[str, Any],
    field: str,
) -> None:
    monkeypatch.delenv("PRUNING_CORE_MODELS", raising=False)
    job = {**LM_JOB, **changes}
    if field == "data.kind":
        job["data"] = text_data(text_file)
    with pytest.raises(UserInputError) as error:
        parse_job(job)
    assert error.value.field == field and "\n" not in error.value.message
