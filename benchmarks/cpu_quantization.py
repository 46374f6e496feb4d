"""int8 on this CPU: torchao vs torch.ao ``quantize_dynamic`` vs fp32, eager and compiled.

Latency: a 4-layer 1024-wide MLP (ReLU) at batch 64, 2 threads; eager variants timed
interleaved against fp32 eager, compiled variants against fp32 compiled. Accuracy and
size: the trained digits_mlp (50% unstructured magnitude, no finetuning) on its test split.
Writes ``benchmarks/results/cpu_quantization.{json,csv,md}`` (``--stem NAME`` for
another name, e.g. to keep the figures of a second CPU beside the first). The speed
figures are per CPU: they depend on its SIMD flags (AVX2 only vs AVX-512 VNNI), which every
row records with the CPU model, threads, load, torch version and date.

Run: ``.venv/bin/python -m benchmarks.cpu_quantization [--stem NAME]``
"""

from __future__ import annotations

import argparse
import copy
import warnings
from typing import Any, cast

import torch
from torch import nn

from benchmarks.cpu_common import REPEATS, THREADS, WARMUP, markdown, save
from pruning_core.bench.layers import call_action
from pruning_core.bench.models import accuracy
from pruning_core.compression.quantization import quantize_dynamic_int8, quantize_linear_int8
from pruning_core.formats.sizes import dense_model_bytes
from pruning_core.latency import machine_metadata, measured_rows, time_interleaved
from pruning_core.pipeline.run import prune
from pruning_core.recipe import parse_recipe
from pruning_core.threads import fixed_threads
from sample_models.data import digits_splits


def weight_only(model: nn.Module) -> nn.Module:
    """torchao ``Int8WeightOnlyConfig`` (weights int8, activations float)."""
    from torchao.quantization import Int8WeightOnlyConfig, quantize_

    quantize_(model, Int8WeightOnlyConfig())
    return model


def variants(model: nn.Module) -> dict[str, dict[str, nn.Module]]:
    """Eager and compiled variants of ``model``."""

    def compiled(module: nn.Module) -> nn.Module:
        return cast(nn.Module, torch.compile(module))

    return {
        "eager": {
            "fp32": model,
            "int8 quantize_dynamic (torch.ao, deprecated)": quantize_dynamic_int8(
                copy.deepcopy(model)
            ),
            "int8 torchao Int8DynamicActivationInt8Weight": quantize_linear_int8(
                copy.deepcopy(model)
            ),
            "int8 torchao Int8WeightOnly": weight_only(copy.deepcopy(model)),
        },
        "compiled": {
            "fp32": compiled(copy.deepcopy(model)),
            "int8 torchao Int8DynamicActivationInt8Weight": compiled(
                quantize_linear_int8(copy.deepcopy(model))
            ),
        },
    }


def latency_rows() -> list[dict[str, Any]]:
    torch.manual_seed(0)
    mlp = nn.Sequential(*[m for _ in range(4) for m in (nn.Linear(1024, 1024), nn.ReLU())]).eval()
    x = torch.randn(64, 1024)
    rows = []
    for mode, models in variants(mlp).items():
        with torch.inference_mode():
            for module in models.values():
                module(x)  # compiles
        actions = {name: call_action(module, x) for name, module in models.items()}
        common = {
            **machine_metadata(),
            "model": "mlp 4x1024",
            "structure": "dense",
            "batch": 64,
            "mode": mode,
        }
        for row in measured_rows(time_interleaved(actions, REPEATS, WARMUP), "fp32", common):
            row["precision"] = "fp32" if row["variant"] == "fp32" else "int8"
            rows.append(row)
    return rows


def kernel_rows() -> list[dict[str, Any]]:
    """The bare int8 GEMM torchao relies on (``torch._int_mm``) vs fp32, 64x1024 @ 1024x1024."""
    a = torch.randint(-127, 128, (64, 1024), dtype=torch.int8)
    b = torch.randint(-127, 128, (1024, 1024), dtype=torch.int8)
    af, bf = a.float(), b.float()
    actions = {"fp32 mm": lambda: af @ bf, "int8 torch._int_mm": lambda: torch._int_mm(a, b)}
    common = {
        **machine_metadata(),
        "model": "gemm 64x1024x1024",
        "structure": "dense",
        "batch": 64,
        "mode": "kernel",
    }
    rows = measured_rows(time_interleaved(actions, REPEATS, WARMUP), "fp32 mm", common)
    for row in rows:
        row["precision"] = "fp32" if row["variant"] == "fp32 mm" else "int8"
    return rows


def accuracy_rows() -> list[dict[str, Any]]:
    """digits_mlp 50% magnitude: accuracy and bytes of each int8 path."""
    run = prune(parse_recipe({"model": "digits_mlp", "finetune": {"epochs": 0}}))
    model = run.model.float().eval()
    test = digits_splits()["test"]
    models = variants(model)
    rows = []
    for mode, group in models.items():
        for name, module in group.items():
            precision = "fp32" if name == "fp32" else "int8"
            rows.append(
                {
                    "model": "digits_mlp 50% unstructured",
                    "mode": mode,
                    "variant": name,
                    "test_accuracy": accuracy(module, test.x, test.y, torch.float32),
                    "size_bytes": dense_model_bytes(model, precision),
                    "kind": "exact count",
                }
            )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stem", default="cpu_quantization", help="result file name stem")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    with fixed_threads(THREADS):
        rows = latency_rows() + kernel_rows()
        quality = accuracy_rows()
    table = markdown(
        rows, ["mode", "variant", "median_ms", "iqr_ms", "min_ms", "speedup", "speedup_min"]
    )
    table += "\n\n" + markdown(quality, ["mode", "variant", "test_accuracy", "size_bytes"])
    meta = rows[0]
    table = (
        f"{meta['device']} (flags: {meta['cpu_flags'] or 'none'}; torch kernels "
        f"{meta.get('cpu_capability')}), {meta['threads']} threads, torch {meta['torch']}, "
        f"{meta['date']}, load {meta['load_average_1min']}\n\n{table}"
    )
    save(rows + quality, args.stem, table)


if __name__ == "__main__":
    main()
