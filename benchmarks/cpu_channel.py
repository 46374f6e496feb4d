"""Channel pruning on this CPU: measured vs theoretical (MACs) speedup; rounded channel counts.

1. The engine's 50% channel pruning (magnitude, no finetuning) of digits_cnn and resnet18,
   timed against the original at batch 1 and batch >= 64 (interleaved, 2 threads).
   Theoretical = dense MACs / MACs left, of the Linear/Conv layers.
2. Rounding: Torch-Pruning's MagnitudePruner at ratio 0.3 (channel counts that are not
   multiples of 8) with ``round_to`` None, 8 and 16.

Writes ``benchmarks/results/cpu_channel.{json,csv,md}`` (``--quick``: ``cpu_channel_digits_cnn``).
Run: ``.venv/bin/python -m benchmarks.cpu_channel [--quick]``
"""

from __future__ import annotations

import argparse
import copy
from typing import Any

import torch
import torch_pruning as tp
from torch import nn

from benchmarks.cpu_common import REPEATS, THREADS, WARMUP, markdown, save
from pruning_core.bench.layers import call_action
from pruning_core.latency import machine_metadata, measured_rows, time_interleaved
from pruning_core.models.layers import prunable_layers
from pruning_core.models.metrics import layer_macs
from pruning_core.models.registry import MODELS, build_model
from pruning_core.pipeline.run import prune
from pruning_core.recipe import parse_recipe
from pruning_core.threads import fixed_threads


def measure(
    original: nn.Module, pruned: nn.Module, shape: tuple[int, ...], batch: int, info: dict[str, Any]
) -> dict[str, Any]:
    """Original vs pruned at ``batch``; the pruned model's row with the ratio to theory."""
    x = torch.randn(batch, *shape)
    actions = {"original": call_action(original, x), "pruned": call_action(pruned, x)}
    theoretical = sum(layer_macs(original, shape).values()) / sum(
        layer_macs(pruned, shape).values()
    )
    common = {**machine_metadata(), "batch": batch, "theoretical_speedup": theoretical, **info}
    rows = measured_rows(time_interleaved(actions, REPEATS, WARMUP), "original", common)
    row = {**next(r for r in rows if r["variant"] == "pruned"), "variant": info["variant"]}
    row["measured_over_theoretical"] = row["speedup"] / theoretical
    row["min_over_theoretical"] = row["speedup_min"] / theoretical
    row["channels"] = [int(layer.weight.shape[0]) for layer in prunable_layers(pruned)][:6]
    return row


def rounded(
    model: nn.Module, shape: tuple[int, ...], ratio: float, round_to: int | None
) -> nn.Module:
    """Torch-Pruning MagnitudePruner (L1), classifier kept, channel counts rounded."""
    model = copy.deepcopy(model)
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    pruner = tp.pruner.MagnitudePruner(
        model,
        torch.randn(1, *shape),
        importance=tp.importance.MagnitudeImportance(p=1),
        pruning_ratio=ratio,
        ignored_layers=[last],
        round_to=round_to,
    )
    pruner.step()
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="digits_cnn only")
    args = parser.parse_args()
    cases = {"digits_cnn": [1, 64, 256], "resnet18": [1, 64]}
    rounding_batch = {"digits_cnn": 256, "resnet18": 16}
    if args.quick:
        cases = {"digits_cnn": [1, 64, 256]}
    rows = []
    with fixed_threads(THREADS):
        for name, batches in cases.items():
            spec = MODELS.get(name)
            original = build_model(spec).eval()
            recipe = {
                "model": name,
                "structure": "channel",
                "sparsity": 0.5,
                "finetune": {"epochs": 0},
            }
            pruned = prune(parse_recipe(recipe)).model.eval()
            for batch in batches:
                info: dict[str, object] = {
                    "model": name,
                    "structure": "channel",
                    "precision": "fp32",
                    "variant": "engine 50% channels",
                    "round_to": None,
                }
                rows.append(measure(original, pruned, spec.input_shape, batch, info))
                print(
                    rows[-1]["model"],
                    batch,
                    rows[-1]["speedup"],
                    rows[-1]["theoretical_speedup"],
                    flush=True,
                )
            for round_to in (None, 8, 16):
                smaller = rounded(original, spec.input_shape, 0.3, round_to)
                info = {
                    "model": name,
                    "structure": "channel",
                    "precision": "fp32",
                    "variant": f"Torch-Pruning ratio 0.3, round_to {round_to}",
                    "round_to": round_to,
                }
                rows.append(
                    measure(original, smaller, spec.input_shape, rounding_batch[name], info)
                )
                print(rows[-1]["variant"], rows[-1]["speedup"], flush=True)
    meta = rows[0]
    table = (
        f"{meta['device']}, {meta['threads']} threads, torch {meta['torch']}, {meta['date']}\n\n"
        + markdown(
            rows,
            [
                "model",
                "variant",
                "batch",
                "channels",
                "median_ms",
                "baseline_ms",
                "speedup",
                "speedup_min",
                "theoretical_speedup",
                "measured_over_theoretical",
                "min_over_theoretical",
            ],
        )
    )
    save(rows, "cpu_channel_digits_cnn" if args.quick else "cpu_channel", table)


if __name__ == "__main__":
    main()
