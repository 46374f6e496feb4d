"""Sensitivity profiles: the measured and approximate profile, the job, its cache and artifacts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tiny_model import TinyModel
from typer.testing import CliRunner

from pruning_core.cli import app
from pruning_core.errors import UserInputError
from pruning_core.recipe import load_recipe
from pruning_core.runs.store import RunStore
from pruning_core.runs.worker import Worker
from pruning_core.sensitivity.job import cache_key, run_sensitivity_job
from pruning_core.sensitivity.plan import allocated_recipe, propose, uniform
from pruning_core.sensitivity.profile import compute_profile, parse_job

Profile = dict[str, Any]
ROOT = Path(__file__).resolve().parents[2]


def test_measured_profile_prunes_one_layer_at_a_time(mlp_profile: Profile) -> None:
    rows = mlp_profile["rows"]
    assert [(r["layer"], r["sparsity"]) for r in rows] == [
        ("net.3", 0.5), ("net.3", 0.9), ("net.5", 0.5), ("net.5", 0.9)
    ]  # fmt: skip
    dense = mlp_profile["dense"]
    for row in rows:
        assert row["method"] == "measured"
        assert row["achieved_sparsity"] == pytest.approx(row["sparsity"], abs=1e-4)
        assert row["loss_delta"] == pytest.approx(row["val_loss"] - dense["val_loss"])
        assert row["accuracy_delta"] == pytest.approx(row["val_accuracy"] - dense["val_accuracy"])
    facts = {row["layer"]: row for row in mlp_profile["layers"]}
    assert [row["profiled"] for row in mlp_profile["layers"]] == [False, True, True, False]
    assert sum(row["macs_share"] for row in facts.values()) == pytest.approx(1.0)
    assert sum(row["latency_share"] for row in facts.values()) == pytest.approx(1.0)
    assert mlp_profile["latency"]["kind"] == "measured" and mlp_profile["latency"]["batch"] == 64


def test_profile_rows_match_pruning_that_layer_in_a_real_run(
    mlp_profile: Profile, tiny_model: TinyModel
) -> None:
    result = tiny_model.run(sparsity=0.9, layer_sparsity={"net.5": 0.9})
    row = next(r for r in mlp_profile["rows"] if (r["layer"], r["sparsity"]) == ("net.5", 0.9))
    assert result.summary["val_accuracy"] == pytest.approx(row["val_accuracy"])
    assert result.summary["val_loss"] == pytest.approx(row["val_loss"], rel=1e-5)


def test_fisher_approximation_ranks_layers_like_the_measurement() -> None:
    job = {"model": "digits_cnn", "sparsities": [0.9], "latency": False}
    measured = compute_profile(parse_job(job), lambda *_: None)
    approx = compute_profile(parse_job({**job, "method": "fisher"}), lambda *_: None)
    assert approx["approximation"] and "approximation" in approx["method_label"]
    assert all(r["val_accuracy"] is None and r["loss_delta"] > 0 for r in approx["rows"])

    def order(profile: Profile) -> list[str]:
        return [r["layer"] for r in sorted(profile["rows"], key=lambda r: -r["loss_delta"])]

    assert order(approx) == order(measured)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"structure": "head"}, "structure"),
        ({"sparsities": [0.5, 1.0]}, "sparsities"),
        ({"method": "exact"}, "method"),
        ({"sparsity": 0.5}, "sparsity"),
        ({"criterion": "sparsegpt", "structure": "channel"}, "structure"),
        ({"model": "resnet18"}, "model"),
    ],
)
def test_bad_jobs_name_the_field(
    mlp_job: dict[str, Any], changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(UserInputError) as error:
        job = parse_job({**mlp_job, **changes})
        compute_profile(job, lambda *_: None)
    assert error.value.field == field


def test_allocation_from_a_profile_meets_the_target_and_beats_uniform(mlp_profile: Profile) -> None:
    plan = propose(mlp_profile, 0.7)
    params = {row["layer"]: row["params"] for row in mlp_profile["layers"]}
    removed = sum(s * params[name] for name, s in plan["sparsity"].items())
    assert round(removed) == round(0.7 * (params["net.3"] + params["net.5"]))
    assert plan["predicted_loss_delta"] <= uniform(mlp_profile, 0.7)["predicted_loss_delta"]
    recipe = allocated_recipe({"model": "digits_mlp"}, mlp_profile, 0.7)
    assert recipe["allocation"] == "sensitivity" and recipe["sparsity"] == 0.7
    assert recipe["layer_sparsity"] == pytest.approx(plan["sparsity"])


def test_job_writes_artifacts_and_a_second_job_comes_from_the_cache(
    tmp_path: Path, mlp_job: dict[str, Any]
) -> None:
    first = run_sensitivity_job(mlp_job, tmp_path / "a", tmp_path / "cache")
    assert first["from_cache"] is False and first["points"] == 4
    for name in ("sensitivity.json", "sensitivity.csv"):
        assert (tmp_path / "a" / name).is_file()
    lines = (tmp_path / "a" / "sensitivity.csv").read_text().splitlines()
    assert len(lines) == 5 and lines[0].startswith("layer,sparsity")
    second = run_sensitivity_job(mlp_job, tmp_path / "b", tmp_path / "cache")
    assert second["from_cache"] is True
    saved = json.loads((tmp_path / "b" / "sensitivity.json").read_text())
    assert saved["rows"] == json.loads((tmp_path / "a" / "sensitivity.json").read_text())["rows"]
    other = parse_job({**mlp_job, "criterion": "random"})
    assert cache_key(parse_job(mlp_job)) != cache_key(other)


def test_the_worker_runs_profile_jobs(tmp_path: Path, mlp_job: dict[str, Any]) -> None:
    store = RunStore(tmp_path / "runs.sqlite")
    run_id = store.enqueue(parse_job(mlp_job).model_dump(mode="json"), label="sensitivity")
    Worker(store).run(once=True)
    record = store.get(run_id)
    assert record is not None and record.state == "done", record and record.error
    assert record.summary is not None and record.summary["job"] == "sensitivity"
    assert (store.artifacts_dir(run_id) / "sensitivity.json").is_file()


def test_cli_profiles_allocates_and_writes_an_explicit_recipe(tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    base.write_text("model: digits_mlp\ncalibration: {samples: 64}\n")
    written = tmp_path / "allocated.yaml"
    result = CliRunner().invoke(
        app,
        ["sensitivity", str(base), "--out", str(tmp_path / "out"), "--sparsities", "0.5,0.9",
         "--no-latency", "--target", "0.7", "--write-recipe", str(written)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "sensitivity.csv").is_file()
    recipe = load_recipe(written)
    assert recipe.allocation == "sensitivity" and recipe.sparsity == 0.7
    assert recipe.layer_sparsity is not None and set(recipe.layer_sparsity) == {"net.3", "net.5"}
    bad = CliRunner().invoke(app, ["sensitivity", str(base), "--method", "guess"])
    assert bad.exit_code == 2 and "method" in bad.output


def test_shipped_recipe_is_explicit_and_averages_ninety_percent() -> None:
    recipe = load_recipe(ROOT / "recipes" / "digits_cnn_sensitivity_90.yaml")
    assert recipe.allocation == "sensitivity" and recipe.finetune.epochs > 0
    sizes = {"features.3": 32 * 64 * 9, "features.7": 64 * 64 * 9, "classifier.1": 256 * 128}
    assert recipe.layer_sparsity is not None and set(recipe.layer_sparsity) == set(sizes)
    removed = sum(recipe.layer_sparsity[name] * size for name, size in sizes.items())
    assert removed / sum(sizes.values()) == pytest.approx(0.9, abs=1e-5)


@pytest.mark.parametrize(
    ("criterion", "structure", "expected"),
    [
        ("wanda", "unstructured", [0.5, 0.9]),
        ("sparsegpt", "unstructured", [0.5, 0.9]),
        ("taylor", "block", [0.5, 0.9]),
        ("magnitude", "channel", [0.5, 0.9]),
        ("magnitude", "2:4", [0.5]),  # N:M: on/off only
    ],
)
def test_every_kind_of_profile_prunes_to_its_grid(
    mlp_job: dict[str, Any], criterion: str, structure: str, expected: list[float]
) -> None:
    job = parse_job({**mlp_job, "criterion": criterion, "structure": structure, "latency": False})
    profile = compute_profile(job, lambda *_: None)
    assert profile["grid"] == expected
    assert len(profile["rows"]) == 2 * len(expected)
    for row in profile["rows"]:
        assert row["achieved_sparsity"] == pytest.approx(row["sparsity"], abs=0.02)
        assert 0.0 <= row["val_accuracy"] <= 1.0
    facts = {row["layer"]: row for row in profile["layers"] if row["profiled"]}
    if structure == "2:4":
        assert all(row["groups"] == 1 and row["group_sparsity"] == 0.5 for row in facts.values())
