"""Model size by format and precision for each sample model (exact byte counts, not timed).

For digits_cnn, digits_mlp and digits_vit: dense, 50% and 90% unstructured, 2:4, 4x4
blocks at 50%, 50% channels (where the model allows) and 16-value weight sharing on 50%
unstructured, all magnitude, no finetuning (test accuracy reported beside). Writes
``benchmarks/results/cpu_sizes.{json,csv,md}``.

Run: ``.venv/bin/python -m benchmarks.cpu_sizes``
"""

from __future__ import annotations

import warnings
from typing import Any

from benchmarks.cpu_common import markdown, save
from pruning_core.pipeline.run import prune
from pruning_core.recipe import parse_recipe

MODELS = ["digits_cnn", "digits_mlp", "digits_vit"]
VARIANTS: dict[str, dict[str, Any]] = {
    "dense": {"sparsity": 0.0},
    "50% unstructured": {"sparsity": 0.5},
    "90% unstructured": {"sparsity": 0.9},
    "2:4": {"structure": {"kind": "n:m", "n": 2, "m": 4, "skip_incompatible": True}},
    "block 4x4 50%": {"structure": {"kind": "block", "skip_incompatible": True}, "sparsity": 0.5},
    "channel 50%": {"structure": "channel", "sparsity": 0.5},
    "50% + weight sharing 16": {
        "sparsity": 0.5,
        "compression": {"kind": "weight_sharing", "clusters": 16},
    },
}
FORMATS = ["dense", "csr", "bsr", "2:4", "channel_removed", "codebook", "csr_codebook"]


def main() -> None:
    warnings.filterwarnings("ignore")
    rows, table_rows = [], []
    for model in MODELS:
        for variant, fields in VARIANTS.items():
            recipe = parse_recipe({"model": model, "finetune": {"epochs": 0}, **fields})
            summary = prune(recipe).summary
            by_format = summary["size_bytes_by_format"]
            for fmt, per_precision in by_format.items():
                for precision, size in per_precision.items():
                    rows.append(
                        {
                            "model": model,
                            "variant": variant,
                            "format": fmt,
                            "precision": precision,
                            "size_bytes": size,
                            "kind": "exact count",
                            "test_accuracy": summary["test_accuracy"],
                            "sparsity_pruned_layers": summary["sparsity_pruned_layers"],
                        }
                    )
            for precision in ("fp32", "fp16", "int8"):
                table_rows.append(
                    {
                        "model": model,
                        "variant": variant,
                        "precision": precision,
                        "test acc (fp32)": summary["test_accuracy"],
                        **{fmt: by_format[fmt][precision] for fmt in FORMATS},
                    }
                )
            print(model, variant, flush=True)
    table = (
        "Bytes of the whole model (weights in the format where it fits, dense otherwise; "
        "indices int64 as torch stores them; int8 adds one fp32 scale per row). "
        "Accuracy: fp32, no finetuning.\n\n"
        + markdown(table_rows, ["model", "variant", "precision", "test acc (fp32)", *FORMATS])
    )
    save(rows, "cpu_sizes", table)


if __name__ == "__main__":
    main()
