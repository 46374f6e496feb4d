"""Linear layers that compute with a sparse (CSR or BSR) weight on the CPU, for timing."""

from __future__ import annotations

import torch
from torch import nn


class SparseLinear(nn.Module):
    """``y = x W^T + b`` with ``W`` kept as a torch CSR or BSR tensor (``W @ x^T``)."""

    def __init__(self, linear: nn.Linear, layout: str, block: tuple[int, int] = (4, 4)) -> None:
        super().__init__()
        weight = linear.weight.detach()
        if layout == "csr":
            self.sparse_weight = weight.to_sparse_csr()
        elif layout == "bsr":
            self.sparse_weight = weight.to_sparse_bsr(block)
        else:
            raise ValueError(f"layout must be csr or bsr, got '{layout}'")
        self.layout = layout
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, self.in_features)
        out = (self.sparse_weight @ flat.t().contiguous()).t()
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*x.shape[:-1], self.out_features)


def sparsify_linears(
    model: nn.Module, layout: str, block: tuple[int, int] = (4, 4), only: set[str] | None = None
) -> list[str]:
    """Replace Linear layers (all, or the named ones) by :class:`SparseLinear` in place.

    Layers whose shape the BSR block does not divide are left dense. Returns the names
    converted.
    """
    converted = []
    for name, module in list(model.named_modules()):
        if not isinstance(module, nn.Linear) or (only is not None and name not in only):
            continue
        if layout == "bsr" and (module.out_features % block[0] or module.in_features % block[1]):
            continue
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, SparseLinear(module, layout, block))
        converted.append(name)
    return converted
