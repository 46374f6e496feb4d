"""Other compression after pruning: low-rank factorization or weight sharing.

Called by the orchestrator with the recipe's ``compression`` field on the layers that
were pruned (skipped layers stay as they are), after the masks are baked in.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from pruning_core.compression.lowrank import factorize_layers
from pruning_core.compression.weight_sharing import share_layers


def compress(model: nn.Module, names: list[str], kind: str, **options: Any) -> dict[str, str]:
    """Apply ``kind`` (``lowrank`` or ``weight_sharing``) to the named layers in place.

    Args:
        model: dense with zeros.
        names: layers to compress.
        kind: ``lowrank`` (options ``energy``, ``ratio``) or ``weight_sharing``
            (option ``clusters``).

    Returns:
        One note per layer describing what was done.
    """
    if kind == "lowrank":
        return factorize_layers(model, names, options.get("energy"), options.get("ratio"))
    if kind == "weight_sharing":
        return share_layers(model, names, int(options["clusters"]))
    raise ValueError(f"unknown compression '{kind}'")


def apply_notes(rows: list[dict[str, Any]], notes: dict[str, str]) -> None:
    """Append each layer's compression note to its row's ``note``."""
    for row in rows:
        if row["name"] in notes:
            row["note"] = "; ".join(filter(None, [row["note"], notes[row["name"]]]))
