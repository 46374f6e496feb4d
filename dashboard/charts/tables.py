"""Pure table shaping for the pages: run records and results -> pandas DataFrames.

No Streamlit and no engine here, so every function is testable on plain dicts.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

SUMMARY_COLUMNS = [
    "test_accuracy",
    "val_accuracy",
    "dense_test_accuracy",
    "sparsity_pruned_layers",
    "sparsity_total",
    "params",
    "nonzero_params",
    "size_bytes",
    "theoretical_speedup",
    "seconds",
    "size_bytes_by_format",
    "size_bytes_best",
]
METRICS = {
    "test_accuracy": "test accuracy",
    "val_accuracy": "val accuracy",
    "dense_test_accuracy": "dense test accuracy",
    "accuracy_delta": "test accuracy vs dense",
    "sparsity_pruned_layers": "sparsity (pruned layers)",
    "sparsity_total": "sparsity (whole model)",
    "nonzero_params": "nonzero params",
    "size_bytes": "size (bytes, dense storage)",
    "size_bytes_best": "size (bytes, best format per layer)",
    "theoretical_speedup": "theoretical speedup (MACs ratio)",
    "seconds": "run time (s)",
}
BYTES = {"fp32": 4, "fp16": 2, "bf16": 2}


def structure_label(structure: Any) -> str:
    """``2:4``, ``block 4x4``, ``unstructured`` or ``channel`` from a recipe's structure."""
    if isinstance(structure, str):
        return structure
    kind = structure.get("kind", "unstructured")
    if kind == "n:m":
        return f"{structure.get('n', 2)}:{structure.get('m', 4)}"
    if kind == "block":
        height, width = structure.get("block", (4, 4))
        return f"block {height}x{width}"
    return str(kind)


def run_label(run_id: int, recipe: dict[str, Any]) -> str:
    """Short unique name of a run: ``#12 taylor 2:4 50% s0``."""
    sparsity = recipe.get("sparsity")
    structure = structure_label(recipe.get("structure", "unstructured"))
    amount = "" if ":" in structure or sparsity is None else f" {float(sparsity):.0%}"
    return f"#{run_id} {recipe.get('criterion', '?')} {structure}{amount} s{recipe.get('seed', 0)}"


def runs_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One flat row per run record (as ``RunRecord.__dict__``), in the given order."""
    rows = []
    for record in records:
        recipe, summary = record["recipe"], record.get("summary") or {}
        end = record.get("finished") or (
            record.get("heartbeat") if record["state"] == "running" else None
        )
        rows.append(
            {
                "id": record["id"],
                "run": run_label(record["id"], recipe),
                "state": record["state"],
                "model": recipe.get("model"),
                "criterion": recipe.get("criterion"),
                "structure": structure_label(recipe.get("structure", "unstructured")),
                "target_sparsity": summary.get("target_sparsity", recipe.get("sparsity")),
                "allocation": recipe.get("allocation", "uniform"),
                "schedule": (recipe.get("schedule") or {}).get("kind", "one_shot"),
                "epochs": (recipe.get("finetune") or {}).get("epochs"),
                "precision": recipe.get("precision", "fp32"),
                "seed": recipe.get("seed", 0),
                "sweep": record.get("sweep"),
                "phase": record.get("phase", ""),
                "progress": float(record.get("progress") or 0.0),
                "message": record.get("message", ""),
                "error": record.get("error"),
                "error_field": record.get("error_field"),
                "cancel_requested": bool(record.get("cancel_requested")),
                "created": datetime.fromtimestamp(record["created"]),
                "duration_s": (end - record["started"]) if end and record.get("started") else None,
                **{column: summary.get(column) for column in SUMMARY_COLUMNS},
            }
        )
    frame = pd.DataFrame(
        rows,
        columns=None
        if rows
        else [
            "id",
            "run",
            "state",
            "model",
            "criterion",
            "structure",
            "target_sparsity",
            "seed",
            "sweep",
        ],
    )
    if rows:
        frame["accuracy_delta"] = frame["test_accuracy"] - frame["dense_test_accuracy"]
    return frame


def flatten_recipe(recipe: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested recipe -> ``{"finetune.epochs": 2, ...}`` (lists kept as text)."""
    flat: dict[str, Any] = {}
    for key, value in recipe.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_recipe(value, f"{name}."))
        else:
            flat[name] = ", ".join(map(str, value)) if isinstance(value, list | tuple) else value
    return flat


def recipe_diff(recipes: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Fields as rows, runs as columns, plus a ``differs`` flag per field."""
    flat = {label: flatten_recipe(recipe) for label, recipe in recipes.items()}
    fields = list(dict.fromkeys(field for values in flat.values() for field in values))
    table = pd.DataFrame(
        {label: [_text(values.get(field)) for field in fields] for label, values in flat.items()},
        index=pd.Index(fields, name="field"),
    )
    table["differs"] = table.nunique(axis=1) > 1
    return table


def _text(value: Any) -> str:
    return "null" if value is None else str(value)


def metrics_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Metrics as rows, runs (by label) as columns, formatted for reading."""
    formats = {
        "size_bytes": "{:,.0f}",
        "size_bytes_best": "{:,.0f}",
        "nonzero_params": "{:,.0f}",
        "theoretical_speedup": "{:.2f}x",
        "seconds": "{:.1f}",
    }
    rows = {}
    for column in (column for column in METRICS if column in runs):
        pattern = formats.get(column, "{:.2%}")
        rows[METRICS[column]] = [
            pattern.format(value) if isinstance(value, int | float) and pd.notna(value) else "n/a"
            for value in runs[column]
        ]
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(runs["run"]))


def size_rows(runs: pd.DataFrame) -> pd.DataFrame:
    """Model size of each run per storage format and precision.

    Exact bytes (values + indices + metadata) when the run's summary has them
    (``size_bytes_by_format``); otherwise dense storage, scaled from the run's own size.
    """
    rows = []
    for _, run in runs.dropna(subset=["size_bytes"]).iterrows():
        exact = run.get("size_bytes_by_format")
        if isinstance(exact, dict) and exact:
            rows += [
                {
                    "run": run["run"],
                    "format": fmt,
                    "precision": precision,
                    "size_bytes": size,
                    "kind": "exact bytes: values + indices + metadata",
                }
                for fmt, sizes in exact.items()
                for precision, size in sizes.items()
            ]
            continue
        own = BYTES.get(run["precision"])  # None (e.g. int8): only the size as saved
        widths = BYTES if own is not None else {run["precision"]: 1}
        for precision, width in widths.items():
            how = "as saved" if precision == run["precision"] else f"scaled from {run['precision']}"
            rows.append(
                {
                    "run": run["run"],
                    "format": "dense",
                    "precision": precision,
                    "size_bytes": run["size_bytes"] * width / (own or width),
                    "kind": f"dense storage, zeros included; {how}",
                }
            )
    return pd.DataFrame(rows, columns=["run", "format", "precision", "size_bytes", "kind"])


MEASURED_COLUMNS = [
    "run",
    "model",
    "structure",
    "variant",
    "precision",
    "batch",
    "mode",
    "speedup",
    "median_ms",
    "test_accuracy",
    "device",
    "date",
    "source",
]


def measured_rows(files: list[Path]) -> pd.DataFrame:
    """Measured speedup rows from benchmark files (JSON lists or CSV tables), deduplicated.

    Only rows that say they were measured (``measured`` true, or a ``kind`` of
    ``measured``) and carry a ``speedup``, ``device`` and ``date`` are kept; ``run`` is a
    label made of model, structure and variant (or precision).
    """
    rows: list[dict[str, Any]] = []
    for file in files:
        try:
            loaded = (
                json.loads(file.read_text())
                if file.suffix == ".json"
                else pd.read_csv(file).to_dict("records")
            )
        except (OSError, ValueError):
            continue
        items = loaded.get("rows", []) if isinstance(loaded, dict) else loaded
        for row in items if isinstance(items, list) else []:
            measured = (
                row.get("measured") in (True, "true", "True", 1) or row.get("kind") == "measured"
            )
            if measured and all(pd.notna(row.get(key)) for key in ("speedup", "device", "date")):
                label = " · ".join(
                    str(row[key]) for key in ("model", "structure") if pd.notna(row.get(key))
                )
                variant = (
                    row.get("variant") if pd.notna(row.get("variant")) else row.get("precision")
                )
                rows.append(
                    {
                        **{key: row.get(key) for key in MEASURED_COLUMNS},
                        "source": file.name,
                        "run": f"{label} · {variant}" if pd.notna(variant) else label,
                    }
                )
    frame = pd.DataFrame(rows, columns=MEASURED_COLUMNS)
    frame = frame.drop_duplicates(subset=[c for c in MEASURED_COLUMNS if c != "source"])
    twins = frame["run"].duplicated(keep=False)  # same label, different setup: say which
    frame.loc[twins, "run"] = [
        f"{run} · batch {batch:g} {mode if pd.notna(mode) else ''}".strip()
        if isinstance(batch, int | float)
        else f"{run} · {batch} {mode}"
        for run, batch, mode in frame.loc[twins, ["run", "batch", "mode"]].to_numpy()
    ]
    return frame.reset_index(drop=True)


def recipe_yaml(recipe: dict[str, Any]) -> str:
    """A recipe mapping as YAML, fields in recipe order (as ``Recipe.to_yaml`` writes it)."""
    import yaml

    return yaml.safe_dump(recipe, sort_keys=False)


def sweep_table(aggregated: pd.DataFrame) -> pd.DataFrame:
    """Criteria as rows, target sparsities as columns, cells ``98.2 ± 0.4 % (3)``."""
    cells = aggregated.assign(
        sparsity=[f"{value:.0%}" for value in aggregated["target_sparsity"]],
        cell=[
            f"{mean:.1%} ± {std * 100:.1f} ({count})"
            for mean, std, count in zip(
                aggregated["mean"], aggregated["std"], aggregated["count"], strict=True
            )
        ],
    )
    order = list(dict.fromkeys(cells.sort_values("target_sparsity")["sparsity"]))
    table = cells.pivot(index="criterion", columns="sparsity", values="cell")
    return table[order].fillna("")
