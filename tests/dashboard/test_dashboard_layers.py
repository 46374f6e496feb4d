"""The dashboard's layering: only ``services`` imports the engine; charts import neither."""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd

from dashboard.charts import sensitivity

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"


def imported(path: Path) -> set[str]:
    """Top-level package names ``path`` imports (``dashboard.charts`` -> ``dashboard.charts``)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_only_services_import_the_engine_and_charts_are_pure() -> None:
    for path in DASHBOARD.rglob("*.py"):
        part = path.relative_to(DASHBOARD).parts[0]
        names = imported(path)
        engine = {name for name in names if name.split(".")[0] == "pruning_core"}
        if part != "services":
            assert not engine, f"{path} imports the engine: {engine}"
        if part == "charts":
            assert not {n for n in names if n.startswith(("streamlit", "dashboard.services"))}, path


def test_services_use_only_the_public_surface_and_the_run_store() -> None:
    for path in (DASHBOARD / "services").glob("*.py"):
        engine = {name for name in imported(path) if name.split(".")[0] == "pruning_core"}
        assert all(
            name == "pruning_core" or name.startswith("pruning_core.runs.") for name in engine
        ), f"{path}: {engine}"


def test_no_module_over_300_lines() -> None:
    for path in DASHBOARD.rglob("*.py"):
        assert len(path.read_text().splitlines()) <= 300, path


def test_sensitivity_curves_mark_the_proposed_points_given() -> None:
    rows = pd.DataFrame(
        {
            "layer": ["a", "a", "b", "b"],
            "sparsity": [0.5, 0.9, 0.5, 0.9],
            "loss_delta": [0.1, 0.4, 0.2, 0.8],
            "accuracy_delta": [-0.01, -0.1, -0.02, -0.2],
        }
    )
    figure = sensitivity.curves_chart(rows, {"a": (0.7, 0.25)})
    names = [trace.name for trace in figure.data]
    assert names == ["a", "a proposed", "b"]
    assert list(figure.data[0].x) == [0.0, 0.5, 0.9]  # the dense point starts each curve
    marker = figure.data[1]
    assert (list(marker.x), list(marker.y), marker.marker.symbol) == ([0.7], [0.25], "diamond")
