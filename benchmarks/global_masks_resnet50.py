"""Benchmark: exact global magnitude selection against one ``torch.kthvalue``, at 1 and 2 threads.

For every prunable weight of torchvision ResNet-18, ResNet-50 and ViT-B/16 (attention's
fused q/k/v split into Linears, as the engine prunes it), at 90% sparsity, in one process
on the same scores (``|w|``, computed once, outside every timer):

* ``selection``: the engine's exact global selection
  (:func:`pruning_core.allocation.rules.global_ranking`: threshold and per-layer counts);
* ``selection + masks``: the same plus every layer's keep-mask (what a run does);
* ``kthvalue``: one ``torch.kthvalue`` over all scores already in one flat tensor (the
  reference; it gives a threshold only, no exact tie handling, no masks);
* ``torch global_unstructured`` (ResNet-50 only, 1 repetition: it takes seconds):
  ``torch.nn.utils.prune.global_unstructured`` on a copy made before its timer starts.

The first three are timed interleaved (:func:`pruning_core.latency.time_interleaved`).
Every path's result is checked before timing: the engine's selection and masks and
torch's ``global_unstructured`` drop exactly ``round(0.9 * weights)`` weights, the
engine's threshold equals kthvalue's, and what kthvalue's threshold alone would drop is
counted (more than the target where weights tie with it, as in ViT-B/16's 86M weights).
``kthvalue / selection`` >= 1 means the selection is not slower. Writes
``benchmarks/results/global_masks.{json,csv,md}`` with the machine's metadata.

Run: ``.venv/bin/python -m benchmarks.global_masks_resnet50 [--models resnet50]``
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from typing import Any

import torch
import torchvision
from torch import nn
from torch.nn.utils import prune as torch_prune

from benchmarks.cpu_common import OUT, markdown, save
from pruning_core.allocation.rules import Allocation, global_ranking
from pruning_core.latency import machine_metadata, summarize, time_interleaved
from pruning_core.models.layers import prunable_layers
from pruning_core.recipe import Structure
from pruning_core.structures.grouping import Grouping, grouping, structured_mask
from pruning_core.structures.heads_mha import convert_multihead_attention
from pruning_core.threads import fixed_threads

SPARSITY = 0.9
MODELS = ("resnet18", "resnet50", "vit_b_16")
THREADS = (1, 2)
REPEATS = 30
TORCH_REPEATS = 1
UNSTRUCTURED = Structure(kind="unstructured")


def build(name: str) -> nn.Module:
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)().eval()
    convert_multihead_attention(model)  # as the engine: in_proj_weight becomes q/k/v Linears
    return model


def groupings_of(model: nn.Module) -> dict[str, Grouping]:
    return {
        layer.name: grouping(
            UNSTRUCTURED, layer.weight.detach().abs().reshape(layer.shape_2d), layer.shape_2d
        )
        for layer in prunable_layers(model)
    }


def masks(groups: dict[str, Grouping], allocation: Allocation) -> dict[str, torch.Tensor]:
    """Every layer's keep-mask from the global allocation (the run's second half)."""
    return {
        name: structured_mask(
            UNSTRUCTURED,
            g.scores,
            (g.count, 1),
            allocation.groups_to_drop[name],
            allocation.threshold,
        )
        for name, g in groups.items()
    }


def torch_global(model: nn.Module) -> tuple[float, int]:
    """Seconds of ``global_unstructured`` alone (the copy is made before), weights dropped."""
    clone = copy.deepcopy(model)
    params = [(layer.module, "weight") for layer in prunable_layers(clone)]
    start = time.perf_counter()
    torch_prune.global_unstructured(
        params, pruning_method=torch_prune.L1Unstructured, amount=SPARSITY
    )
    seconds = time.perf_counter() - start
    masks_left = [module.get_buffer("weight_mask") for module, _ in params]
    return seconds, sum(int((mask == 0).sum()) for mask in masks_left)


def check(groups: dict[str, Grouping], flat: torch.Tensor, target: int) -> dict[str, Any]:
    """Assert that the engine's paths drop exactly ``target`` weights at kthvalue's threshold.

    Returns the threshold and what kthvalue's threshold alone would drop (``<=`` it): more
    than ``target`` when other weights tie with the k-th value (float32 values repeat
    among tens of millions); the engine keeps such ties back, in layer order.
    """
    allocation = global_ranking(groups, SPARSITY)
    assert sum(allocation.groups_to_drop.values()) == target, allocation.groups_to_drop
    assert sum(int((~m).sum()) for m in masks(groups, allocation).values()) == target
    kth = float(flat.kthvalue(target).values)
    assert allocation.threshold == kth, (allocation.threshold, kth)
    return {
        "threshold": kth,
        "kthvalue_threshold_drops": int((flat <= kth).sum()),
        "ties_at_threshold": int((flat == kth).sum()),
    }


def measure(name: str, threads_list: tuple[int, ...]) -> list[dict[str, Any]]:
    model = build(name)
    groups = groupings_of(model)
    flat = torch.cat([g.scores for g in groups.values()])
    total = flat.numel()
    target = round(SPARSITY * total)
    checked = check(groups, flat, target)
    rows = []
    for threads in threads_list:
        with fixed_threads(threads):
            actions = {
                "selection": lambda: global_ranking(groups, SPARSITY),
                "selection + masks": lambda: masks(groups, global_ranking(groups, SPARSITY)),
                "kthvalue": lambda: flat.kthvalue(target),
            }
            times = time_interleaved(actions, REPEATS, warmup=1)
            torch_times: list[float] = []
            if name == "resnet50":
                for _ in range(TORCH_REPEATS):
                    seconds, dropped = torch_global(model)
                    assert dropped == target, (dropped, target)
                    torch_times.append(seconds * 1000.0)
                times["torch global_unstructured"] = torch_times
            meta = machine_metadata()
            kth_ms = statistics.median(times["kthvalue"])
            for variant, samples in times.items():
                stats = summarize(samples)
                rows.append(
                    {
                        **meta,
                        "model": name,
                        "weights": total,
                        "sparsity": SPARSITY,
                        "dropped": target,
                        **checked,
                        "variant": variant,
                        **stats,
                        "repetitions": len(samples),
                        "kthvalue_over_variant": kth_ms / stats["median_ms"],
                        "kthvalue_min_over_variant_min": min(times["kthvalue"]) / stats["min_ms"],
                    }
                )
                print(
                    f"{name:<9} {threads} thr {variant:<26} median {stats['median_ms']:9.1f} ms"
                    f"  kthvalue/this {rows[-1]['kthvalue_over_variant']:5.2f}x",
                    flush=True,
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    args = parser.parse_args()
    rows = [row for name in args.models for row in measure(name, THREADS)]
    selections = [row for row in rows if row["variant"] == "selection"]
    slowest = min(row["kthvalue_over_variant"] for row in selections)
    meta = rows[0]
    per_model = selections[:: len(THREADS)]
    verdict = (
        f"selection never slower than one kthvalue: {slowest >= 1.0} "
        f"(lowest kthvalue/selection ratio {slowest:.2f}x). Checked before timing: the "
        "selection, the masks and torch's global_unstructured (resnet50) drop exactly "
        + ", ".join(f"{row['model']} {row['dropped']:,}" for row in per_model)
        + " weights; kthvalue's threshold alone (dropping <= it) would drop "
        + ", ".join(
            f"{row['model']} {row['kthvalue_threshold_drops']:,} "
            f"({row['ties_at_threshold']} weights equal to it)"
            for row in per_model
        )
    )
    print(verdict, flush=True)
    table = (
        f"{meta['device']}, {meta['cpu_cores']} cores, torch {meta['torch']}, {meta['date']}, "
        f"load {meta['load_average_1min']}\n\n{verdict}\n\n"
        + markdown(
            rows,
            [
                "model",
                "weights",
                "threads",
                "variant",
                "median_ms",
                "min_ms",
                "iqr_ms",
                "repetitions",
                "kthvalue_over_variant",
                "load_average_1min",
            ],
        )
    )
    save(rows, "global_masks", table, OUT)


if __name__ == "__main__":
    main()
