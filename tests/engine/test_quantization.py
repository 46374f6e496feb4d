"""fp16 / bf16 / int8 after pruning: zeros stay zero, sizes and accuracy are reported."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from tiny_model import TinyModel
from torch import nn

pytest.importorskip("torchao")

from pruning_core.compression.quantization import convert_precision, int8_per_channel  # noqa: E402
from pruning_core.pipeline.artifacts import save_run  # noqa: E402


def _pruned_model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 64, 32),
        nn.ReLU(),
        nn.Linear(32, 10),
    )
    with torch.no_grad():
        for module in (model[0], model[3], model[5]):
            module.weight.mul_(torch.rand_like(module.weight) > 0.5)
    return model.eval()


def test_int8_per_channel_is_symmetric_and_keeps_zeros() -> None:
    weight = torch.tensor([[0.0, 1.0, -2.0, 0.5], [0.0, 0.0, 0.0, 0.0], [3.0, 0.0, 0.01, -3.0]])
    q, scale = int8_per_channel(weight)
    assert q.dtype == torch.int8 and scale.shape == (3, 1)
    assert torch.equal(q[:, 0] == 0, weight[:, 0] == 0) and (q[1] == 0).all()
    assert q[0, 2] == -127 and q[2, 0] == 127
    assert ((q.float() * scale - weight).abs() <= scale / 2 + 1e-7).all()


def test_int8_conversion_keeps_pruned_zeros_and_runs_torchao() -> None:
    model = _pruned_model()
    zero_masks = [m.weight == 0 for m in (model[0], model[3], model[5])]
    reference = copy.deepcopy(model)
    converted = convert_precision(model, "int8")
    stored = converted.stored
    for module, zeros in zip((stored[0], stored[3], stored[5]), zero_masks, strict=True):
        assert type(module.weight) is nn.Parameter and module.weight.dtype == torch.float32
        assert (module.weight[zeros] == 0).all()
        assert int(torch.unique(module.weight).numel()) <= 256 * module.weight.shape[0]
    for index, zeros in ((3, zero_masks[1]), (5, zero_masks[2])):
        qdata = converted.runnable[index].weight.qdata
        assert (qdata[zeros] == 0).all()
        dequantized = converted.runnable[index].weight.dequantize()
        assert torch.equal(dequantized, stored[index].weight)
    zeros_after = sum(int((stored[i].weight == 0).sum()) for i in (0, 3, 5))
    assert converted.new_zeros == zeros_after - sum(int(zeros.sum()) for zeros in zero_masks)
    assert "torchao" in converted.path
    x = torch.randn(16, 1, 8, 8)
    with torch.no_grad():
        expected, got = reference(x), converted.runnable(x)
    assert (got - expected).abs().max() < 0.05 * expected.abs().max()


@pytest.mark.parametrize("precision, dtype", [("fp16", torch.float16), ("bf16", torch.bfloat16)])
def test_float_conversions_keep_zeros(precision: str, dtype: torch.dtype) -> None:
    model = _pruned_model()
    zeros = model[3].weight == 0
    converted = convert_precision(model, precision)
    assert converted.stored is converted.runnable
    assert converted.stored[3].weight.dtype == dtype
    assert (converted.stored[3].weight[zeros] == 0).all()


def test_engine_int8_run_reports_accuracy_size_and_saves(
    tmp_path: Path, tiny_model: TinyModel
) -> None:
    fp32 = tiny_model.run()
    int8 = tiny_model.run(precision="int8")
    summary = int8.summary
    assert summary["precision"] == "int8" and "torchao" in summary["precision_path"]
    weights = sum(tiny_model.numel(layer) for layer in tiny_model.layers)  # one byte each
    rows = sum(out_features for out_features, _ in tiny_model.shapes.values())
    scales = biases = rows * 4  # an fp32 scale and bias per output row
    assert summary["size_bytes"] == weights + scales + biases
    assert summary["size_bytes_by_format"]["dense"]["int8"] == summary["size_bytes"]
    assert abs(summary["test_accuracy"] - fp32.summary["test_accuracy"]) < 0.03
    assert summary["sparsity_pruned_layers"] >= fp32.summary["sparsity_pruned_layers"]
    save_run(int8, tmp_path)
    assert (tmp_path / "model.safetensors").stat().st_size > 0
