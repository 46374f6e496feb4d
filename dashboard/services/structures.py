"""A recipe's structure as the engine sees it: its label and whether it fixes the sparsity.

The rules live in :class:`pruning_core.Structure`; these helpers only parse stored
recipe values into it, so tables and labels never restate them.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

import pruning_core


def parse_structure(value: Any) -> pruning_core.Structure | None:
    """The structure of a recipe mapping's ``structure`` value (``None`` if it is invalid)."""
    try:
        return pruning_core.Structure.model_validate(value or {})
    except ValidationError:
        return None


def structure_label(value: Any) -> str:
    """``2:4``, ``block 4x4``, ``unstructured``...; an invalid value as it was written."""
    structure = parse_structure(value)
    return structure.label() if structure is not None else str(value)


def fixes_sparsity(value: Any) -> bool:
    """The structure fixes every pruned layer's sparsity (N:M), so no target is chosen."""
    structure = parse_structure(value)
    return structure is not None and structure.implied_sparsity is not None
