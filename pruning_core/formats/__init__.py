"""Storage formats with exact byte counts: dense(+mask), CSR, CSC, BSR, 2:4, channel-removed,
codebook (weight sharing); plus "measured 2:4" selection from stored GPU results.

Importable with torch alone (no pydantic), like :mod:`pruning_core.formats.semi_structured`.
"""

from pruning_core.formats.builtin import FORMATS, Format, FormatOptions, is_two_of_four
from pruning_core.formats.layout import PRECISION_BYTES, PRECISIONS, ByteCount, Layout
from pruning_core.formats.sizes import ModelSizes, layer_layouts, model_sizes, summary_fields

__all__ = [
    "FORMATS",
    "PRECISIONS",
    "PRECISION_BYTES",
    "ByteCount",
    "Format",
    "FormatOptions",
    "Layout",
    "ModelSizes",
    "is_two_of_four",
    "layer_layouts",
    "model_sizes",
    "summary_fields",
]
