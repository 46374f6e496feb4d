"""Figures for the README: sensitivity allocation vs uniform, global, ERK (and OWL).

For digits_cnn and digits_vit (magnitude; digits_vit also with Wanda scores, OWL's own
setting; unstructured; first and last layer dense):
one measured sensitivity profile per model (validation split, default grid, no
finetuning), then one-shot pruning at 80% and 90% average sparsity of the pruned layers
with each allocation, the same finetune budget (2 epochs) and 3 seeds. Reports test
accuracy (mean ± std), the validation accuracy right after pruning (before finetuning),
and for the sensitivity allocation the additive prediction of that validation accuracy.
``sensitivity-macs`` (digits_cnn) allocates a MACs budget instead: the share of the pruned
layers' MACs that uniform pruning removes, so its theoretical speedup matches uniform's.
Writes ``benchmarks/results/allocation_figures.{csv,md,json}``; the JSON records the machine
(date, CPU model and flags, threads, load average, torch version) and every row.

Run: ``.venv/bin/python -m benchmarks.allocation_figures``
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from benchmarks.provenance import finished, header, started, write_json
from pruning_core.pipeline.run import prune
from pruning_core.recipe import load_recipe, parse_recipe
from pruning_core.sensitivity.plan import allocated_recipe, propose
from pruning_core.sensitivity.profile import compute_profile, job_from_recipe

OUT = Path(__file__).parent / "results"
SPARSITIES = [0.8, 0.9]
ALLOCATIONS = ["uniform", "global", "erk", "sensitivity", "owl"]
# (model, criterion, allocations): OWL's own setting (Wanda scores, a transformer) last
SETTINGS = [
    ("digits_cnn", "magnitude", [*ALLOCATIONS, "sensitivity-macs"]),
    ("digits_vit", "magnitude", ALLOCATIONS),
    ("digits_vit", "wanda", ["uniform", "owl", "sensitivity"]),
]
SEEDS = [0, 1, 2]
EPOCHS = 2
# the README's recipe with the explicit per-layer sparsities of the sensitivity allocation
RECIPE = Path(__file__).parents[1] / "recipes" / "digits_cnn_sensitivity_90.yaml"


def _after_prune_val(curves: list[dict[str, Any]]) -> float | None:
    pruned = [row for row in curves if row["kind"] == "prune"]
    return pruned[-1]["val_accuracy"] if pruned else None


def _rows() -> tuple[list[dict[str, Any]], dict[str, float]]:
    rows, profile_seconds = [], {}
    for model, criterion, allocations in SETTINGS:
        base = parse_recipe(
            {"model": model, "criterion": criterion, "finetune": {"epochs": EPOCHS}}
        )
        start = time.perf_counter()
        profile = compute_profile(job_from_recipe(base, latency=False), lambda *_: None)
        profile_seconds[f"{model} {criterion}"] = time.perf_counter() - start
        for sparsity in SPARSITIES:
            prediction = propose(profile, sparsity)
            for allocation in allocations:
                for seed in SEEDS:
                    data = base.model_dump(mode="json") | {"sparsity": sparsity, "seed": seed}
                    if allocation == "sensitivity":
                        data = allocated_recipe(data, profile, sparsity)
                    elif allocation == "sensitivity-macs":  # the MACs uniform removes
                        data = allocated_recipe(data, profile, sparsity, budget="macs")
                    else:
                        data["allocation"] = allocation
                    result = prune(parse_recipe(data))
                    summary = result.summary
                    rows.append(
                        {
                            "model": model,
                            "criterion": criterion,
                            "allocation": allocation,
                            "target_sparsity": sparsity,
                            "seed": seed,
                            "test_accuracy": summary["test_accuracy"],
                            "val_accuracy_after_prune": _after_prune_val(result.curves),
                            "predicted_val_after_prune": prediction["predicted_val_accuracy"]
                            if allocation == "sensitivity"
                            else None,
                            "sparsity_pruned_layers": summary["sparsity_pruned_layers"],
                            "theoretical_speedup": summary["theoretical_speedup"],
                            "dense_test_accuracy": summary["dense_test_accuracy"],
                            "layer_sparsity": result.recipe.layer_sparsity,
                        }
                    )
                    print(rows[-1]["model"], allocation, sparsity, seed, rows[-1]["test_accuracy"])
    return rows, profile_seconds


def _table(rows: pd.DataFrame) -> list[str]:
    lines = [
        "| model | criterion | sparsity | allocation | test accuracy (mean ± std, 3 seeds) "
        "| val accuracy right after pruning | theoretical speedup |",
        "|---|---|---|---|---|---|---|",
    ]
    grouped = rows.groupby(["model", "criterion", "target_sparsity", "allocation"], sort=False)
    for (model, criterion, sparsity, allocation), group in grouped:
        test = group["test_accuracy"]
        lines.append(
            f"| {model} | {criterion} | {sparsity:.0%} | {allocation} "
            f"| {test.mean():.4f} ± {test.std():.4f} "
            f"| {group['val_accuracy_after_prune'].mean():.4f} "
            f"| {group['theoretical_speedup'].mean():.2f}x |"
        )
    return lines


def main() -> None:
    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    meta = started("python -m benchmarks.allocation_figures")
    records, seconds = _rows()
    rows = pd.DataFrame(records)
    rows.to_csv(OUT / "allocation_figures.csv", index=False)
    dense = rows.groupby("model")["dense_test_accuracy"].first()
    recipe_accuracy = prune(load_recipe(RECIPE)).summary["test_accuracy"]
    meta = finished(meta)
    write_json(
        OUT / "allocation_figures.json",
        meta,
        records,
        dense_test_accuracy=dense.to_dict(),
        profile_seconds=seconds,
        recipe_test_accuracy={f"recipes/{RECIPE.name}": recipe_accuracy},
    )
    lines = [
        "# Sensitivity allocation vs uniform, global, ERK and OWL",
        "",
        header(meta),
        "",
        f"Unstructured, one-shot, {EPOCHS} finetune epochs, seeds {SEEDS}; "
        "first and last layer dense; sparsity = share of the pruned layers' weights removed. "
        f"torch {torch.__version__}, 1 thread. Dense test accuracy: "
        + ", ".join(f"{model} {value:.4f}" for model, value in dense.items())
        + ". Sensitivity profiles (measured, validation split, no finetuning): "
        + ", ".join(f"{name} {value:.1f} s" for name, value in seconds.items())
        + ".",
        "",
        *_table(rows),
        "",
        "Predicted (additive single-layer estimate) vs actual validation accuracy right after "
        "pruning, sensitivity allocation:",
        "",
        "| model | criterion | sparsity | predicted | actual (mean over seeds) |",
        "|---|---|---|---|---|",
    ]
    sensitive = rows[rows["allocation"] == "sensitivity"]
    keys = ["model", "criterion", "target_sparsity"]
    for (model, criterion, sparsity), group in sensitive.groupby(keys, sort=False):
        lines.append(
            f"| {model} | {criterion} | {sparsity:.0%} "
            f"| {group['predicted_val_after_prune'].iloc[0]:.4f} "
            f"| {group['val_accuracy_after_prune'].mean():.4f} |"
        )
    lines += [
        "",
        f"`recipes/{RECIPE.name}` as written (seed 0): test accuracy {recipe_accuracy:.4f}.",
    ]
    text = "\n".join(lines)
    (OUT / "allocation_figures.md").write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
