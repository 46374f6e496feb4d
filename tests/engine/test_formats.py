"""Exact byte counts of every format against the tensors torch's own conversions produce."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from pruning_core.compression.weight_sharing import encode, pack_codes, share_weights
from pruning_core.formats import FORMATS, FormatOptions, layer_layouts, model_sizes
from pruning_core.formats.builtin import is_two_of_four, nonzero_blocks
from pruning_core.formats.semi_structured import compressed_bytes, two_of_four_magnitude
from pruning_core.models.metrics import dense_bytes


def _sparse(shape: tuple[int, ...], density: float, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(shape, generator=generator)
    return weight * (torch.rand(shape, generator=generator) < density)


def _block_sparse(rows: int, cols: int, block: tuple[int, int], density: float) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    bh, bw = block
    keep = torch.rand(rows // bh, 1, cols // bw, 1, generator=generator) < density
    keep = keep.expand(-1, bh, -1, bw).reshape(rows, cols)
    return torch.randn(rows, cols, generator=generator) * keep


def _layout(name: str, weight: torch.Tensor, options: FormatOptions | None = None):  # type: ignore[no-untyped-def]
    layout = FORMATS.get(name).layout(weight, options or FormatOptions())
    assert layout is not None
    return layout


@pytest.mark.parametrize(
    "dtype, precision", [(torch.float32, "fp32"), (torch.float16, "fp16"), (torch.bfloat16, "bf16")]
)
def test_csr_and_csc_match_torch_conversions(dtype: torch.dtype, precision: str) -> None:
    weight = _sparse((48, 80), 0.3).to(dtype)
    csr, csc = weight.to_sparse_csr(), weight.to_sparse_csc()
    counted = _layout("csr", weight).priced(precision)
    assert counted.values == csr.values().nbytes
    assert counted.indices == csr.crow_indices().nbytes + csr.col_indices().nbytes
    counted = _layout("csc", weight).priced(precision)
    assert counted.values == csc.values().nbytes
    assert counted.indices == csc.ccol_indices().nbytes + csc.row_indices().nbytes
    assert counted.metadata == counted.scales == 0


def test_int32_indices() -> None:
    weight = _sparse((30, 50), 0.2)
    csr = weight.to_sparse_csr()
    small = torch.sparse_csr_tensor(
        csr.crow_indices().int(), csr.col_indices().int(), csr.values(), weight.shape
    )
    counted = _layout("csr", weight, FormatOptions(index_bytes=4)).priced("fp32")
    assert counted.indices == small.crow_indices().nbytes + small.col_indices().nbytes
    assert torch.equal(small.to_dense(), weight)


@pytest.mark.parametrize("block", [(4, 4), (16, 16), (2, 8)])
def test_bsr_matches_torch_to_sparse_bsr(block: tuple[int, int]) -> None:
    weight = _block_sparse(64, 128, block, 0.4)
    weight[0, 0] = 1.5  # a block with a single nonzero is stored whole
    bsr = weight.to_sparse_bsr(block)
    counted = _layout("bsr", weight, FormatOptions(block=block)).priced("fp32")
    assert counted.values == bsr.values().nbytes
    assert counted.indices == bsr.crow_indices().nbytes + bsr.col_indices().nbytes
    assert nonzero_blocks(weight, block) == bsr.values().shape[0]


def test_bsr_needs_a_dividing_block() -> None:
    assert FORMATS.get("bsr").layout(torch.ones(10, 16), FormatOptions(block=(4, 4))) is None


def test_conv_weights_use_their_2d_view() -> None:
    weight = _sparse((16, 8, 3, 3), 0.25)
    view = weight.reshape(16, -1)
    counted = _layout("csr", weight).priced("fp32")
    csr = view.to_sparse_csr()
    assert (
        counted.total == csr.values().nbytes + csr.crow_indices().nbytes + csr.col_indices().nbytes
    )


@pytest.mark.parametrize("precision, element", [("fp32", 4), ("fp16", 2), ("bf16", 2), ("int8", 1)])
def test_two_of_four_follows_the_formula(precision: str, element: int) -> None:
    weight = two_of_four_magnitude(torch.randn(64, 128))
    counted = _layout("2:4", weight).priced(precision)
    formula = compressed_bytes(64, 128, element)
    assert counted.values == formula["values"] and counted.metadata == formula["metadata"]
    assert counted.scales == (64 * 4 if precision == "int8" else 0)


def test_two_of_four_needs_a_valid_pattern() -> None:
    weight = two_of_four_magnitude(torch.randn(8, 16))
    assert is_two_of_four(weight)
    weight[0, :3] = 1.0
    assert not is_two_of_four(weight)
    assert FORMATS.get("2:4").layout(weight, FormatOptions()) is None
    assert FORMATS.get("2:4").layout(torch.zeros(4, 6), FormatOptions()) is None


def test_dense_mask_bits_match_numpy_packbits() -> None:
    weight = _sparse((7, 9), 0.5)  # 63 weights: 8 bytes of bits
    counted = _layout("dense_mask", weight).priced("fp16")
    assert counted.metadata == np.packbits((weight != 0).numpy()).nbytes == 8
    assert counted.values == weight.half().nbytes


def test_channel_removed_drops_zero_rows_and_input_channels() -> None:
    weight = torch.randn(6, 4, 3, 3)
    weight[1] = 0  # a removed output channel
    weight[:, 2] = 0  # a removed input channel
    assert _layout("channel_removed", weight).priced("fp32").total == 5 * 3 * 9 * 4
    linear = torch.randn(5, 7)
    linear[:, [0, 3]] = 0
    assert _layout("channel_removed", linear).priced("bf16").total == 5 * 5 * 2


def test_codebook_bytes_match_packed_codes() -> None:
    weight = share_weights(_sparse((33, 17), 0.6), clusters=7)
    codebook, codes = encode(weight)
    bits = 3  # 7 shared values + zero = 8 entries
    assert codebook.numel() == 8
    counted = _layout("codebook", weight).priced("fp32")
    assert counted.indices == pack_codes(codes, bits).nbytes
    assert counted.values == codebook.nbytes
    assert FORMATS.get("codebook").layout(torch.randn(40, 40), FormatOptions()) is None


def test_csr_codebook_counts_csr_indices_and_codes_of_nonzeros() -> None:
    weight = share_weights(_sparse((20, 30), 0.3), clusters=4)
    csr = weight.to_sparse_csr()
    nonzero_codes = torch.unique(csr.values(), return_inverse=True)[1]
    counted = _layout("csr_codebook", weight).priced("fp32")
    index_bytes = csr.crow_indices().nbytes + csr.col_indices().nbytes
    assert counted.indices == index_bytes + pack_codes(nonzero_codes, 2).nbytes
    assert counted.values == 4 * 4


def test_int8_bytes_match_torchao_tensors() -> None:
    pytest.importorskip("torchao")
    from pruning_core.compression.quantization import quantize_linear_int8

    layer = nn.Sequential(nn.Linear(96, 40))
    quantize_linear_int8(layer)
    tensor = layer[0].weight
    counted = _layout("dense", torch.zeros(40, 96)).priced("int8")
    assert counted.values == tensor.qdata.nbytes
    assert counted.scales == tensor.scale.nbytes


def test_model_totals_match_dense_bytes_and_pick_the_smallest_format() -> None:
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8), nn.Flatten(), nn.Linear(8 * 36, 16)
    )
    with torch.no_grad():
        model[3].weight.copy_(two_of_four_magnitude(model[3].weight))
    sizes = model_sizes(model)
    for precision in ("fp32", "fp16", "bf16"):
        assert sizes.by_format["dense"][precision] == dense_bytes(model, precision)
    assert sizes.best_by_layer["3"]["fp16"] == "2:4"
    conv_dense = 8 * 9 * 4
    linear_fp32 = compressed_bytes(16, 288, 4)["total"]
    others = dense_bytes(model, "fp32") - conv_dense - 16 * 288 * 4
    assert sizes.best["fp32"] == others + conv_dense + linear_fp32
    assert sizes.by_format["2:4"]["fp32"] == sizes.best["fp32"]  # conv stays dense (not 2:4)
    int8_others = sum(
        t.numel() * (4 if t.is_floating_point() else t.element_size())
        for n, t in list(model.named_parameters()) + list(model.named_buffers())
        if n not in ("0.weight", "3.weight")
    )
    assert sizes.by_format["dense"]["int8"] == int8_others + 8 * 9 + 8 * 4 + 16 * 288 + 16 * 4
    for row in sizes.rows:
        layout = layer_layouts(model.get_submodule(row["layer"]).weight, sizes.options)[
            row["format"]
        ]
        assert layout is not None and layout.priced(row["precision"]).total == row["total"]
