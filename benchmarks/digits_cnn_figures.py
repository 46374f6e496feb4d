"""Figures for the README: digits_cnn accuracy under magnitude vs random pruning.

Magnitude and random at 50/80/90% unstructured sparsity, with and without 2 finetune
epochs, and 2:4 magnitude with 2 finetune epochs; mean ± std over 3 seeds. Also times
one full run (prune + 2 finetune epochs + evaluation). Writes
``benchmarks/results/digits_cnn_figures.{csv,md}``.

Run: ``.venv/bin/python -m benchmarks.digits_cnn_figures``
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import torch

from pruning_core.pipeline.run import prune
from pruning_core.recipe import Recipe, parse_recipe
from pruning_core.pipeline.sweep import run_sweep, sweep_recipes

OUT = Path(__file__).parent / "results"
SEEDS = [0, 1, 2]


def _recipes() -> list[Recipe]:
    recipes = []
    for epochs in (0, 2):
        base = parse_recipe({"model": "digits_cnn", "finetune": {"epochs": epochs}})
        recipes += sweep_recipes(base, ["magnitude", "random"], [0.5, 0.8, 0.9], SEEDS)
    nm = parse_recipe({"model": "digits_cnn", "structure": "2:4", "finetune": {"epochs": 2}})
    return recipes + sweep_recipes(nm, ["magnitude"], [0.5], SEEDS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    timed = prune(parse_recipe({"model": "digits_cnn", "finetune": {"epochs": 2}}))
    full_run = time.perf_counter() - start
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
    lines = [
        f"digits_cnn dense test accuracy: {dense:.4f} (torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads)",
        f"one full run (prune 50% + 2 finetune epochs + evaluation): {full_run:.1f} s "
        f"(engine-reported {timed.timing['seconds']:.1f} s)",
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
