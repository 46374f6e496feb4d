"""Compare page tables: runs grouped by seed, metrics side by side, the random baseline.

Pure shaping of ``runs_frame`` rows (no Streamlit, no engine). Runs whose recipes differ
only by the seed form one group, shown as mean ± std over its seeds.
"""

from __future__ import annotations

import json

import pandas as pd

from dashboard.charts.metric import PERPLEXITY, frame_metric

METRICS = {
    "test_accuracy": "test accuracy",
    "val_after_pruning": "val accuracy right after pruning (before finetuning)",
    "val_accuracy": "val accuracy after finetuning",
    "recovered": "recovered by finetuning (val)",
    "dense_test_accuracy": "dense test accuracy",
    "test_perplexity": "test perplexity (lower is better)",
    "val_perplexity": "val perplexity after finetuning",
    "dense_test_perplexity": "dense test perplexity",
    "accuracy_delta": "test accuracy vs dense",
    "perplexity_delta": "test perplexity vs dense (+ is worse)",
    "sparsity_pruned_layers": "sparsity (pruned layers)",
    "sparsity_total": "sparsity (whole model)",
    "nonzero_params": "nonzero params",
    "dense_bytes": "size, dense storage (KiB)",
    "best_format_bytes": "size, best format (KiB)",
    "theoretical_speedup": "theoretical speedup (MACs ratio)",
    "seconds": "run time (s)",
}
POINTS = ("accuracy_delta", "recovered")  # differences of shares: percentage points
NUMBERS = {
    "nonzero_params": "{:,.0f}",
    "dense_bytes": "{:,.0f}",
    "best_format_bytes": "{:,.0f}",
    "theoretical_speedup": "{:.2f}x",
    "seconds": "{:.1f}",
    "test_perplexity": "{:.2f}",
    "val_perplexity": "{:.2f}",
    "dense_test_perplexity": "{:.2f}",
}
PERPLEXITY_COLUMNS = (
    "test_perplexity",
    "val_perplexity",
    "dense_test_perplexity",
    "perplexity_delta",
)
AFTER_PRUNING_PERPLEXITY = "val perplexity right after pruning (before finetuning)"


def _shown(chosen: pd.DataFrame, column: str) -> bool:
    """Accuracy runs keep their rows as before; perplexity runs drop rows nobody filled."""
    if frame_metric(chosen) != PERPLEXITY:
        return column not in PERPLEXITY_COLUMNS
    return bool(pd.to_numeric(chosen[column], errors="coerce").notna().any())


def groups(chosen: pd.DataFrame) -> pd.DataFrame:
    """One row per seed group of ``chosen`` (in order): its label, newest id and member ids."""
    rows = []
    for key in dict.fromkeys(chosen["group"]):
        members = chosen[chosen["group"] == key]
        first = members.iloc[0]
        seeds = sorted(int(seed) for seed in members["seed"])
        label = first["run"]
        if len(members) > 1:
            label = f"{label.rsplit(' s', 1)[0]} · {len(members)} seeds"
        rows.append(
            {"label": label, "id": int(first["id"]), "ids": list(members["id"]), "seeds": seeds}
        )
    return pd.DataFrame(rows, columns=["label", "id", "ids", "seeds"])


def cell(values: pd.Series, column: str, perplexity: bool = False) -> str:
    """One metric of a group: the value, or ``mean ± std (n)`` over several seeds.

    ``perplexity``: ``val_after_pruning`` holds a perplexity (a number, not a share).
    """
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    if numbers.empty:
        return "-"
    scale = 1024 if column.endswith("_bytes") else 1
    mean, std = numbers.mean() / scale, numbers.std() / scale if len(numbers) > 1 else 0.0
    if column in POINTS:
        text, spread = f"{mean * 100:+.1f} pp", f" ± {std * 100:.1f}"
    elif column == "perplexity_delta":
        text, spread = f"{mean:+.2f} ppl", f" ± {std:.2f}"
    elif column in NUMBERS or (column, perplexity) == ("val_after_pruning", True):
        fmt = NUMBERS.get(column, "{:.2f}")
        text, spread = fmt.format(mean), " ± " + fmt.format(std)
    else:
        text, spread = f"{mean:.2%}", f" ± {std * 100:.2f} pp"
    return f"{text}{spread} ({len(numbers)})" if len(numbers) > 1 else text


def metrics_table(chosen: pd.DataFrame, grouped: pd.DataFrame | None = None) -> pd.DataFrame:
    """Metrics as rows, runs (or seed groups) as columns, formatted for reading.

    Args:
        chosen: ``runs_frame`` rows.
        grouped: :func:`groups` of ``chosen`` (default: every run its own column).
    """
    if grouped is None:
        grouped = pd.DataFrame(
            {"label": chosen["run"], "ids": [[run_id] for run_id in chosen["id"]]}
        )
    table = {}
    lm = chosen["metric"].eq(PERPLEXITY) if "metric" in chosen else chosen["id"].isna()
    for column in (column for column in METRICS if column in chosen and _shown(chosen, column)):
        if column == "val_after_pruning":  # each run's own metric: one row per metric
            table.update(_after_pruning_rows(chosen, grouped, lm))
            continue
        table[METRICS[column]] = [
            cell(chosen.loc[chosen["id"].isin(ids), column], column) for ids in grouped["ids"]
        ]
    return pd.DataFrame.from_dict(table, orient="index", columns=list(grouped["label"]))


def _after_pruning_rows(
    chosen: pd.DataFrame, grouped: pd.DataFrame, lm: pd.Series
) -> dict[str, list[str]]:
    """The val metric right after pruning: an accuracy row, a perplexity row, or both."""
    rows = {}
    for perplexity, label in (
        (False, METRICS["val_after_pruning"]),
        (True, AFTER_PRUNING_PERPLEXITY),
    ):
        part = chosen[lm == perplexity]
        if perplexity and not part["val_after_pruning"].notna().any():
            continue
        if not perplexity and lm.all():
            continue
        rows[label] = [
            cell(
                part.loc[part["id"].isin(ids), "val_after_pruning"], "val_after_pruning", perplexity
            )
            for ids in grouped["ids"]
        ]
    return rows


def random_baseline(runs: pd.DataFrame, run: pd.Series) -> pd.Series | None:
    """The newest finished run with ``run``'s recipe but the random criterion (same seed first)."""
    if run["criterion"] == "random":
        return None
    recipe = json.loads(run["group"])
    recipe["criterion"] = "random"
    twin = json.dumps(recipe, sort_keys=True)
    matches = runs[(runs["group"] == twin) & (runs["state"] == "done")]
    if matches.empty:
        return None
    same_seed = matches[matches["seed"] == run["seed"]]
    return (same_seed if not same_seed.empty else matches).iloc[0]
