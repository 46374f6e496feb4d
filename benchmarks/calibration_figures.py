"""Figures for the README: calibrated one-shot pruning on digits_vit and digits_mlp.

Magnitude, Wanda, SparseGPT and random at 50% unstructured and 2:4, one-shot and
*without* finetuning (so the numbers show the pruning itself), default skip layers (first
and last layer dense), 256 calibration samples from the training split; mean ± std of
the test accuracy over 3 seeds (the seed draws the calibration samples and the random
scores), and the mean per-layer reconstruction error ``||X W^T - X Ŵ^T||² / ||X W^T||²``
on the dense model's layer inputs (see ``pruning_core.pruning.reconstruction``). Also
counts, per layer and seed, where the reconstruction error orders
SparseGPT < Wanda < magnitude < random and where it does not. Writes
``benchmarks/results/calibration_figures.{csv,md,json}``; the JSON records the machine
(date, CPU model and flags, threads, load average, torch version) and every row.

Run: ``.venv/bin/python -m benchmarks.calibration_figures``
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from benchmarks.provenance import finished, header, started, write_json
from pruning_core.pipeline.run import prune
from pruning_core.recipe import parse_recipe

OUT = Path(__file__).parent / "results"
MODELS = ["digits_vit", "digits_mlp"]
STRUCTURES = ["unstructured", "2:4"]
CRITERIA = ["magnitude", "wanda", "sparsegpt", "random"]
SEEDS = [0, 1, 2]
# the claimed order of the layer reconstruction error, lowest first
ORDER = ["sparsegpt", "wanda", "magnitude", "random"]


def _runs() -> list[dict[str, Any]]:
    rows = []
    for model in MODELS:
        for structure in STRUCTURES:
            for criterion in CRITERIA:
                for seed in SEEDS:
                    recipe = parse_recipe(
                        {
                            "model": model,
                            "criterion": criterion,
                            "structure": structure,
                            "sparsity": 0.5,
                            "finetune": {"epochs": 0},
                            "seed": seed,
                        }
                    )
                    result = prune(recipe)
                    errors = {
                        row["name"]: row["reconstruction_error"]
                        for row in result.layers
                        if row["pruned"]
                    }
                    rows.append(
                        {
                            "model": model,
                            "structure": structure,
                            "criterion": criterion,
                            "seed": seed,
                            "dense_test_accuracy": result.summary["dense_test_accuracy"],
                            "test_accuracy": result.summary["test_accuracy"],
                            "reconstruction_error_mean": result.summary[
                                "reconstruction_error_mean"
                            ],
                            "seconds": result.timing["seconds"],
                            **{f"error {name}": value for name, value in errors.items()},
                        }
                    )
    return rows


def _markdown(frame: pd.DataFrame) -> list[str]:
    lines = [
        "| model | structure | criterion | test accuracy (mean ± std, 3 seeds) "
        "| mean layer reconstruction error | seconds per run |",
        "|---|---|---|---|---|---|",
    ]
    grouped = frame.groupby(["model", "structure", "criterion"], sort=False)
    for (model, structure, criterion), group in grouped:
        accuracy = group["test_accuracy"]
        error = group["reconstruction_error_mean"]
        lines.append(
            f"| {model} | {structure} | {criterion} | {accuracy.mean():.4f} ± {accuracy.std():.4f} "
            f"| {error.mean():.4f} | {group['seconds'].mean():.1f} |"
        )
    return lines


def _layer_table(frame: pd.DataFrame, model: str) -> list[str]:
    subset = frame[(frame["model"] == model) & (frame["seed"] == 0)].dropna(axis=1, how="all")
    columns = [c for c in subset.columns if c.startswith("error ")]
    header = " | ".join(c.removeprefix("error ") for c in columns)
    lines = [
        f"| structure | criterion | {header} |",
        "|---|---|" + "---|" * len(columns),
    ]
    for _, row in subset.iterrows():
        values = " | ".join(f"{row[column]:.4f}" for column in columns)
        lines.append(f"| {row['structure']} | {row['criterion']} | {values} |")
    return lines


def ordering(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Per model and structure: in how many (layer, seed) cases each neighbouring pair of
    :data:`ORDER` and the whole chain hold, and whether the chain holds for the means."""
    columns = [c for c in frame.columns if c.startswith("error ")]
    out = []
    for (model, structure), group in frame.groupby(["model", "structure"], sort=False):
        errors = group.set_index(["criterion", "seed"])[columns].dropna(axis=1, how="all")
        cases = [(layer, seed) for layer in errors.columns for seed in SEEDS]

        def holds(
            low: str, high: str, layer: str, seed: int, errors: pd.DataFrame = errors
        ) -> bool:
            return bool(errors.loc[(low, seed), layer] < errors.loc[(high, seed), layer])

        pairs = {
            f"{low} < {high}": sum(holds(low, high, *case) for case in cases)
            for low, high in zip(ORDER, ORDER[1:], strict=False)
        }
        chain = [
            case
            for case in cases
            if all(holds(low, high, *case) for low, high in zip(ORDER, ORDER[1:], strict=False))
        ]
        means = group.groupby("criterion")["reconstruction_error_mean"].mean()
        seed0_fails = [
            layer.removeprefix("error ")
            for layer in errors.columns
            if not holds("wanda", "magnitude", layer, 0)
        ]
        out.append(
            {
                "model": model,
                "structure": structure,
                "layers": len(errors.columns),
                "cases": len(cases),
                **{f"holds {name}": count for name, count in pairs.items()},
                "holds whole order": len(chain),
                "order holds for the means": bool(
                    all(
                        means[low] < means[high]
                        for low, high in zip(ORDER, ORDER[1:], strict=False)
                    )
                ),
                "seed 0 layers where wanda >= magnitude": seed0_fails,
            }
        )
    return out


def _ordering_lines(rows: list[dict[str, Any]]) -> list[str]:
    pairs = [f"{low} < {high}" for low, high in zip(ORDER, ORDER[1:], strict=False)]
    lines = [
        "Where the layer reconstruction error orders "
        + " < ".join(ORDER)
        + " (cases = pruned layers x 3 seeds):",
        "",
        "| model | structure | cases | " + " | ".join(pairs) + " | whole order | means in order "
        "| seed 0: wanda >= magnitude in |",
        "|---|---|---|" + "---|" * len(pairs) + "---|---|---|",
    ]
    for row in rows:
        counts = " | ".join(str(row[f"holds {pair}"]) for pair in pairs)
        fails = row["seed 0 layers where wanda >= magnitude"]
        lines.append(
            f"| {row['model']} | {row['structure']} | {row['cases']} | {counts} "
            f"| {row['holds whole order']} | {'yes' if row['order holds for the means'] else 'no'} "
            f"| {len(fails)} of {row['layers']} layers: {', '.join(fails) or '-'} |"
        )
    return lines


def main() -> None:
    """Run the grid, write CSV and Markdown, print the Markdown."""
    torch.set_num_threads(1)  # tiny models: a second thread only waits on a busy machine
    OUT.mkdir(parents=True, exist_ok=True)
    meta = started("python -m benchmarks.calibration_figures")
    start = time.perf_counter()
    frame = pd.DataFrame(_runs())
    frame.to_csv(OUT / "calibration_figures.csv", index=False)
    dense = frame.groupby("model")["dense_test_accuracy"].first()
    order = ordering(frame)
    meta = finished(meta)
    write_json(
        OUT / "calibration_figures.json",
        meta,
        frame.to_dict(orient="records"),
        dense_test_accuracy=dense.to_dict(),
        ordering=order,
    )
    lines = [
        header(meta),
        "",
        "Calibrated one-shot pruning without finetuning (50% of the weights of every pruned "
        "layer, or 2:4; first and last layer dense; 256 calibration samples).",
        "",
        "Dense test accuracy: "
        + ", ".join(f"{model} {value:.4f}" for model, value in dense.items())
        + f". torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"grid of {len(frame)} runs in {time.perf_counter() - start:.0f} s.",
        "",
        *_markdown(frame),
        "",
        *_ordering_lines(order),
    ]
    for model in MODELS:
        lines += ["", f"Per-layer reconstruction error, {model}, seed 0:", ""]
        lines += _layer_table(frame, model)
    text = "\n".join(lines)
    (OUT / "calibration_figures.md").write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
