"""The CLI end to end on digits_cnn, and every bad-input case (one line, exit code 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from bad_recipes import BAD_RECIPES, BadRecipe
from cli_support import BadRun, Cli
from safetensors.torch import load_file

from pruning_core.recipe import load_recipe

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "recipes"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pruning_core.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=False,
    )


def _assert_outputs_consistent(out: Path) -> dict:  # type: ignore[type-arg]
    for name in ("recipe.yaml", "results.json", "layers.csv", "model.safetensors"):
        assert (out / name).is_file(), name
    results = json.loads((out / "results.json").read_text())
    weights = load_file(out / "model.safetensors")
    for row in results["layers"]:
        tensor = weights[f"{row['name']}.weight"]
        zeros = int((tensor == 0).sum())
        assert row["params"] == tensor.numel()
        assert row["nonzeros"] == tensor.numel() - zeros
        if row["params"] == row["params_original"]:
            assert row["sparsity"] == pytest.approx(zeros / tensor.numel(), abs=0)
    return results


METRICS = (
    "val_accuracy",
    "val_loss",
    "test_accuracy",
    "test_loss",
    "sparsity_total",
    "nonzero_params",
    "effective_macs",
)


@pytest.mark.slow
def test_two_of_four_recipe_end_to_end_and_reproducible(tmp_path: Path) -> None:
    first = _cli(
        "run", str(RECIPES / "digits_cnn_magnitude_2of4.yaml"), "--out", str(tmp_path / "a")
    )
    assert first.returncode == 0, first.stderr
    results = _assert_outputs_consistent(tmp_path / "a")
    summary = results["summary"]
    assert summary["structure"] == "2:4"
    assert summary["sparsity_pruned_layers"] == pytest.approx(0.5)
    assert summary["test_accuracy"] >= summary["dense_test_accuracy"] - 0.03
    assert [c["kind"] for c in results["curves"]] == ["dense", "prune", "finetune", "finetune"]
    # 2:4 groups in every pruned layer's saved weight
    weights = load_file(tmp_path / "a" / "model.safetensors")
    for row in results["layers"]:
        if row["pruned"]:
            grid = weights[f"{row['name']}.weight"].reshape(row["shape"][0], -1, 4)
            assert ((grid != 0).sum(-1) <= 2).all()
    again = _cli("run", str(tmp_path / "a" / "recipe.yaml"), "--out", str(tmp_path / "b"))
    assert again.returncode == 0, again.stderr
    rerun = json.loads((tmp_path / "b" / "results.json").read_text())["summary"]
    assert {k: summary[k] for k in METRICS} == {k: rerun[k] for k in METRICS}
    assert load_recipe(tmp_path / "a" / "recipe.yaml") == load_recipe(
        tmp_path / "b" / "recipe.yaml"
    )


@pytest.mark.slow
def test_global_gradual_recipe(tmp_path: Path, cli: Cli) -> None:
    done = cli.invoke(
        "run", str(RECIPES / "digits_cnn_global_90_gradual.yaml"), "--out", str(tmp_path)
    )
    assert done.exit_code == 0, done.output
    results = _assert_outputs_consistent(tmp_path)
    assert results["summary"]["sparsity_pruned_layers"] == pytest.approx(0.9, abs=1e-4)
    prunes = [c for c in results["curves"] if c["kind"] == "prune"]
    assert len(prunes) > 5 and prunes[-1]["sparsity"] == pytest.approx(0.9, abs=1e-4)
    assert [p["sparsity"] for p in prunes] == sorted(p["sparsity"] for p in prunes)
    per_layer = {r["name"]: r["sparsity"] for r in results["layers"] if r["pruned"]}
    assert len(set(round(s, 3) for s in per_layer.values())) > 1, (
        "global allocation differs per layer"
    )


@pytest.mark.slow
def test_channel_recipe_makes_a_smaller_dense_model(tmp_path: Path, cli: Cli) -> None:
    done = cli.invoke("run", str(RECIPES / "digits_cnn_channel_50.yaml"), "--out", str(tmp_path))
    assert done.exit_code == 0, done.output
    results = _assert_outputs_consistent(tmp_path)
    summary = results["summary"]
    assert summary["params"] < 0.5 * summary["params_original"]
    assert summary["theoretical_speedup"] > 2.0
    inner = [r for r in results["layers"] if r["pruned"]]
    assert all(r["shape"][0] == r["shape_original"][0] // 2 for r in inner)


def test_models_lists_trained_and_untrained(cli: Cli) -> None:
    listed = cli.invoke("models")
    assert listed.exit_code == 0
    assert "digits_cnn" in listed.output and "digits_vit" in listed.output
    assert "resnet18" in listed.output and "untrained: structure and speed only" in listed.output


def test_models_lists_what_the_models_roots_hold(cli: Cli, tmp_path: Path) -> None:
    checkpoint = tmp_path / "llm"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text("{}")
    (checkpoint / "model.safetensors").write_bytes(b"")
    (tmp_path / "corpus.txt").write_text("hello")
    for split in ("train", "val", "test"):
        (tmp_path / "flowers" / split / "rose").mkdir(parents=True)
    listed = cli.invoke("models", env={"PRUNING_CORE_MODELS": str(tmp_path)})
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert f"  model: hf:{checkpoint.resolve()}" in lines
    assert f"  data.path (text): {(tmp_path / 'corpus.txt').resolve()}" in lines
    assert f"  image folders (train/val/test): {(tmp_path / 'flowers').resolve()}" in lines
    assert "  weights: none" in lines


@pytest.mark.parametrize("case", BAD_RECIPES, ids=lambda case: case.id)
def test_bad_recipes_fail_with_one_clear_line(
    cli: Cli, bad_run: Callable[[BadRecipe], BadRun], case: BadRecipe
) -> None:
    run = bad_run(case)
    cli.error_line(run.result, *case.pieces)
    assert len(run.result.output) < 3000  # a 5 MB or 100 kB value is never echoed back whole
    assert not run.out.exists()


def test_missing_recipe_file(tmp_path: Path, cli: Cli) -> None:
    result = cli.invoke("run", str(tmp_path / "none.yaml"))
    cli.error_line(result, "recipe: file not found")


def test_incompatible_layers_can_be_skipped_by_the_recipe(tmp_path: Path, cli: Cli) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "structure: {kind: 'n:m', n: 2, m: 4, skip_incompatible: true}\n"
        "skip_layers: []\nfinetune: {epochs: 0}\n"
    )
    result = cli.invoke("run", str(recipe), "--out", str(tmp_path / "o"))
    assert result.exit_code == 0, result.output
    layers = json.loads((tmp_path / "o" / "results.json").read_text())["layers"]
    first = layers[0]
    assert first["name"] == "features.0" and not first["pruned"] and "M=4" in first["note"]
    assert layers[-1]["pruned"], "the classifier is pruned when skip_layers is empty"
