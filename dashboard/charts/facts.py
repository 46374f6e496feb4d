"""Facts the pages headline, derived from a run's ``results.json`` (pure; no engine).

The run's summary holds the final metric; the metric *right after pruning, before
finetuning* is the last ``prune`` point of its ``curves``. Which storage formats apply
to a run comes from its per-layer ``sizes`` rows: a format applies when it holds at
least one pruned layer in fewer or more bytes than dense storage (one that holds none
prices the model at its dense size, and must not be drawn as if it did anything).
"""

from __future__ import annotations

from typing import Any

KIB = 1024


def after_pruning(document: dict[str, Any]) -> float | None:
    """The validation metric at the last pruning step, before the finetuning that follows.

    ``None`` when the run recorded no metric (untrained model, no data).
    """
    metric = document.get("summary", {}).get("metric", "accuracy")
    points = [row for row in document.get("curves", []) if row.get("kind") == "prune"]
    value = points[-1].get(f"val_{metric}") if points else None
    return float(value) if isinstance(value, int | float) else None


def applicable_formats(document: dict[str, Any]) -> list[str]:
    """Formats that store at least one pruned layer differently from dense storage."""
    pruned = {row["name"] for row in document.get("layers", []) if row.get("pruned")}
    rows = [row for row in document.get("sizes", []) if row.get("layer") in pruned]
    dense = {(r["layer"], r["precision"]): r["total"] for r in rows if r["format"] == "dense"}
    found = {
        row["format"]
        for row in rows
        if row["format"] != "dense" and row["total"] != dense.get((row["layer"], row["precision"]))
    }
    return ["dense", *sorted(found)]


def best_format(
    by_format: dict[str, dict[str, int]] | None, applicable: list[str] | None, precision: str
) -> tuple[str, int] | None:
    """The smallest applicable format at ``precision`` and its bytes (``None`` if unknown)."""
    if not isinstance(by_format, dict):
        return None
    sizes = {
        name: sizes[precision]
        for name, sizes in by_format.items()
        if isinstance(sizes, dict) and precision in sizes
        and (applicable is None or name in applicable)
    }  # fmt: skip
    if not sizes:
        return None
    name = min(sizes, key=lambda key: (sizes[key], key != "dense"))
    return name, int(sizes[name])


def document_facts(document: dict[str, Any]) -> dict[str, Any]:
    """The derived columns one run adds to the runs table."""
    summary = document.get("summary", {})
    applicable = applicable_formats(document) if document.get("sizes") else None
    precision = summary.get("precision", "fp32")
    best = best_format(summary.get("size_bytes_by_format"), applicable, precision)
    dense = (summary.get("size_bytes_by_format") or {}).get("dense", {}).get(precision)
    return {
        "val_after_pruning": after_pruning(document),
        "formats_applicable": applicable,
        "best_format": best[0] if best else None,
        "best_format_bytes": best[1] if best else None,
        "dense_bytes": dense if dense is not None else summary.get("size_bytes"),
        "metric": summary.get("metric", "accuracy"),
    }


def size_headline(facts: dict[str, Any]) -> tuple[str, str]:
    """``("193 KiB", "as 2:4 (fp32) · dense 354 KiB")``: the size metric and its badge."""
    best, dense = facts.get("best_format_bytes"), facts.get("dense_bytes")
    precision = facts.get("precision") or "fp32"
    dense_text = f"dense {dense / KIB:,.0f} KiB" if isinstance(dense, int | float) else "dense n/a"
    if best is None or facts.get("best_format") in (None, "dense"):
        shown = f"{dense / KIB:,.0f} KiB" if isinstance(dense, int | float) else "n/a"
        return shown, f"smallest: dense ({precision})"
    return f"{best / KIB:,.0f} KiB", f"as {facts['best_format']} ({precision}) · {dense_text}"


def pp(delta: float | None) -> str:
    """A difference of two shares in percentage points: ``-0.006`` -> ``-0.6 pp``."""
    if delta is None or delta != delta:
        return "n/a"
    return f"{delta * 100:+.1f} pp"
