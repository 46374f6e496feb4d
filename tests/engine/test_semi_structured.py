"""2:4 eligibility and byte counts on the CPU; conversion and nbytes on a GPU."""

from __future__ import annotations

import pytest
import torch

from benchmarks.gpu_2of4 import SHAPES, measure_shape
from pruning_core.formats.semi_structured import (
    compressed_bytes,
    eligibility,
    two_of_four_magnitude,
)


def test_eligibility_reads_torch_constraints() -> None:
    assert eligibility(768, 3072, "fp16", "cusparselt").ok
    assert eligibility(64, 64, "fp16", "cusparselt").ok
    assert not eligibility(64, 32, "fp16", "cutlass").ok  # CUTLASS fp16 needs 32 x 64 multiples
    assert eligibility(64, 128, "fp16", "cutlass").ok
    refused = eligibility(1000, 768, "fp16", "cusparselt")
    assert not refused.ok and "1000x768" in refused.reason
    assert not eligibility(768, 768, "fp32", "cusparselt").ok


def test_every_benchmark_shape_fits_at_least_one_backend_in_fp16() -> None:
    for out_f, in_f in SHAPES.values():
        assert eligibility(out_f, in_f, "fp16", "cusparselt").ok


def test_compressed_bytes_formula() -> None:
    sizes = compressed_bytes(64, 128, element_bytes=2)
    assert sizes == {"values": 64 * 64 * 2, "metadata": 64 * 16, "total": 64 * 64 * 2 + 64 * 16}
    assert sizes["total"] / (64 * 128 * 2) == pytest.approx(9 / 16)


def test_two_of_four_pattern_is_valid() -> None:
    weight = torch.randn(8, 16)
    pruned = two_of_four_magnitude(weight)
    groups = pruned.reshape(8, -1, 4)
    assert ((groups != 0).sum(-1) == 2).all()
    kept = weight.reshape(8, -1, 4).abs().topk(2, dim=-1).values.sum()
    assert pruned.abs().sum() == pytest.approx(float(kept))


def test_ineligible_rows_are_recorded_not_measured() -> None:
    row = measure_shape(1000, 768, 16, "fp16", "cusparselt", repeats=5)
    assert row["status"] == "ineligible" and "1000x768" in row["error"]
    assert "speedup" not in row


@pytest.mark.gpu
@pytest.mark.parametrize("backend", ["cusparselt", "cutlass"])
def test_compressed_nbytes_match_formula_on_gpu(backend: str) -> None:
    from torch.sparse import semi_structured as ss

    weight = two_of_four_magnitude(torch.randn(128, 256, device="cuda", dtype=torch.float16))
    ss.SparseSemiStructuredTensor._FORCE_CUTLASS = backend == "cutlass"
    compressed = ss.to_sparse_semi_structured(weight.contiguous())
    stored = sum(
        t.nbytes
        for t in (getattr(compressed, n, None) for n in ("packed", "meta"))
        if t is not None
    )
    assert stored == compressed_bytes(128, 256, 2)["total"]
    assert torch.allclose(compressed.to_dense(), weight)
