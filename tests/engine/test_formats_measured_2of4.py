"""'Measured 2:4': choose layers from stored GPU rows. All rows here are TEST FIXTURES.

They are synthetic (device "TEST-FIXTURE-GPU"), made only to check the selection logic;
they are not measurements and are never written under benchmarks/results/.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from tiny_model import TinyModel
from torch import nn

from pruning_core.formats import measured_2of4
from pruning_core.formats.measured_2of4 import (
    NO_RESULTS,
    apply_plan,
    linear_shapes,
    load_gpu_results,
    plan_measured_2of4,
)
from pruning_core.formats.semi_structured import two_of_four_magnitude
from pruning_core.pipeline.run import prune

FIXTURE_DEVICE = "TEST-FIXTURE-GPU (synthetic, not a measurement)"


def _row(
    out_f: int, in_f: int, tokens: int, backend: str, speedup: float, **extra: Any
) -> dict[str, Any]:
    return {
        "shape": "fixture",
        "out_features": out_f,
        "in_features": in_f,
        "tokens": tokens,
        "dtype": "fp16",
        "backend": backend,
        "status": "ok",
        "kind": "measured",
        "speedup": speedup,
        "gpu": FIXTURE_DEVICE,
        "date": "2000-01-01T00:00:00+00:00",
        "test_fixture": True,
        **extra,
    }


FIXTURE_ROWS = [
    _row(3072, 768, 2048, "cusparselt", 1.3),
    _row(3072, 768, 2048, "cutlass", 1.1),
    _row(3072, 768, 16, "cusparselt", 0.6),
    _row(768, 3072, 2048, "cusparselt", 0.95),
    _row(768, 3072, 2048, "cutlass", 0.97),
    _row(768, 768, 2048, "cutlass", 1.05),
]


def _write(folder: Path, rows: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "gpu_2of4_shapes.json").write_text(json.dumps(rows))
    return folder


def test_no_results_means_an_empty_list_and_a_dense_plan(tmp_path: Path) -> None:
    assert load_gpu_results(tmp_path / "missing") == []
    assert load_gpu_results(_write(tmp_path / "empty", [])) == []
    plan = plan_measured_2of4({"fc": (3072, 768)}, [], tokens=2048)
    assert plan.converted == {} and plan.reason == NO_RESULTS and plan.device is None
    assert plan.as_dict()["kind"] == "no measurement"


def test_loader_keeps_measured_rows_with_device_and_date(tmp_path: Path) -> None:
    rows = FIXTURE_ROWS + [
        {**FIXTURE_ROWS[0], "kind": "theoretical"},
        {**FIXTURE_ROWS[0], "date": None},
    ]
    loaded = load_gpu_results(_write(tmp_path, rows))
    assert len(loaded) == len(FIXTURE_ROWS)
    assert all(
        r["device"] == FIXTURE_DEVICE and r["source"] == "gpu_2of4_shapes.json" for r in loaded
    )
    (tmp_path / "broken.json").write_text("{not json")
    assert len(load_gpu_results(tmp_path)) == len(FIXTURE_ROWS)


def test_only_layers_measured_faster_are_converted_with_the_faster_backend(tmp_path: Path) -> None:
    rows = load_gpu_results(_write(tmp_path, FIXTURE_ROWS))
    layers = {"fc1": (3072, 768), "fc2": (768, 3072), "attn": (768, 768), "head": (10, 768)}
    plan = plan_measured_2of4(layers, rows, tokens=4096)  # nearest measured: 2048
    assert plan.converted == {"fc1": "cusparselt", "attn": "cutlass"}
    reasons = plan.as_dict()["left_dense"]
    assert "0.97x" in reasons["fc2"] and reasons["head"] == "shape not measured"
    assert plan.device == FIXTURE_DEVICE and plan.date == "2000-01-01T00:00:00+00:00"
    small = plan_measured_2of4(layers, rows, tokens=8)  # nearest measured for fc1: 16
    assert "fc1" not in small.converted
    assert plan_measured_2of4(layers, rows, tokens=2048, dtype="int8").converted == {}


def test_the_most_recent_device_is_used_unless_one_is_named() -> None:
    other = [
        _row(
            3072,
            768,
            2048,
            "cutlass",
            0.8,
            gpu="OTHER-FIXTURE",
            device="OTHER-FIXTURE",
            date="2001-01-01T00:00:00+00:00",
        )
    ]
    rows = [{**r, "device": r["gpu"]} for r in FIXTURE_ROWS] + other
    assert plan_measured_2of4({"fc": (3072, 768)}, rows, 2048).converted == {}
    named = plan_measured_2of4({"fc": (3072, 768)}, rows, 2048, device=FIXTURE_DEVICE)
    assert named.converted == {"fc": "cusparselt"}


def test_linear_shapes_lists_every_linear() -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Sequential(nn.Linear(8, 2)))
    assert linear_shapes(model) == {"0": (8, 4), "2.0": (2, 8)}


@pytest.mark.gpu
def test_plan_converts_on_gpu() -> None:
    model = nn.Sequential(nn.Linear(768, 3072), nn.Linear(3072, 768)).cuda().half()
    with torch.no_grad():
        for layer in model:
            layer.weight.copy_(two_of_four_magnitude(layer.weight))
    plan = plan_measured_2of4(
        linear_shapes(model), [{**r, "device": r["gpu"]} for r in FIXTURE_ROWS], 2048
    )
    x = torch.randn(2048, 768, device="cuda", dtype=torch.float16)
    expected = model(x)
    assert apply_plan(model, plan) == ["0"]
    assert torch.allclose(model(x), expected, atol=1e-1, rtol=1e-2)


def test_two_of_four_runs_report_the_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_model: TinyModel
) -> None:
    recipe = tiny_model.parsed(structure="2:4")
    monkeypatch.setattr(measured_2of4, "GPU_RESULTS_DIR", tmp_path / "none")
    assert prune(recipe).summary["measured_2of4"]["reason"] == NO_RESULTS
    fixture = [_row(256, 256, 64, "cutlass", 1.2), _row(128, 256, 64, "cusparselt", 0.9)]
    monkeypatch.setattr(measured_2of4, "GPU_RESULTS_DIR", _write(tmp_path / "gpu", fixture))
    plan = prune(recipe).summary["measured_2of4"]
    assert plan["converted"] == {"net.3": "cutlass"} and plan["tokens"] == 64
    assert plan["device"] == FIXTURE_DEVICE and "0.90x" in plan["left_dense"]["net.5"]
