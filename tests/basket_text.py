"""A small text unlike the tiny LM's pydoc training text, and the recipe data that reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_basket_text(path: Path) -> Path:
    """200 short sentences about baskets of fruit, written to ``path``."""
    lines = [
        f"The basket number {i} holds {i % 7} red apples and {i % 5} pears." for i in range(200)
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def text_data(path: Path, seq_len: int = 32) -> dict[str, Any]:
    """``data: {kind: text, path, seq_len}`` for ``path``."""
    return {"kind": "text", "path": str(path), "seq_len": seq_len}
