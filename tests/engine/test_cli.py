"""The CLI end to end on digits_cnn, and every bad-input case (one line, exit code 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from pruning_core.cli import app
from pruning_core.recipe import load_recipe

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ROOT / "recipes"
runner = CliRunner()


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
def test_global_gradual_recipe(tmp_path: Path) -> None:
    done = runner.invoke(
        app, ["run", str(RECIPES / "digits_cnn_global_90_gradual.yaml"), "--out", str(tmp_path)]
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
def test_channel_recipe_makes_a_smaller_dense_model(tmp_path: Path) -> None:
    done = runner.invoke(
        app, ["run", str(RECIPES / "digits_cnn_channel_50.yaml"), "--out", str(tmp_path)]
    )
    assert done.exit_code == 0, done.output
    results = _assert_outputs_consistent(tmp_path)
    summary = results["summary"]
    assert summary["params"] < 0.5 * summary["params_original"]
    assert summary["theoretical_speedup"] > 2.0
    inner = [r for r in results["layers"] if r["pruned"]]
    assert all(r["shape"][0] == r["shape_original"][0] // 2 for r in inner)


def test_models_lists_trained_and_untrained() -> None:
    listed = runner.invoke(app, ["models"])
    assert listed.exit_code == 0
    assert "digits_cnn" in listed.output and "digits_vit" in listed.output
    assert "resnet18" in listed.output and "untrained: structure and speed only" in listed.output


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


def _fails_cleanly(tmp_path: Path, recipe_text: str, *expected: str) -> None:
    result = runner.invoke(
        app, ["run", str(_write(tmp_path, recipe_text)), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    for text in expected:
        assert text in lines[0], lines[0]


@pytest.mark.parametrize(
    ("recipe_text", "expected"),
    [
        ("criterion: l7norm\n", ["criterion", "l7norm", "magnitude", "random"]),
        ("structure: diagonal\n", ["structure", "unstructured", "n:m", "block", "channel"]),
        ("model: digits_cnn\nlearning_rate: 3\n", ["learning_rate", "unknown field"]),
        ("sparsity: 1.0\n", ["sparsity", "less than 1"]),
        ("sparsity: -0.1\n", ["sparsity", "greater than or equal to 0"]),
        ("model: no_such_model\n", ["model", "no_such_model", "digits_cnn"]),
        (
            "structure: '2:4'\nskip_layers: []\n",
            ["structure", "features.0", "not a multiple of M=4"],
        ),
        ("structure: '2:4'\nsparsity: 0.7\n", ["sparsity", "0.5"]),
        ("criterion: [magnitude\n", ["recipe", "malformed YAML", "line 2", "expected"]),
        ("- just\n- a list\n", ["recipe", "mapping"]),
        ("weights: /no/such/file.safetensors\n", ["weights", "file not found"]),
        ("schedule: {kind: gradual, end_step: 100000}\n", ["schedule.end_step"]),
        (
            "model: resnet18\ncriterion: gradient\nfinetune: {epochs: 0}\n",
            ["criterion", "untrained", "magnitude"],
        ),
    ],
)
def test_bad_recipes_fail_with_one_clear_line(
    tmp_path: Path, recipe_text: str, expected: list[str]
) -> None:
    _fails_cleanly(tmp_path, recipe_text, *expected)


def test_missing_recipe_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", str(tmp_path / "none.yaml")])
    assert result.exit_code == 2 and "recipe: file not found" in result.output


def test_pickled_weights_are_refused_not_loaded(tmp_path: Path) -> None:
    pickled = tmp_path / "w.pt"
    torch.save({"features.0.weight": torch.zeros(1)}, pickled)
    _fails_cleanly(tmp_path, f"weights: {pickled}\n", "weights", "pickle", "safetensors")


def test_corrupt_weights_file(tmp_path: Path) -> None:
    corrupt = tmp_path / "w.safetensors"
    corrupt.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    _fails_cleanly(tmp_path, f"weights: {corrupt}\n", "weights", "not a valid safetensors")


def test_weights_of_another_architecture(tmp_path: Path) -> None:
    other = tmp_path / "w.safetensors"
    save_file({"fc.weight": torch.zeros(2, 2)}, str(other))
    _fails_cleanly(tmp_path, f"weights: {other}\n", "weights", "does not match", "missing")


def test_weights_with_nan(tmp_path: Path) -> None:
    from sample_models.catalog import SAMPLE_MODELS

    state = load_file(SAMPLE_MODELS["digits_cnn"].weights_path)
    state["classifier.1.weight"][0, 0] = float("nan")
    bad = tmp_path / "nan.safetensors"
    save_file(state, str(bad))
    _fails_cleanly(tmp_path, f"weights: {bad}\n", "weights", "classifier.1.weight", "NaN")


def test_incompatible_layers_can_be_skipped_by_the_recipe(tmp_path: Path) -> None:
    recipe = "structure: {kind: 'n:m', n: 2, m: 4, skip_incompatible: true}\nskip_layers: []\nfinetune: {epochs: 0}\n"
    result = runner.invoke(
        app, ["run", str(_write(tmp_path, recipe)), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 0, result.output
    layers = json.loads((tmp_path / "o" / "results.json").read_text())["layers"]
    first = layers[0]
    assert first["name"] == "features.0" and not first["pruned"] and "M=4" in first["note"]
    assert layers[-1]["pruned"], "the classifier is pruned when skip_layers is empty"
