"""The Wanda paper's table on the shipped tiny LM: test perplexity after one-shot pruning.

``tiny_lm`` (6-block Llama, 2.2M parameters, Python's pydoc text) pruned one-shot with no
finetuning, as in the Wanda and SparseGPT papers: magnitude, Wanda and SparseGPT at 50%
unstructured and at 2:4, every decoder ``Linear`` pruned (``lm_head`` and the embeddings
dense, the default), block by block through the decoder for the calibrated criteria, 128
calibration windows of 128 tokens drawn from the training part by the seed. Test perplexity
over the test part's non-overlapping 128-token windows; mean ± std over the calibration
seeds 0, 1, 2 (magnitude uses no calibration data, so it runs once: std 0). Every number
comes from :func:`pruning_core.prune`, exactly as a recipe run reports it.

Writes ``benchmarks/results/llm_wanda_table.{json,md}`` (machine metadata included).

Run: ``.venv/bin/python -m benchmarks.llm_wanda_table`` (a few minutes on 2 CPU cores).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

import torch

from benchmarks.provenance import finished, header, started, write_json
from pruning_core.pipeline.run import prune
from pruning_core.recipe import parse_recipe

OUT = Path(__file__).parent / "results"
NAME = "llm_wanda_table"
MODEL = "tiny_lm"
STRUCTURES = ["unstructured", "2:4"]
CRITERIA = ["magnitude", "wanda", "sparsegpt"]
SEEDS = [0, 1, 2]
SAMPLES = 128


def _run(criterion: str, structure: str, seed: int) -> dict[str, Any]:
    recipe = parse_recipe(
        {
            "model": MODEL,
            "criterion": criterion,
            "structure": structure,
            "finetune": {"epochs": 0},
            "calibration": {"samples": SAMPLES, "batch_size": 32},
            "seed": seed,
        }
    )
    result = prune(recipe)
    summary = result.summary
    return {
        "criterion": criterion,
        "structure": structure,
        "seed": seed,
        "sparsity": summary["sparsity_pruned_layers"],
        "dense_test_perplexity": summary["dense_test_perplexity"],
        "test_perplexity": summary["test_perplexity"],
        "val_perplexity": summary["val_perplexity"],
        "reconstruction_error_mean": summary["reconstruction_error_mean"],
        "seconds": result.timing["seconds"],
    }


def _table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    table = []
    for structure in STRUCTURES:
        for criterion in CRITERIA:
            values = [
                r["test_perplexity"]
                for r in rows
                if r["criterion"] == criterion and r["structure"] == structure
            ]
            table.append(
                {
                    "criterion": criterion,
                    "structure": structure,
                    "test_perplexity_mean": statistics.mean(values),
                    "test_perplexity_std": statistics.stdev(values) if len(values) > 1 else 0.0,
                    "seeds": len(values),
                }
            )
    return table


def markdown(meta: dict[str, Any], dense: float, table: list[dict[str, Any]]) -> str:
    """The README table: one row per criterion, one column per structure."""
    cells = {(t["criterion"], t["structure"]): t for t in table}
    lines = [
        f"| `{MODEL}` test perplexity (lower is better) | 50% unstructured | 2:4 |",
        "|---|---:|---:|",
        f"| dense | {dense:.2f} | {dense:.2f} |",
    ]
    for criterion in CRITERIA:
        parts = []
        for structure in STRUCTURES:
            cell = cells[(criterion, structure)]
            spread = f" ± {cell['test_perplexity_std']:.2f}" if cell["seeds"] > 1 else ""
            parts.append(f"{cell['test_perplexity_mean']:.2f}{spread}")
        lines.append(f"| {criterion} | {' | '.join(parts)} |")
    note = (
        "Mean ± std over calibration seeds 0, 1, 2; magnitude reads no calibration data (one run)."
    )
    return "\n".join(lines) + "\n\n" + note + " " + header(meta) + "\n"


def main() -> None:
    if "--report-only" in sys.argv:  # re-render the table from the measured rows
        saved = json.loads((OUT / f"{NAME}.json").read_text(encoding="utf-8"))
        text = markdown(saved["metadata"], saved["dense_test_perplexity"], saved["table"])
        (OUT / f"{NAME}.md").write_text(text, encoding="utf-8")
        print(text)
        return
    torch.set_num_threads(2)
    meta = started(f"python -m benchmarks.{NAME}")
    rows = []
    for structure in STRUCTURES:
        for criterion in CRITERIA:
            # magnitude reads no calibration data: every seed gives the same run
            for seed in SEEDS[:1] if criterion == "magnitude" else SEEDS:
                rows.append(_run(criterion, structure, seed))
                print(rows[-1], flush=True)
    meta = finished(meta)
    dense = rows[0]["dense_test_perplexity"]
    table = _table(rows)
    write_json(
        OUT / f"{NAME}.json",
        meta,
        rows,
        model=MODEL,
        calibration_samples=SAMPLES,
        seq_len=128,
        dense_test_perplexity=dense,
        table=table,
    )
    (OUT / f"{NAME}.md").write_text(markdown(meta, dense, table), encoding="utf-8")
    print(markdown(meta, dense, table))


if __name__ == "__main__":
    main()
