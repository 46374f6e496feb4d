"""Benchmark: the same 12-run sweep run locally (sequential) and through Ray (2 CPUs).

The sweep is the one the Ray tests run: digits_mlp, criteria magnitude/random x
sparsities 0.5/0.7/0.9 x seeds 0/1, calibration 128 samples, finetune batch 128; once
with 1 finetune epoch (the tests' budget: runs of a fraction of a second, so overhead
dominates) and once with 8 (runs of about a second of compute).

For each budget, in this one process:

- **local sequential**: ``run_sweep`` as ``pruning-core sweep`` runs it, after one untimed
  warm-up run (data loaded, kernels initialised), twice: with 1 torch thread (what each
  Ray task gets: the fair baseline for Ray's parallelism, ``local_sequential_s``) and
  with torch's default threads (here 2: what the command does today). On a busy
  machine the default is much slower for these tiny models (threads wait for each
  other), so that ratio measures threading, not Ray; the README quotes both.
- **Ray, 2 CPUs**: a fresh local Ray instance (``connect``: 127.0.0.1, no dashboard);
  ``ray.init`` timed; the sweep timed *cold* (each Ray worker imports torch and the
  engine on its first run) and again *warm* (same instance); ``ray.shutdown`` timed.
  End to end = init + cold sweep + shutdown: what ``--executor ray`` costs on top of the
  runs. Start-up overhead = init + (cold - warm) + shutdown. Each task runs with one
  thread (Ray's ``num_cpus=1``), two at a time.
- one run alone on the warm instance: its wall time minus the engine's own seconds is
  Ray's per-run overhead (submit, schedule, event stream, artifacts back).

The rows of local and Ray are compared metric by metric (max absolute difference; the
thread counts differ, so losses may differ in the last digits).

A *plan* (not a measurement) extrapolates the 5 criteria x 8 sparsities x 3 seeds
ResNet-50 sweep on an 8-GPU Ray cluster from the measured overheads and an *assumed*
per-run time (``--resnet50-run-min``).

Run: ``.venv/bin/python -m benchmarks.ray_sweep`` (writes
``benchmarks/results/ray_sweep.json`` and prints a table).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from pruning_core.environment import machine_metadata
from pruning_core.models.registry import load_env_plugins
from pruning_core.pipeline.run import prune
from pruning_core.pipeline.sweep import run_sweep, sweep_recipes
from pruning_core.recipe import Recipe, parse_recipe
from pruning_core.runs.ray_cluster import connect
from pruning_core.runs.ray_sweep import ray_sweep
from pruning_core.threads import fixed_threads

OUT = Path(__file__).parent / "results" / "ray_sweep.json"
CRITERIA, SPARSITIES, SEEDS = ["magnitude", "random"], [0.5, 0.7, 0.9], [0, 1]
CPUS = 2
METRICS = ("val_accuracy", "test_accuracy", "val_loss", "test_loss", "sparsity_pruned_layers")


def recipes(epochs: int) -> list[Recipe]:
    """The 12 runs of the tests' sweep with ``epochs`` of finetuning."""
    base = parse_recipe(
        {
            "model": "digits_mlp",
            "structure": "unstructured",
            "finetune": {"epochs": epochs, "batch_size": 128},
            "calibration": {"samples": 128},
        }
    )
    return sweep_recipes(base, CRITERIA, SPARSITIES, SEEDS)


def timed(action: Any) -> tuple[Any, float]:
    begin = time.perf_counter()
    value = action()
    return value, time.perf_counter() - begin


def differences(local: list[dict[str, Any]], ray: list[dict[str, Any]]) -> dict[str, float]:
    """Largest absolute difference of each metric over the rows (0.0: identical)."""
    return {
        metric: max(
            abs((a[metric] or 0.0) - (b[metric] or 0.0)) for a, b in zip(local, ray, strict=True)
        )
        for metric in METRICS
    }


def measure(epochs: int, single: bool) -> dict[str, Any]:
    runs = recipes(epochs)
    prune(runs[0])  # warm-up: data, kernels, plugins (untimed)
    default_threads = torch.get_num_threads()
    default_rows, default_s = timed(lambda: list(run_sweep(runs)))
    with fixed_threads(1):
        local_rows, local_s = timed(lambda: list(run_sweep(runs)))
    load_before_ray = os.getloadavg()[0]
    begin = time.perf_counter()
    with connect(None, num_cpus=CPUS) as cluster:
        init_s = cluster.started_s
        cold_rows, cold_s = timed(lambda: list(ray_sweep(cluster, runs)))
        warm_rows, warm_s = timed(lambda: list(ray_sweep(cluster, runs)))
        alone = None
        if single:
            alone_rows, alone_s = timed(lambda: list(ray_sweep(cluster, runs[:1])))
            alone = {
                "wall_s": alone_s,
                "engine_s": alone_rows[0]["seconds"],
                "overhead_s": alone_s - alone_rows[0]["seconds"],
            }
        closing = time.perf_counter()
    shutdown_s = time.perf_counter() - closing
    end_to_end_s = time.perf_counter() - begin - warm_s - (alone["wall_s"] if alone else 0.0)
    local_engine = [row["seconds"] for row in local_rows]
    ray_engine = [row["seconds"] for row in warm_rows]
    return {
        "epochs": epochs,
        "runs": len(runs),
        "local_default_threads": default_threads,
        "local_sequential_default_threads_s": default_s,
        "local_engine_per_run_s_median_default_threads": statistics.median(
            row["seconds"] for row in default_rows
        ),
        "local_sequential_s": local_s,
        "local_wall_per_run_s": local_s / len(runs),
        "local_engine_per_run_s_median": statistics.median(local_engine),
        "ray_init_s": init_s,
        "ray_cold_sweep_s": cold_s,
        "ray_warm_sweep_s": warm_s,
        "ray_shutdown_s": shutdown_s,
        "ray_end_to_end_s": end_to_end_s,
        "ray_startup_overhead_s": init_s + (cold_s - warm_s) + shutdown_s,
        "ray_wall_per_run_s_warm": warm_s / len(runs),
        "ray_engine_per_run_s_median": statistics.median(ray_engine),
        "ray_single_run": alone,
        "speedup_end_to_end": local_s / end_to_end_s,
        "speedup_warm": local_s / warm_s,
        "speedup_end_to_end_vs_default_threads": default_s / end_to_end_s,
        "max_abs_difference_local_vs_ray": differences(local_rows, cold_rows),
        "ray_cold_equals_warm": differences(cold_rows, warm_rows),
        "load_average_1min_before_ray": load_before_ray,
    }


def plan(first: dict[str, Any], run_min: float, gpus: int) -> dict[str, Any]:
    """The 5 x 8 x 3 ResNet-50 sweep on ``gpus`` GPUs: arithmetic, not a measurement."""
    runs = 5 * 8 * 3
    per_run_s = run_min * 60 + first["ray_single_run"]["overhead_s"]
    waves = math.ceil(runs / gpus)
    wall_s = first["ray_startup_overhead_s"] + waves * per_run_s
    sequential_s = runs * run_min * 60
    return {
        "label": "PLAN, not a measurement",
        "runs": runs,
        "gpus": gpus,
        "assumed_run_min": run_min,
        "assumption": (
            "one ResNet-50 run = prune + 1 finetune epoch on ImageNet-1k (1.28M images) + "
            "evaluation on one GPU; the time is an input, not measured here"
        ),
        "measured_inputs": {
            "ray_startup_overhead_s": first["ray_startup_overhead_s"],
            "ray_per_run_overhead_s": first["ray_single_run"]["overhead_s"],
        },
        "waves": waves,
        "wall_h": wall_s / 3600,
        "one_gpu_sequential_h": sequential_s / 3600,
        "speedup": sequential_s / wall_s,
        "ray_overhead_share": (wall_s - waves * run_min * 60) / wall_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", default="1,8", help="finetune budgets, comma-separated")
    parser.add_argument("--resnet50-run-min", type=float, default=10.0)
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    load_env_plugins()
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    workloads = [
        measure(int(e), single=index == 0) for index, e in enumerate(args.epochs.split(","))
    ]
    document = {
        "benchmark": "benchmarks/ray_sweep.py",
        "started": started,
        "machine": machine_metadata(),
        "ray_cpus": CPUS,
        "sweep": {
            "model": "digits_mlp",
            "criteria": CRITERIA,
            "sparsities": SPARSITIES,
            "seeds": SEEDS,
            "calibration_samples": 128,
            "batch_size": 128,
        },
        "workloads": workloads,
        "plan_resnet50": plan(workloads[0], args.resnet50_run_min, args.gpus),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    for row in workloads:
        print(
            f"epochs {row['epochs']}: local {row['local_sequential_s']:.1f} s (1 thread; "
            f"{row['local_sequential_default_threads_s']:.1f} s with default threads), Ray end to end "
            f"{row['ray_end_to_end_s']:.1f} s ({row['speedup_end_to_end']:.2f}x), Ray warm "
            f"{row['ray_warm_sweep_s']:.1f} s ({row['speedup_warm']:.2f}x), start-up overhead "
            f"{row['ray_startup_overhead_s']:.1f} s (init {row['ray_init_s']:.1f} s)"
        )
    print(json.dumps(document["plan_resnet50"], indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
