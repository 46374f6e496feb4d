"""Facts about the machine a number was computed on: CPU, SIMD flags, load, versions, date.

Every run record and every benchmark row carries these, so a figure can always be traced
to where and when it was measured.
"""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch

SIMD_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8", "amx_bf16")


def _cpuinfo_field(name: str) -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(name):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or what ``platform`` knows."""
    return _cpuinfo_field("model name") or platform.processor() or platform.machine()


def cpu_flags() -> list[str]:
    """The SIMD features that decide which int8/bf16 kernels are fast (``/proc/cpuinfo``)."""
    present = set((_cpuinfo_field("flags") or "").split())
    return [flag for flag in SIMD_FLAGS if flag in present]


def load_average() -> float | None:
    """The 1-minute load average (``None`` where the OS does not report one)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def machine_metadata() -> dict[str, Any]:
    """Device, CPU model, cores, SIMD flags and kernel level, load, torch version, threads
    and the date, for every row."""
    return {
        "device": f"cpu: {cpu_model()}",
        "cpu_model": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "cpu_flags": " ".join(cpu_flags()),
        # the SIMD level torch's own kernels use (AVX2, AVX512, ...; ATEN_CPU_CAPABILITY
        # can lower it): results and speed depend on it, not only on the CPU
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "load_average_1min": load_average(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "mkl": torch.backends.mkl.is_available(),
        "onednn": torch.backends.mkldnn.is_available(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "kind": "measured",
    }


def _engine_version() -> str:
    try:
        return version("pruning-core")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def environment(seed: int) -> dict[str, Any]:
    """Where and with what a run was computed."""
    return {
        "pruning_core": _engine_version(),
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_flags": " ".join(cpu_flags()),
        "load_average_1min": load_average(),
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "seed": seed,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
