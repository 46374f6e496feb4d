"""An exported recipe, run through the CLI, reproduces the dashboard run's numbers exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

from pruning_core.runs.store import RunStore


@pytest.mark.slow
@pytest.mark.parametrize("run_id", [1, 2], ids=["magnitude-2of4", "taylor-2of4"])
def test_exported_recipe_reproduces_the_run(
    filled_store: RunStore, tmp_path: Path, run_id: int
) -> None:
    artifacts = filled_store.artifacts_dir(run_id)
    exported = tmp_path / f"run_{run_id}_recipe.yaml"  # what the Export page's button serves
    exported.write_text((artifacts / "recipe.yaml").read_text())
    out = tmp_path / "cli_run"
    original = json.loads((artifacts / "results.json").read_text())
    # Bit-identical weights need the reduction order of the original run: its thread count.
    threads = str(original["environment"]["threads"])
    done = subprocess.run(
        [sys.executable, "-m", "pruning_core.cli", "run", str(exported), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": threads},
    )
    assert done.returncode == 0, done.stderr
    again = json.loads((out / "results.json").read_text())
    assert again["environment"]["threads"] == original["environment"]["threads"]
    for key in (
        "test_accuracy",
        "val_accuracy",
        "test_loss",
        "sparsity_pruned_layers",
        "nonzero_params",
    ):
        assert again["summary"][key] == original["summary"][key], key
    assert filled_store.get(run_id).summary["test_accuracy"] == again["summary"]["test_accuracy"]  # type: ignore[union-attr]
    assert [row["nonzeros"] for row in again["layers"]] == [
        row["nonzeros"] for row in original["layers"]
    ]
    weights, reproduced = (
        load_file(artifacts / "model.safetensors"),
        load_file(out / "model.safetensors"),
    )
    assert all(bool((weights[name] == reproduced[name]).all()) for name in weights)
    assert f"test accuracy {original['summary']['test_accuracy']:.4f}" in done.stdout
