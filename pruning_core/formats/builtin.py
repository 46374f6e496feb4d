"""The built-in storage formats: layouts computed from a dense weight with zeros.

Every format reads the weight as its 2-D view ``(out, in * kernel)`` (see
:func:`pruning_core.models.layers.as_2d`) and returns ``None`` where it cannot store the weight
(a block that does not divide the shape, a weight without a valid 2:4 pattern, too many
distinct values for a codebook). Index counts follow torch's own conversions
(``to_sparse_csr``/``to_sparse_csc``/``to_sparse_bsr``), whose compressed and plain
index tensors share one integer dtype (int64 by default, int32 optional).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from pruning_core.formats.layout import Layout
from pruning_core.formats.semi_structured import compressed_bytes
from pruning_core.registry import Registry

MAX_CODEBOOK = 256


@dataclass(frozen=True)
class FormatOptions:
    """Choices that change byte counts: BSR block shape and index integer width."""

    block: tuple[int, int] = (4, 4)
    index_bytes: int = 8  # torch's default int64 indices; 4 for int32


LayoutFn = Callable[[torch.Tensor, FormatOptions], Layout | None]


@dataclass(frozen=True)
class Format:
    """A named storage format and how to lay out a weight in it."""

    name: str
    layout: LayoutFn
    description: str


FORMATS: Registry[Format] = Registry("format")


def _register(name: str, description: str) -> Callable[[LayoutFn], LayoutFn]:
    def decorate(function: LayoutFn) -> LayoutFn:
        FORMATS.add(name, Format(name, function, description))
        return function

    return decorate


def _view(weight: torch.Tensor) -> torch.Tensor:
    return weight.detach().reshape(weight.shape[0], -1)


def code_bits(distinct: int) -> int:
    """Bits per code for a codebook of ``distinct`` entries (at least 1)."""
    return max(1, math.ceil(math.log2(max(distinct, 1))))


@_register("dense", "every weight stored, zeros included")
def dense_layout(weight: torch.Tensor, options: FormatOptions) -> Layout:
    """All ``out * in`` values."""
    w = _view(weight)
    return Layout(values=w.numel(), scale_groups=w.shape[0])


@_register("dense_mask", "dense values plus a 1-bit keep mask (packed, 8 per byte)")
def dense_mask_layout(weight: torch.Tensor, options: FormatOptions) -> Layout:
    """Dense values and ``ceil(numel / 8)`` bytes of packed mask bits."""
    w = _view(weight)
    return Layout(values=w.numel(), metadata_bytes=-(-w.numel() // 8), scale_groups=w.shape[0])


@_register("csr", "compressed sparse rows: nonzeros, column indices, row pointers")
def csr_layout(weight: torch.Tensor, options: FormatOptions) -> Layout:
    """``nnz`` values, ``nnz`` column indices and ``rows + 1`` row pointers."""
    w = _view(weight)
    nnz = int(torch.count_nonzero(w))
    indices = (w.shape[0] + 1 + nnz) * options.index_bytes
    return Layout(values=nnz, index_bytes=indices, scale_groups=w.shape[0])


@_register("csc", "compressed sparse columns: nonzeros, row indices, column pointers")
def csc_layout(weight: torch.Tensor, options: FormatOptions) -> Layout:
    """``nnz`` values, ``nnz`` row indices and ``cols + 1`` column pointers."""
    w = _view(weight)
    nnz = int(torch.count_nonzero(w))
    indices = (w.shape[1] + 1 + nnz) * options.index_bytes
    return Layout(values=nnz, index_bytes=indices, scale_groups=w.shape[0])


def nonzero_blocks(weight_2d: torch.Tensor, block: tuple[int, int]) -> int:
    """Number of ``block``-shaped tiles holding at least one nonzero."""
    bh, bw = block
    rows, cols = weight_2d.shape
    tiles = weight_2d.reshape(rows // bh, bh, cols // bw, bw) != 0
    return int(tiles.any(dim=3).any(dim=1).sum())


@_register("bsr", "block sparse rows: nonzero blocks (recipe's block shape) and their indices")
def bsr_layout(weight: torch.Tensor, options: FormatOptions) -> Layout | None:
    """Whole nonzero blocks, one column index per block, ``rows / bh + 1`` row pointers."""
    w = _view(weight)
    bh, bw = options.block
    if w.shape[0] % bh or w.shape[1] % bw:
        return None
    blocks = nonzero_blocks(w, options.block)
    indices = (w.shape[0] // bh + 1 + blocks) * options.index_bytes
    return Layout(values=blocks * bh * bw, index_bytes=indices, scale_groups=w.shape[0])


def is_two_of_four(weight_2d: torch.Tensor) -> bool:
    """Whether every 4 consecutive inputs of each row hold at most 2 nonzeros."""
    if weight_2d.shape[1] % 4:
        return False
    groups = weight_2d.reshape(weight_2d.shape[0], -1, 4) != 0
    return bool((groups.sum(dim=-1) <= 2).all())


@_register("2:4", "semi-structured 2:4: half the values plus 2-bit positions (GPU kernels)")
def two_of_four_layout(weight: torch.Tensor, options: FormatOptions) -> Layout | None:
    """Half of the values and ``in / 8`` metadata bytes per row (see ``compressed_bytes``)."""
    w = _view(weight)
    if not is_two_of_four(w):
        return None
    rows, cols = w.shape
    metadata = compressed_bytes(rows, cols, element_bytes=1)["metadata"]
    return Layout(values=rows * cols // 2, metadata_bytes=metadata, scale_groups=rows)


@_register("channel_removed", "dense weight without all-zero output and input channels")
def channel_removed_layout(weight: torch.Tensor, options: FormatOptions) -> Layout:
    """Dense values of the rows and input channels that hold any nonzero.

    Physically removed channels change the architecture, so no indices are stored.
    """
    w = weight.detach().reshape(weight.shape[0], weight.shape[1] if weight.dim() > 1 else 1, -1)
    live = w != 0
    rows = int(live.flatten(1).any(dim=1).sum())
    channels = int(live.any(dim=2).any(dim=0).sum())
    return Layout(values=rows * channels * w.shape[2], scale_groups=rows)


@_register("codebook", "shared values (weight sharing): bit-packed codes and a codebook")
def codebook_layout(weight: torch.Tensor, options: FormatOptions) -> Layout | None:
    """``distinct`` codebook entries and ``ceil(numel * bits / 8)`` bytes of codes."""
    w = _view(weight)
    distinct = int(torch.unique(w).numel())
    if distinct > MAX_CODEBOOK:
        return None
    codes = -(-w.numel() * code_bits(distinct) // 8)
    return Layout(values=distinct, index_bytes=codes, scale_groups=1)


@_register("csr_codebook", "CSR structure with codes of the nonzeros into a codebook")
def csr_codebook_layout(weight: torch.Tensor, options: FormatOptions) -> Layout | None:
    """CSR indices plus ``ceil(nnz * bits / 8)`` code bytes and the nonzero codebook."""
    w = _view(weight)
    values = torch.unique(w)
    values = values[values != 0]
    if values.numel() > MAX_CODEBOOK:
        return None
    nnz = int(torch.count_nonzero(w))
    codes = -(-nnz * code_bits(int(values.numel())) // 8)
    indices = (w.shape[0] + 1 + nnz) * options.index_bytes + codes
    return Layout(values=int(values.numel()), index_bytes=indices, scale_groups=1)
