"""Rows for the Speed & size page: model size per format and precision, measured speedups.

Pure table shaping (no Streamlit, no engine): the element widths of each precision come
from the engine through the services.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd


def size_rows(runs: pd.DataFrame, widths: dict[str, int]) -> pd.DataFrame:
    """Model size of each run per storage format and precision.

    Exact bytes (values + indices + metadata) when the run's summary has them
    (``size_bytes_by_format``); otherwise dense storage, scaled from the run's own size.
    ``applies`` is false for a format that holds none of the run's pruned layers (the
    run's ``formats_applicable``, when known): its bytes are the dense model's, so pages
    write "n/a" instead of drawing them.

    Args:
        runs: rows with ``run, size_bytes, precision`` and optionally ``size_bytes_by_format``
            and ``formats_applicable`` (the formats that hold at least one pruned layer).
        widths: bytes per element of each floating-point precision (the engine's table).
    """
    rows = []
    for _, run in runs.dropna(subset=["size_bytes"]).iterrows():
        exact = run.get("size_bytes_by_format")
        if isinstance(exact, dict) and exact:
            known = run.get("formats_applicable")
            rows += [
                {
                    "run": run["run"],
                    "format": fmt,
                    "precision": precision,
                    "size_bytes": size,
                    "kind": "exact bytes: values + indices + metadata",
                    "applies": fmt == "dense"
                    or not isinstance(known, list | set | tuple)
                    or fmt in known,
                }
                for fmt, sizes in exact.items()
                for precision, size in sizes.items()
            ]
            continue
        own = widths.get(run["precision"])  # None (e.g. int8): only the size as saved
        scales = widths if own is not None else {run["precision"]: 1}
        for precision, width in scales.items():
            how = "as saved" if precision == run["precision"] else f"scaled from {run['precision']}"
            rows.append(
                {
                    "run": run["run"],
                    "format": "dense",
                    "precision": precision,
                    "size_bytes": run["size_bytes"] * width / (own or width),
                    "kind": f"dense storage, zeros included; {how}",
                    "applies": True,
                }
            )
    columns = ["run", "format", "precision", "size_bytes", "kind", "applies"]
    return pd.DataFrame(rows, columns=columns)


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
