"""2:4 semi-structured sparsity on NVIDIA GPUs: eligibility, byte counts, conversion.

Importable with torch alone (no pydantic/streamlit), so the GPU benchmark runs on a bare
machine. ``torch.sparse.to_sparse_semi_structured`` compresses a weight that already has a
valid 2:4 pattern; it works on CUDA devices of compute capability >= 8.0, for 2-D
contiguous tensors whose shapes are multiples of per-dtype, per-backend minimums, which
are read from torch at run time rather than copied here.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.sparse import semi_structured as ss

BACKENDS = {
    "cusparselt": ss.SparseSemiStructuredTensorCUSPARSELT,
    "cutlass": ss.SparseSemiStructuredTensorCUTLASS,
}
DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "int8": torch.int8, "fp32": torch.float32}


@dataclass(frozen=True)
class Eligibility:
    """Whether a weight of this shape and dtype can be compressed by a backend, and why not."""

    ok: bool
    reason: str = ""


def eligibility(out_features: int, in_features: int, dtype: str, backend: str) -> Eligibility:
    """Check torch's shape and dtype constraints for a ``(out, in)`` weight."""
    constraints = BACKENDS[backend]._DTYPE_SHAPE_CONSTRAINTS
    torch_dtype = DTYPES[dtype]
    if torch_dtype not in constraints:
        allowed = ", ".join(name for name, d in DTYPES.items() if d in constraints)
        return Eligibility(False, f"{backend} does not take {dtype} (takes {allowed})")
    limits = constraints[torch_dtype]
    rows, cols = limits.sparse_min_rows, limits.sparse_min_cols
    if out_features < rows or out_features % rows or in_features < cols or in_features % cols:
        return Eligibility(
            False, f"shape {out_features}x{in_features} must be multiples of {rows}x{cols}"
        )
    return Eligibility(True)


def compressed_bytes(out_features: int, in_features: int, element_bytes: int) -> dict[str, int]:
    """Bytes of a 2:4 weight as kept values plus metadata.

    Half of the values are kept; each group of 4 inputs stores two 2-bit indices
    (4 bits), so metadata is ``in/8`` bytes per row.
    """
    values = out_features * (in_features // 2) * element_bytes
    metadata = out_features * in_features // 8
    return {"values": values, "metadata": metadata, "total": values + metadata}


def cuda_available_for_2of4() -> Eligibility:
    """Whether this process can run 2:4 kernels at all."""
    if not torch.cuda.is_available():
        return Eligibility(False, "no CUDA device")
    major, minor = torch.cuda.get_device_capability()
    if major < 8:
        return Eligibility(False, f"compute capability {major}.{minor} < 8.0")
    return Eligibility(True)


def two_of_four_magnitude(weight: torch.Tensor) -> torch.Tensor:
    """Zero the 2 smallest-magnitude entries of every 4 consecutive inputs (a valid pattern)."""
    groups = weight.reshape(weight.shape[0], -1, 4)
    keep = groups.abs().float().topk(2, dim=-1).indices
    mask = torch.zeros_like(groups, dtype=torch.bool).scatter_(-1, keep, True)
    return (groups * mask).reshape(weight.shape)


def convert_linear(module: nn.Linear, backend: str) -> None:
    """Replace a Linear's (already 2:4-pruned, CUDA) weight with its compressed form."""
    ss.SparseSemiStructuredTensor._FORCE_CUTLASS = backend == "cutlass"
    compressed = ss.to_sparse_semi_structured(module.weight.detach().contiguous())
    module.weight = nn.Parameter(compressed, requires_grad=False)


def convert_model(
    model: nn.Module, backend: str, dtype: str, only: set[str] | None = None
) -> list[str]:
    """Convert every eligible Linear (or only the named ones); returns the converted names."""
    converted = []
    for name, module in model.named_modules():
        if not isinstance(module, nn.Linear) or (only is not None and name not in only):
            continue
        out_features, in_features = module.weight.shape
        if eligibility(out_features, in_features, dtype, backend).ok:
            convert_linear(module, backend)
            converted.append(name)
    return converted
