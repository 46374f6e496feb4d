"""The benchmark harness: statistics, interleaving, rows and files, CLI (no timing asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
from cli_support import Cli
from torch import nn

from pruning_core.bench.layers import crossover_points, gemm_actions, gemm_shapes
from pruning_core.formats.modules import SparseLinear, sparsify_linears
from pruning_core.latency import (
    machine_metadata,
    measured_rows,
    summarize,
    time_interleaved,
    write_rows,
)
from pruning_core.models.registry import MODELS, build_model
from pruning_core.threads import fixed_threads


def test_summary_statistics_are_exact() -> None:
    stats = summarize([5.0, 1.0, 4.0, 2.0, 3.0])
    assert stats == {"median_ms": 3.0, "p25_ms": 2.0, "p75_ms": 4.0, "iqr_ms": 2.0, "min_ms": 1.0}


def test_interleaved_timing_takes_turns_and_needs_30_repetitions() -> None:
    order: list[str] = []
    times = time_interleaved(
        {"a": lambda: order.append("a"), "b": lambda: order.append("b")}, 30, 2
    )
    assert order[:4] == ["a", "a", "b", "b"]  # warm-up of each, then turns
    assert order[4:] == ["a", "b"] * 30
    assert [len(v) for v in times.values()] == [30, 30]
    with pytest.raises(ValueError, match=">= 30"):
        time_interleaved({"a": lambda: None}, repeats=10)


def test_rows_carry_speedup_against_the_baseline() -> None:
    rows = measured_rows({"dense": [2.0] * 3, "csr": [1.0] * 3}, "dense", {"kind": "measured"})
    by_variant = {row["variant"]: row for row in rows}
    assert by_variant["csr"]["speedup"] == 2.0 and by_variant["dense"]["speedup"] == 1.0
    assert by_variant["csr"]["baseline_ms"] == 2.0 and by_variant["csr"]["repetitions"] == 3


def test_metadata_and_threads() -> None:
    with fixed_threads(1) as threads:
        meta = machine_metadata()
        assert threads == 1 and meta["threads"] == 1
    assert meta["kind"] == "measured" and meta["torch"] == torch.__version__
    assert meta["device"].startswith("cpu") and meta["date"] and meta["cpu_model"]


def test_rows_are_written_as_json_and_csv(tmp_path: Path) -> None:
    rows = [{"variant": "a", "speedup": 1.0, "shape": [2, 3]}, {"variant": "b", "extra": "x"}]
    json_path, csv_path = write_rows(rows, tmp_path / "out", "rows")
    assert json.loads(json_path.read_text()) == rows
    table = pd.read_csv(csv_path)
    assert list(table.columns) == ["variant", "speedup", "shape", "extra"]
    assert table["shape"][0] == "[2, 3]"


def test_crossover_is_the_lowest_sparsity_from_which_a_format_stays_faster() -> None:
    speedups = {0.5: 0.3, 0.7: 1.2, 0.8: 0.9, 0.9: 1.5, 0.99: 8.0}
    rows = [{"variant": "csr", "sparsity": s, "speedup": v} for s, v in speedups.items()]
    rows += [{"variant": "bsr", "sparsity": s, "speedup": 2.0} for s in speedups]
    rows += [{"variant": "never", "sparsity": s, "speedup": 0.5} for s in speedups]
    points = crossover_points(rows)
    assert points["csr"] == {"crossover": 0.9, "below": 0.8}
    assert points["bsr"] == {"crossover": 0.5, "below": None}
    assert points["never"] == {"crossover": None, "below": 0.99}


def test_gemm_shapes_use_output_positions_as_columns() -> None:
    spec = MODELS.get("digits_cnn")
    shapes = gemm_shapes(build_model(spec), spec.input_shape)
    assert shapes["features.0"] == (32, 9, 64)
    assert shapes["features.7"] == (64, 576, 16)
    assert shapes["classifier.1"] == (128, 256, 1)


def test_every_gemm_variant_computes_the_same_product() -> None:
    torch.manual_seed(0)
    weight = torch.randn(32, 64) * (torch.rand(32, 64) > 0.7)
    actions = gemm_actions(weight, 8, (4, 4), int8=False)
    assert set(actions) == {"dense fp32", "dense bf16", "dense fp16", "csr fp32", "bsr 4x4 fp32"}
    reference = actions["dense fp32"]()
    assert torch.allclose(actions["csr fp32"]().to_dense(), reference, atol=1e-5)  # type: ignore[attr-defined]
    assert torch.allclose(actions["bsr 4x4 fp32"]().to_dense(), reference, atol=1e-5)  # type: ignore[attr-defined]


def test_sparse_linears_match_dense() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 6))
    x = torch.randn(3, 5, 16)
    expected = model(x)
    assert sparsify_linears(model, "bsr", (4, 4)) == ["0"]  # 6 rows: not divisible by 4
    assert isinstance(model[0], SparseLinear)
    assert sparsify_linears(model, "csr") == ["2"]
    assert torch.allclose(model(x), expected, atol=1e-5)


@pytest.mark.slow  # a real benchmark: 30 timed repetitions of every variant
def test_bench_command_writes_measured_rows(tmp_path: Path, cli: Cli) -> None:
    result = cli.invoke(
        "bench", "--model", "digits_mlp", "--no-int8", "--no-layers", "--warmup", "1",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "cpu_bench_digits_mlp_unstructured_b64.json").read_text())
    variants = {row["variant"] for row in rows}
    assert {"original fp32", "pruned fp32", "pruned csr Linears fp32"} <= variants
    for row in rows:
        assert row["kind"] == "measured" and row["repetitions"] == 30 and row["threads"] == 2
        assert row["model"] == "digits_mlp" and row["device"].startswith("cpu") and row["date"]
        assert 0 < row["test_accuracy"] <= 1 and row["size_bytes"] > 0
    assert "measured" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--crossover", "4096x64"], "crossover: '4096x64' is not OUTxINxCOLUMNS"),
        (["--repeats", "5"], "greater than or equal to 30"),
    ],
)
def test_bench_command_refuses_bad_options(cli: Cli, args: list[str], message: str) -> None:
    result = cli.invoke("bench", "--model", "digits_mlp", *args)
    assert result.exit_code == 2 and message in result.output
