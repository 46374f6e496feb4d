"""CPU benchmark (not a timed test): SparseGPT and Wanda on one 4096 x 4096 float32 layer.

Each measurement runs in a fresh process: the weight ``(4096, 4096)`` and 2048 calibration
inputs ``(2048, 4096)`` are created, a small warm-up call initialises the math
libraries, then the timed call runs three times; each time the process's peak-RSS mark
is reset first (``/proc/self/clear_refs``). Reported: median and best wall-clock seconds,
and the median CPU seconds of the process (on a shared machine they tell the work apart
from the waiting). *Peak extra memory* is the peak RSS during a call minus the RSS just
before it: everything the call allocates (H, its factor, the working copy of the weight,
the result). torch allocations are invisible to ``tracemalloc``, hence RSS.

Targets (issue 5): SparseGPT <= 10 s, Wanda <= 1 s, peak extra memory <= 3 x the layer's
size + H (= 4 x 64 MiB = 256 MiB).

Run: ``.venv/bin/python -m benchmarks.sparsegpt_cpu`` (writes
``benchmarks/results/sparsegpt_cpu.json`` and prints a table).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

OUT = Path(__file__).parent / "results"
ROWS, COLUMNS, SAMPLES = 4096, 4096, 2048
MIB = 2**20
CASES = ["sparsegpt 50%", "sparsegpt 2:4", "wanda 50%", "wanda 2:4"]
REPEATS = 3  # the machine is shared: report the median and the best of three


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _child(case: str) -> dict[str, Any]:
    import torch

    from pruning_core.criteria.sparsegpt import sparsegpt_prune
    from pruning_core.criteria.wanda import wanda_prune

    method, _, pattern = case.partition(" ")
    prune = sparsegpt_prune if method == "sparsegpt" else wanda_prune
    nm = (2, 4) if pattern == "2:4" else None
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(ROWS, COLUMNS, generator=generator)
    inputs = torch.randn(SAMPLES, COLUMNS, generator=generator)
    prune(weight[:256, :256].clone(), inputs[:, :256].clone(), 0.5, nm=nm)  # warm-up
    seconds, cpu_seconds, peaks = [], [], []
    for _ in range(REPEATS):
        before_kib = _status_kib("VmRSS")
        exact_peak = _reset_peak()
        start, start_cpu = time.perf_counter(), time.process_time()
        result = prune(weight, inputs, 0.5, nm=nm)
        seconds.append(time.perf_counter() - start)
        cpu_seconds.append(time.process_time() - start_cpu)
        peaks.append((_status_kib("VmHWM") - before_kib) / 1024)
        assert result.shape == weight.shape and result.dtype == weight.dtype
        sparsity = float((result == 0).float().mean())
        del result
    return {
        "case": case,
        "seconds_median": statistics.median(seconds),
        "seconds_min": min(seconds),
        "seconds_all": seconds,
        "cpu_seconds_median": statistics.median(cpu_seconds),
        "peak_extra_mib": max(peaks),
        "peak_measured_exactly": exact_peak,
        "sparsity": sparsity,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }


def main() -> None:
    """Run every case in its own process and write/print the results."""
    layer_mib = ROWS * COLUMNS * 4 / MIB
    hessian_mib = COLUMNS * COLUMNS * 4 / MIB
    budget = 3 * layer_mib + hessian_mib
    rows = []
    for case in CASES:
        load = os.getloadavg()[0]
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.sparsegpt_cpu", "--child", case],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent.parent,
        )
        row = json.loads(done.stdout.strip().splitlines()[-1])
        row["load_average_1min_before"] = load
        rows.append(row)
    info = {
        "layer": f"{ROWS}x{COLUMNS} float32, {SAMPLES} calibration samples",
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "memory_budget_mib": budget,
        "targets": {"sparsegpt_s": 10.0, "wanda_s": 1.0},
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "rows": rows,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "sparsegpt_cpu.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    print(f"{info['layer']}; {info['cpu_count']} CPUs; memory budget {budget:.0f} MiB")
    print(
        f"{'case':<15} {'median s':>9} {'best s':>7} {'CPU s':>6} {'peak extra MiB':>15} "
        f"{'sparsity':>9} {'load':>5}"
    )
    for row in rows:
        print(
            f"{row['case']:<15} {row['seconds_median']:>9.2f} {row['seconds_min']:>7.2f} "
            f"{row['cpu_seconds_median']:>6.2f} {row['peak_extra_mib']:>15.0f} "
            f"{row['sparsity']:>9.3f} {row['load_average_1min_before']:>5.1f}"
        )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(_child(sys.argv[2])))
    else:
        main()
