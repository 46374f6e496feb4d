"""Pure table shaping for the pages: run records and results -> pandas DataFrames.

No Streamlit and no engine here, so every function is testable on plain dicts.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pandas as pd

from dashboard.charts.metric import PERPLEXITY

SUMMARY_COLUMNS = [
    "test_accuracy",
    "val_accuracy",
    "dense_test_accuracy",
    "test_perplexity",
    "val_perplexity",
    "dense_test_perplexity",
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
FACT_COLUMNS = [
    "val_after_pruning",
    "formats_applicable",
    "best_format",
    "best_format_bytes",
    "dense_bytes",
    "metric",
]


def run_label(run_id: int, recipe: dict[str, Any], structure: str, fixed: bool) -> str:
    """Short unique name of a run: ``#12 taylor 2:4 fp16 s0``, ``#3 magnitude 50% int8 ws16 s1``.

    The precision (``int8``: quantized) and any compression are part of the name, so two
    runs that differ only by them are never shown under one label.

    Args:
        run_id: the run's id.
        recipe: the run's recipe mapping.
        structure: the structure's label (``Structure.label()``, from the services).
        fixed: the structure fixes the sparsity (N:M), so the target is not repeated.
    """
    sparsity = recipe.get("sparsity")
    amount = "" if fixed or sparsity is None else f" {float(sparsity):.0%}"
    compression = recipe.get("compression") or {}
    squeezed = {"lowrank": " low-rank", "weight_sharing": f" ws{compression.get('clusters', '')}"}
    kind = str(compression.get("kind")) if isinstance(compression, dict) else ""
    extra = squeezed.get(kind, "")
    return (
        f"#{run_id} {recipe.get('criterion', '?')} {structure}{amount} "
        f"{recipe.get('precision', 'fp32')}{extra} s{recipe.get('seed', 0)}"
    )


def seed_group(recipe: dict[str, Any]) -> str:
    """The recipe without its seed, as text: runs that differ only by seed share it."""
    return json.dumps({k: v for k, v in recipe.items() if k != "seed"}, sort_keys=True)


def runs_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One flat row per run record, in the given order.

    Args:
        records: ``RunRecord.__dict__`` plus ``structure_label`` (the structure's label) and
            ``sparsity_fixed`` (the structure fixes the sparsity), added by the services.
    """
    rows = []
    for record in records:
        recipe, summary = record["recipe"], record.get("summary") or {}
        end = record.get("finished") or (
            record.get("heartbeat") if record["state"] == "running" else None
        )
        rows.append(
            {
                "id": record["id"],
                "run": run_label(
                    record["id"], recipe, record["structure_label"], record["sparsity_fixed"]
                ),
                "state": record["state"],
                "model": recipe.get("model"),
                "criterion": recipe.get("criterion"),
                "structure": record["structure_label"],
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
                "started": record.get("started"),
                "label": record.get("label", ""),
                "group": seed_group(recipe),
                **{column: summary.get(column) for column in SUMMARY_COLUMNS},
                **{column: (record.get("facts") or {}).get(column) for column in FACT_COLUMNS},
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
        add_deltas(frame)
    return frame


DELTA_INPUTS = (
    "test_accuracy",
    "dense_test_accuracy",
    "val_accuracy",
    "val_after_pruning",
    "test_perplexity",
    "dense_test_perplexity",
)


def add_deltas(frame: pd.DataFrame) -> None:
    """Differences to the dense model and what finetuning recovered, each in its metric.

    ``accuracy_delta`` (a share: ``-0.006`` is -0.6 pp, negative is worse) and ``recovered``
    are filled for accuracy runs only; ``perplexity_delta`` (test perplexity minus the dense
    model's, positive is worse) for perplexity runs only. ``val_after_pruning`` holds each
    run's own metric, so it is never subtracted from the other one.

    Args:
        frame: :func:`runs_table` rows (``metric`` and every column of ``DELTA_INPUTS``).
    """
    number = {column: pd.to_numeric(frame[column], errors="coerce") for column in DELTA_INPUTS}
    lm = frame["metric"].eq(PERPLEXITY)
    frame["accuracy_delta"] = (number["test_accuracy"] - number["dense_test_accuracy"]).mask(lm)
    frame["recovered"] = (number["val_accuracy"] - number["val_after_pruning"]).mask(lm)
    frame["perplexity_delta"] = number["test_perplexity"] - number["dense_test_perplexity"]


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


def recipe_yaml(recipe: dict[str, Any]) -> str:
    """A recipe mapping as YAML, fields in recipe order (as ``Recipe.to_yaml`` writes it)."""
    import yaml

    return yaml.safe_dump(recipe, sort_keys=False)


def sweep_table(aggregated: pd.DataFrame, perplexity: bool = False) -> pd.DataFrame:
    """Criteria as rows, target sparsities as columns, cells ``98.2 ± 0.4 % (3)``.

    With ``perplexity`` the cells are plain numbers: ``23.41 ± 0.52 (3)``.
    """
    cells = aggregated.assign(
        sparsity=[f"{value:.0%}" for value in aggregated["target_sparsity"]],
        cell=[
            f"{mean:.2f} ± {std:.2f} ({count})"
            if perplexity
            else f"{mean:.1%} ± {std * 100:.1f} ({count})"
            for mean, std, count in zip(
                aggregated["mean"], aggregated["std"], aggregated["count"], strict=True
            )
        ],
    )
    order = list(dict.fromkeys(cells.sort_values("target_sparsity")["sparsity"]))
    table = cells.pivot(index="criterion", columns="sparsity", values="cell")
    return table[order].fillna("")
