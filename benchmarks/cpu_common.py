"""Shared bits of the CPU figure scripts: settings, markdown tables, writing results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pruning_core.latency import RESULTS_DIR, write_rows

THREADS = 2
REPEATS = 30
WARMUP = 3
OUT = RESULTS_DIR


def markdown(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A markdown table of ``columns`` (floats with 3 significant decimals)."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
        return "" if value is None else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def save(rows: list[dict[str, Any]], stem: str, table: str, out: Path = OUT) -> None:
    """Write ``stem.json``/``stem.csv`` and the markdown ``stem.md``; print the table."""
    write_rows(rows, out, stem)
    (out / f"{stem}.md").write_text(table + "\n", encoding="utf-8")
    print(table, flush=True)
