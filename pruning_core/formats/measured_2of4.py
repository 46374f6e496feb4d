"""Stored GPU 2:4 results: load them, and pick the layers that measured faster than dense.

"Measured 2:4" mode converts a Linear to 2:4 only when a row of
``benchmarks/results/gpu/*.json`` (written by ``benchmarks/gpu_2of4.py`` on a lent GPU)
shows its exact ``(out, in)`` shape, dtype and (nearest measured) token count faster as
2:4 than dense on that device, with the faster backend. Every other layer stays dense, so
the model is not slower than dense on the measured shapes. Without results the plan is
empty and says so. Importable with torch alone.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GPU_RESULTS_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "gpu"
NO_RESULTS = "no GPU measurement yet"


def load_gpu_results(directory: str | Path | None = None) -> list[dict[str, Any]]:
    """Measured rows from ``*.json`` files in ``directory`` (default: the repository's).

    Each returned row has ``device`` (the GPU name) and ``date``; rows that are not
    measurements (``kind`` other than ``measured``) or lack either are dropped. An empty
    list means no GPU measurement exists yet.
    """
    folder = Path(directory) if directory is not None else GPU_RESULTS_DIR
    rows: list[dict[str, Any]] = []
    for file in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            loaded = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        items = loaded.get("rows", []) if isinstance(loaded, dict) else loaded
        for row in items if isinstance(items, list) else []:
            if not isinstance(row, dict) or row.get("kind") != "measured":
                continue
            device = row.get("device") or row.get("gpu")
            if device and row.get("date"):
                rows.append({**row, "device": device, "source": file.name})
    return rows


@dataclass(frozen=True)
class LayerChoice:
    """Whether one layer is converted to 2:4, with which backend and on what evidence."""

    name: str
    shape: tuple[int, int]
    convert: bool
    backend: str | None = None
    speedup: float | None = None
    tokens_measured: int | None = None
    reason: str = ""


@dataclass
class Plan:
    """The layers to convert on one device, and why each other layer is left dense."""

    device: str | None
    date: str | None
    dtype: str
    tokens: int
    layers: list[LayerChoice] = field(default_factory=list)
    reason: str = ""

    @property
    def converted(self) -> dict[str, str]:
        """Layer name -> backend, for the layers to convert."""
        return {c.name: c.backend or "" for c in self.layers if c.convert}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (for run summaries and the dashboard)."""
        return {
            "device": self.device,
            "date": self.date,
            "dtype": self.dtype,
            "tokens": self.tokens,
            "converted": self.converted,
            "left_dense": {c.name: c.reason for c in self.layers if not c.convert},
            "reason": self.reason,
            "kind": "measured" if self.device else "no measurement",
        }


def _nearest_tokens(available: list[int], tokens: int) -> int:
    return min(available, key=lambda t: (abs(math.log(t) - math.log(max(tokens, 1))), t))


def plan_measured_2of4(
    layers: dict[str, tuple[int, int]],
    rows: list[dict[str, Any]],
    tokens: int,
    dtype: str = "fp16",
    device: str | None = None,
    min_speedup: float = 1.0,
) -> Plan:
    """Choose the layers whose shape measured faster as 2:4 than dense.

    Args:
        layers: Linear layer name -> ``(out_features, in_features)``.
        rows: measured rows (:func:`load_gpu_results`).
        tokens: tokens per forward pass (batch x sequence) the model will run at; the
            nearest measured token count (log scale) is used.
        dtype: ``fp16``, ``bf16`` or ``int8``.
        device: which GPU's rows to use (default: the most recently measured device).
        min_speedup: a layer converts only if its measured speedup is above this.
    """
    usable = [r for r in rows if r.get("status") == "ok" and r.get("dtype") == dtype]
    usable = [r for r in usable if isinstance(r.get("speedup"), int | float)]
    if device is None and usable:
        device = max(usable, key=lambda r: str(r["date"]))["device"]
    usable = [r for r in usable if r["device"] == device]
    plan = Plan(device, None, dtype, tokens)
    if not usable:
        plan.reason = NO_RESULTS if not rows else f"no {dtype} 2:4 rows for {device or 'any GPU'}"
        plan.layers = [LayerChoice(n, s, False, reason=plan.reason) for n, s in layers.items()]
        return plan
    plan.date = max(str(r["date"]) for r in usable)
    for name, shape in layers.items():
        same = [r for r in usable if (r.get("out_features"), r.get("in_features")) == shape]
        if not same:
            plan.layers.append(LayerChoice(name, shape, False, reason="shape not measured"))
            continue
        measured = _nearest_tokens(sorted({int(r["tokens"]) for r in same}), tokens)
        best = max((r for r in same if int(r["tokens"]) == measured), key=lambda r: r["speedup"])
        faster = best["speedup"] > min_speedup
        plan.layers.append(
            LayerChoice(
                name,
                shape,
                faster,
                best["backend"] if faster else None,
                float(best["speedup"]),
                measured,
                ""
                if faster
                else f"measured {best['speedup']:.2f}x (not faster) at {measured} tokens",
            )
        )
    return plan


def linear_shapes(model: Any) -> dict[str, tuple[int, int]]:
    """Name -> ``(out_features, in_features)`` of every ``nn.Linear`` in ``model``."""
    from torch import nn

    return {
        name: (int(module.out_features), int(module.in_features))
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear)
    }


def apply_plan(model: Any, plan: Plan) -> list[str]:
    """Convert the plan's layers of a CUDA, 2:4-pruned ``model`` in place; returns their names."""
    from pruning_core.formats.semi_structured import convert_linear

    for name, backend in plan.converted.items():
        convert_linear(model.get_submodule(name), backend)
    return list(plan.converted)
