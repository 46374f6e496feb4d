"""Every run as one flat row (recipe, state, summary and facts read from its results).

Cached until any run changes (the store's fingerprint); each finished run's facts are
cached by its results file's modification time, so a page with hundreds of runs reads
each ``results.json`` once per dashboard process, not on every rerun.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.charts import facts, tables
from dashboard.services.store import artifact_path, store
from dashboard.services.structures import fixes_sparsity, structure_label


def runs_frame(states: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Every pruning run (or those in ``states``) as one flat row, newest first.

    Done runs carry their facts too: their ``metric`` (accuracy, or perplexity for language
    models), the metric right after pruning (``val_after_pruning``), the formats that apply
    to them and the best one's size (see :mod:`dashboard.charts.facts`), and the change
    against the dense model in their own metric (``accuracy_delta`` or ``perplexity_delta``,
    see :func:`dashboard.charts.tables.add_deltas`).
    """
    return _runs_frame(str(store().path), store().fingerprint(), states)


def run_facts(run_id: int) -> dict[str, Any]:
    """Derived facts of one finished run (empty when its results file is missing).

    Kept in one process-wide table keyed by the file and its modification time: a
    ``st.cache_data`` entry per run would pickle and hash on every one of hundreds of calls.
    """
    path = artifact_path(run_id, "results.json")
    try:
        key = (str(path), path.stat().st_mtime)
    except OSError:
        return {}
    table = _facts_table()
    if key not in table:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if len(table) > MAX_FACTS:
            table.clear()
        table[key] = facts.document_facts(document)
    return dict(table[key])


MAX_FACTS = 20_000


@st.cache_resource(show_spinner=False)
def _facts_table() -> dict[tuple[str, float], dict[str, Any]]:
    return {}


@st.cache_data(show_spinner=False, max_entries=32)
def _runs_frame(
    path: str, fingerprint: tuple[Any, ...], states: tuple[str, ...] | None
) -> pd.DataFrame:
    records = [
        {
            **record.__dict__,
            "structure_label": structure_label(record.recipe.get("structure")),
            "sparsity_fixed": fixes_sparsity(record.recipe.get("structure")),
            "facts": run_facts(record.id) if record.state == "done" else {},
        }
        for record in store().list_runs(states)
        # sensitivity profile jobs are listed on the Sensitivity page, not among pruning runs
        if record.recipe.get("job") is None
    ]
    return tables.runs_table(records)
