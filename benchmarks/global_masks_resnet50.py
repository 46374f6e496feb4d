"""Benchmark: global magnitude masks for every prunable layer of torchvision ResNet-50.

Compares, in one process on the same weights, our exact global selection
(sampled bracket + kthvalue inside it) with ``torch.nn.utils.prune.global_unstructured``
and with one full ``torch.kthvalue`` over all weights. Prints medians and ratios and
checks that all three drop exactly the same number of weights.

Run: ``.venv/bin/python -m benchmarks.global_masks_resnet50``
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable

import torch
import torchvision
from torch.nn.utils import prune as torch_prune

from pruning_core.allocation.rules import global_ranking
from pruning_core.models.layers import prunable_layers
from pruning_core.recipe import Structure
from pruning_core.structures.grouping import grouping, structured_mask

SPARSITY = 0.9


def ours(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Our path: scores, global allocation, per-layer masks."""
    unstructured = Structure(kind="unstructured")
    layers = prunable_layers(model)
    scores = {layer.name: layer.weight.detach().abs().reshape(layer.shape_2d) for layer in layers}
    groups = {name: grouping(unstructured, s, tuple(s.shape)) for name, s in scores.items()}
    allocation = global_ranking(groups, SPARSITY)
    return {
        name: structured_mask(
            unstructured, s, tuple(s.shape), allocation.groups_to_drop[name], allocation.threshold
        )
        for name, s in scores.items()
    }


def one_kthvalue(model: torch.nn.Module) -> float:
    """The issue's reference: one kthvalue threshold over all weights."""
    flat = torch.cat([layer.weight.detach().abs().reshape(-1) for layer in prunable_layers(model)])
    return float(flat.kthvalue(round(SPARSITY * flat.numel())).values)


def torch_global(model: torch.nn.Module) -> int:
    """``torch.nn.utils.prune.global_unstructured`` on a copy; returns weights dropped."""
    clone = copy.deepcopy(model)
    params = [(layer.module, "weight") for layer in prunable_layers(clone)]
    torch_prune.global_unstructured(
        params, pruning_method=torch_prune.L1Unstructured, amount=SPARSITY
    )
    return sum(int((module.weight_mask == 0).sum()) for module, _ in params)


def timed(action: Callable[[], object], repeats: int) -> list[float]:
    action()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    torch.manual_seed(0)
    model = torchvision.models.resnet50().eval()
    total = sum(layer.weight.numel() for layer in prunable_layers(model))
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"ResNet-50 prunable weights: {total / 1e6:.1f}M, sparsity {SPARSITY}"
    )
    dropped = sum(int((~mask).sum()) for mask in ours(model).values())
    assert dropped == round(SPARSITY * total), (dropped, total)
    assert torch_global(model) == dropped
    ours_s = timed(lambda: ours(model), 7)
    kth_s = timed(lambda: one_kthvalue(model), 5)
    torch_s = timed(lambda: torch_global(model), 2)
    for name, times in (
        ("pruning_core global masks", ours_s),
        ("one torch.kthvalue threshold", kth_s),
        ("torch prune.global_unstructured", torch_s),
    ):
        print(
            f"{name:<34} median {statistics.median(times):.3f} s  (min {min(times):.3f}, max {max(times):.3f})"
        )
    print(
        f"speedup vs global_unstructured: {statistics.median(torch_s) / statistics.median(ours_s):.1f}x; "
        f"vs one kthvalue: {statistics.median(kth_s) / statistics.median(ours_s):.2f}x; "
        f"all three drop exactly {dropped} weights"
    )


if __name__ == "__main__":
    main()
