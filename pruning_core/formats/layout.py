"""Precision-independent storage layouts and their exact byte counts per precision.

A :class:`Layout` says how many *value elements* a format stores and how many bytes of
indices and metadata it needs; the precision only changes the bytes per value (and, for
int8, adds one fp32 scale per quantization group). So a layer's layout is computed once
and priced at every precision.
"""

from __future__ import annotations

from dataclasses import dataclass

PRECISION_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}
PRECISIONS = tuple(PRECISION_BYTES)
# int8 weights carry one float32 scale per output row (symmetric, zero point 0), as
# torchao's Int8Tensor stores it: ``scale`` of shape (out, 1), float32.
SCALE_BYTES = 4


@dataclass(frozen=True)
class ByteCount:
    """Exact bytes of one stored weight, split by what they hold."""

    values: int
    indices: int
    metadata: int
    scales: int

    @property
    def total(self) -> int:
        """All bytes together."""
        return self.values + self.indices + self.metadata + self.scales

    def as_dict(self) -> dict[str, int]:
        """The four parts and the total as a plain mapping."""
        return {
            "values": self.values,
            "indices": self.indices,
            "metadata": self.metadata,
            "scales": self.scales,
            "total": self.total,
        }


@dataclass(frozen=True)
class Layout:
    """How a format stores one weight, independent of the value precision.

    Attributes:
        values: number of stored value elements (kept weights, blocks, codebook entries).
        index_bytes: bytes of index arrays (row pointers, column indices, codes).
        metadata_bytes: bytes of other bookkeeping (bit masks, 2:4 position bits).
        scale_groups: how many int8 scales the values need (rows; 1 for a codebook).
    """

    values: int
    index_bytes: int = 0
    metadata_bytes: int = 0
    scale_groups: int = 0

    def priced(self, precision: str) -> ByteCount:
        """Bytes of this layout with values stored at ``precision``.

        Raises:
            KeyError: ``precision`` is not one of :data:`PRECISIONS`.
        """
        element = PRECISION_BYTES[precision]
        scales = self.scale_groups * SCALE_BYTES if precision == "int8" else 0
        return ByteCount(self.values * element, self.index_bytes, self.metadata_bytes, scales)
