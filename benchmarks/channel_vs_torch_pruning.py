"""Benchmark: the engine's channel-pruned ResNet-18 against Torch-Pruning's of the same shape.

In ONE process, at 1 intra-op thread: the engine's ``structure: channel, sparsity: 0.5``
run of resnet18 (magnitude, no finetuning; ``conv1`` and ``fc`` skipped by default, so
``conv1``'s coupled group stays dense) and Torch-Pruning's ``MagnitudePruner`` at ratio 0.5
with the same layers ignored. Before timing, the script asserts that both models have
identical parameter and buffer shapes and records what could make one slower than the
other: parametrizations, forward hooks, non-contiguous or differently strided tensors,
memory format, dtypes, training mode.

Timing: at batch 1, 64 and 256, the two forward passes alternate (engine first on even
repetitions, Torch-Pruning first on odd ones) under ``torch.inference_mode``, after
warm-up; each pair gives one ratio ``torch_pruning_ms / engine_ms`` (>= 1: the engine is
not slower). Reported: the median of the pair ratios, the ratio of the medians and of
the minima. Batch 256 takes seconds per call at 1 thread, so the large batches use fewer
repetitions than :data:`pruning_core.latency.MIN_REPEATS` (the counts are in the
rows). Target: >= 0.97 at every batch.

Writes ``benchmarks/results/channel_vs_torch_pruning.{json,csv,md}`` with the machine's
metadata. Run: ``.venv/bin/python -m benchmarks.channel_vs_torch_pruning``
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
import torch_pruning as tp
from torch import nn
from torch.nn.utils import parametrize

from benchmarks.cpu_common import OUT, markdown, save
from pruning_core.latency import machine_metadata, summarize
from pruning_core.models.registry import MODELS, build_model
from pruning_core.pipeline.run import prune
from pruning_core.recipe import parse_recipe
from pruning_core.threads import fixed_threads

THREADS = 1
REPEATS = {1: 30, 64: 10, 256: 6}  # pairs per batch: a few minutes on a 2-core machine
WARMUP = {1: 5, 64: 1, 256: 1}
TARGET = 0.97


def engine_model() -> tuple[nn.Module, list[str]]:
    """The engine's 50% channel-pruned resnet18 and the layers its run left dense."""
    result = prune(
        parse_recipe(
            {
                "model": "resnet18",
                "structure": "channel",
                "sparsity": 0.5,
                "finetune": {"epochs": 0},
            }
        )
    )
    return result.model.eval(), result.recipe.skip_layers or []


def torch_pruning_model(ignored: list[str]) -> nn.Module:
    """Torch-Pruning's MagnitudePruner (L1) at ratio 0.5, the same layers ignored."""
    model = build_model(MODELS.get("resnet18"))
    pruner = tp.pruner.MagnitudePruner(
        model,
        torch.randn(1, 3, 224, 224),
        importance=tp.importance.MagnitudeImportance(p=1),
        pruning_ratio=0.5,
        ignored_layers=[model.get_submodule(name) for name in ignored],
    )
    pruner.step()
    return model.eval()


def tensor_facts(model: nn.Module) -> dict[str, tuple[Any, ...]]:
    return {
        name: (
            tuple(t.shape),
            t.stride(),
            t.dtype,
            t.is_contiguous(),
            t.is_contiguous(memory_format=torch.channels_last) and t.dim() == 4,
        )
        for name, t in model.state_dict().items()
    }


def structure_report(engine: nn.Module, reference: nn.Module) -> dict[str, Any]:
    """Everything besides shapes that could make one model slower; asserts equal shapes."""
    ours, theirs = tensor_facts(engine), tensor_facts(reference)
    shapes = {name: facts[0] for name, facts in ours.items()}
    assert shapes == {name: facts[0] for name, facts in theirs.items()}, "shapes differ"

    def hooks(model: nn.Module) -> int:
        return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())

    return {
        "shapes_identical": True,
        "channels": [
            shapes[f"{n}.weight"][0] for n in ("conv1", "layer1.0.conv1", "layer2.0.conv2")
        ],
        "params": sum(p.numel() for p in engine.parameters()),
        "strides_identical": ours == theirs,
        "engine_parametrized_modules": sum(
            parametrize.is_parametrized(m) for m in engine.modules()
        ),
        "engine_hooks": hooks(engine),
        "engine_non_contiguous": [name for name, facts in ours.items() if not facts[3]],
        "engine_training_modules": sum(m.training for m in engine.modules()),
        "engine_dtypes": sorted({str(facts[2]) for facts in ours.values()}),
        "module_types_identical": [type(m) for m in engine.modules()]
        == [type(m) for m in reference.modules()],
    }


def alternating(
    first: Callable[[], object], second: Callable[[], object], repeats: int, warmup: int
) -> tuple[list[float], list[float]]:
    """Milliseconds of each action, timed in pairs whose order alternates."""
    a_ms: list[float] = []
    b_ms: list[float] = []
    with torch.inference_mode():
        for _ in range(warmup):
            first()
            second()
        for index in range(repeats):
            order = [(first, a_ms), (second, b_ms)]
            for action, sink in order if index % 2 == 0 else order[::-1]:
                start = time.perf_counter()
                action()
                sink.append((time.perf_counter() - start) * 1000.0)
    return a_ms, b_ms


def main() -> None:
    rows = []
    with fixed_threads(THREADS):
        engine, ignored = engine_model()
        reference = torch_pruning_model(ignored)
        report = structure_report(engine, reference)
        print(report, flush=True)
        for batch, repeats in REPEATS.items():
            x = torch.randn(batch, 3, 224, 224, generator=torch.Generator().manual_seed(batch))
            ours_ms, theirs_ms = alternating(
                partial(engine, x), partial(reference, x), repeats, WARMUP[batch]
            )
            ours, theirs = summarize(ours_ms), summarize(theirs_ms)
            pair_ratios = [t / o for o, t in zip(ours_ms, theirs_ms, strict=True)]
            row = {
                **machine_metadata(),
                "model": "resnet18",
                "batch": batch,
                "repetitions": repeats,
                "ignored_layers": ignored,
                **report,
                "engine_median_ms": ours["median_ms"],
                "engine_min_ms": ours["min_ms"],
                "torch_pruning_median_ms": theirs["median_ms"],
                "torch_pruning_min_ms": theirs["min_ms"],
                "ratio_median_of_pairs": statistics.median(pair_ratios),
                "ratio_of_medians": theirs["median_ms"] / ours["median_ms"],
                "ratio_of_minima": theirs["min_ms"] / ours["min_ms"],
                "target": TARGET,
            }
            row["meets_target"] = row["ratio_median_of_pairs"] >= TARGET
            rows.append(row)
            print(
                f"batch {batch:>3}: engine {ours['median_ms']:.1f} ms, Torch-Pruning "
                f"{theirs['median_ms']:.1f} ms; speed ratio (TP/engine) pairs "
                f"{row['ratio_median_of_pairs']:.3f}, medians {row['ratio_of_medians']:.3f}, "
                f"minima {row['ratio_of_minima']:.3f}",
                flush=True,
            )
    meta = rows[0]
    table = (
        f"{meta['device']}, {THREADS} thread, torch {meta['torch']}, torch-pruning "
        f"{tp.__version__}, {meta['date']}, load {meta['load_average_1min']}\n\n"
        f"Same shapes: {report['shapes_identical']}; identical strides/dtypes: "
        f"{report['strides_identical']}; engine parametrizations "
        f"{report['engine_parametrized_modules']}, hooks {report['engine_hooks']}, "
        f"non-contiguous tensors {len(report['engine_non_contiguous'])}\n\n"
        + markdown(
            rows,
            [
                "batch",
                "repetitions",
                "engine_median_ms",
                "torch_pruning_median_ms",
                "ratio_median_of_pairs",
                "ratio_of_medians",
                "ratio_of_minima",
                "meets_target",
                "load_average_1min",
            ],
        )
    )
    save(rows, "channel_vs_torch_pruning", table, OUT)


if __name__ == "__main__":
    main()
