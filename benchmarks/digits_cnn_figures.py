"""Figures for the README: digits_cnn accuracy under magnitude vs random pruning.

Magnitude and random at 50/80/90% unstructured sparsity, with and without 2 finetune
epochs, and 2:4 magnitude with 2 finetune epochs; mean ± std over 3 seeds. Also times
one full run (prune + 2 finetune epochs + evaluation), in the engine and as a whole
``pruning-core run`` command in a fresh process (torch import included). Writes
``benchmarks/results/digits_cnn_figures.{csv,md,json}``; the JSON records the machine
(date, CPU model and flags, threads, load average, torch version) and every row.

Run: ``.venv/bin/python -m benchmarks.digits_cnn_figures``
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
import yaml

from benchmarks.provenance import finished, header, started, write_json
from pruning_core.pipeline.run import prune
from pruning_core.pipeline.sweep import run_sweep, sweep_recipes
from pruning_core.recipe import Recipe, parse_recipe

OUT = Path(__file__).parent / "results"
SEEDS = [0, 1, 2]
THREADS = 2
TIMED = {"model": "digits_cnn", "finetune": {"epochs": 2}}


def _cli_seconds() -> float:
    """Wall-clock seconds of ``pruning-core run`` on the timed recipe, in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        recipe = Path(tmp) / "recipe.yaml"
        recipe.write_text(yaml.safe_dump(TIMED), encoding="utf-8")
        cli = Path(sys.executable).with_name("pruning-core")
        start = time.perf_counter()
        subprocess.run([str(cli), "run", str(recipe), "--out", str(Path(tmp) / "out")], check=True)
        return time.perf_counter() - start


def _recipes() -> list[Recipe]:
    recipes = []
    for epochs in (0, 2):
        base = parse_recipe({"model": "digits_cnn", "finetune": {"epochs": epochs}})
        recipes += sweep_recipes(base, ["magnitude", "random"], [0.5, 0.8, 0.9], SEEDS)
    nm = parse_recipe({"model": "digits_cnn", "structure": "2:4", "finetune": {"epochs": 2}})
    return recipes + sweep_recipes(nm, ["magnitude"], [0.5], SEEDS)


def main() -> None:
    torch.set_num_threads(THREADS)
    OUT.mkdir(parents=True, exist_ok=True)
    meta = started("python -m benchmarks.digits_cnn_figures")
    start = time.perf_counter()
    timed = prune(parse_recipe(TIMED))
    full_run = time.perf_counter() - start
    cli_run = _cli_seconds()
    rows = pd.DataFrame(list(run_sweep(_recipes())))
    rows["finetune_epochs"] = [r.finetune.epochs for r in _recipes()]
    rows.to_csv(OUT / "digits_cnn_figures.csv", index=False)
    table = (
        rows.groupby(["structure", "criterion", "target_sparsity", "finetune_epochs"])[
            "test_accuracy"
        ]
        .agg(["mean", "std", "count"])
        .reset_index()
    )
    dense = rows["dense_test_accuracy"].iloc[0]
    meta = finished(meta)
    timing = {
        "full_run_seconds": full_run,
        "engine_reported_seconds": timed.timing["seconds"],
        "cli_run_seconds": cli_run,
    }
    write_json(
        OUT / "digits_cnn_figures.json",
        meta,
        rows.to_dict(orient="records"),
        dense_test_accuracy=dense,
        timing=timing,
        table=table.to_dict(orient="records"),
    )
    lines = [
        header(meta),
        "",
        f"digits_cnn dense test accuracy: {dense:.4f}",
        f"one full run (prune 50% + 2 finetune epochs + evaluation): {full_run:.1f} s "
        f"(engine-reported {timed.timing['seconds']:.1f} s); the whole `pruning-core run` "
        f"command in a fresh process (torch import included): {cli_run:.1f} s",
        "",
        "| structure | criterion | sparsity | finetune epochs | test accuracy (mean ± std, 3 seeds) |",
        "|---|---|---|---|---|",
    ]
    for row in table.itertuples():
        lines.append(
            f"| {row.structure} | {row.criterion} | {row.target_sparsity:.2f} | {row.finetune_epochs} "
            f"| {row.mean:.4f} ± {row.std:.4f} |"
        )
    text = "\n".join(lines)
    (OUT / "digits_cnn_figures.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
