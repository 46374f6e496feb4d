"""CSR/BSR vs dense on this CPU: the sparsity at which each starts to win, per shape.

Weight ``(out, in)`` fp32 times ``(in, columns)``; CSR on unstructured zeros, BSR on
block zeros (4x4 and 16x16). Shapes: the issue's 4096x4096 x 64, BERT-base fc1 x 64 and
the digits models' layer products at batch 64. Writes
``benchmarks/results/cpu/cpu_crossover.{json,csv,md}``.

Run: ``.venv/bin/python -m benchmarks.cpu_crossover``
"""

from __future__ import annotations

import warnings

from benchmarks.cpu_common import OUT, REPEATS, THREADS, WARMUP, markdown, save
from pruning_core.bench.layers import crossover_points, crossover_rows
from pruning_core.bench.run import CROSSOVER_SPARSITIES
from pruning_core.latency import machine_metadata
from pruning_core.threads import fixed_threads

SHAPES = {  # label: (out, in, columns)
    "4096x4096 x 64 (issue reference)": (4096, 4096, 64),
    "bert-base fc1 3072x768 x 64": (3072, 768, 64),
    "digits_mlp net.3 256x256 x 64": (256, 256, 64),
    "digits_cnn features.7 64x576 x 1024": (64, 576, 1024),
}
BLOCKS = [(4, 4), (16, 16)]


def main() -> None:
    warnings.filterwarnings("ignore")
    rows, summary = [], []
    with fixed_threads(THREADS):
        for label, (out_f, in_f, columns) in SHAPES.items():
            for block in BLOCKS:
                if out_f % block[0] or in_f % block[1]:
                    continue
                measured = crossover_rows(
                    out_f,
                    in_f,
                    columns,
                    CROSSOVER_SPARSITIES,
                    block,
                    REPEATS,
                    WARMUP,
                    {**machine_metadata(), "shape": label, "block": list(block)},
                )
                rows += measured
                for variant, point in crossover_points(measured).items():
                    if variant == "csr" and block != BLOCKS[0]:
                        continue  # CSR does not depend on the block: report it once
                    at = {r["sparsity"]: r for r in measured if r["variant"] == variant}
                    by_min = crossover_points(measured, "speedup_min")[variant]
                    summary.append(
                        {
                            "shape": label,
                            "format": variant,
                            **point,
                            "crossover (min)": by_min["crossover"],
                            **{f"{s:g}": at[s]["speedup"] for s in (0.5, 0.9, 0.99)},
                            **{f"{s:g} (min)": at[s]["speedup_min"] for s in (0.5, 0.9, 0.99)},
                            "dense_ms": at[0.5]["baseline_ms"],
                        }
                    )
                print(summary[-1], flush=True)
    meta = rows[0]
    table = (
        f"{meta['device']}, {meta['threads']} threads, torch {meta['torch']}, {meta['date']}; "
        "speedup = dense median / format median (columns 0.5, 0.9, 0.99: at that sparsity)\n\n"
        + markdown(
            summary,
            [
                "shape",
                "format",
                "crossover",
                "below",
                "crossover (min)",
                "dense_ms",
                "0.5",
                "0.9",
                "0.99",
                "0.5 (min)",
                "0.9 (min)",
                "0.99 (min)",
            ],
        )
    )
    save(rows, "cpu_crossover", table, OUT / "cpu")


if __name__ == "__main__":
    main()
