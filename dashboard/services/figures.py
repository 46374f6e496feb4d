"""Figures of finished runs, cached: a finished run's artifacts never change.

Keys include the results file's modification time, so a store that is replaced
(ids start again at 1) never shows a stale figure.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import charts
from dashboard.services.results import results
from dashboard.services.store import artifact_path, store


def _stamp(run_id: int) -> float:
    path = artifact_path(run_id, "results.json")
    return path.stat().st_mtime if path.is_file() else 0.0


def run_layers(run_id: int, title: str = "Sparsity per layer", height: int = 380) -> go.Figure:
    """Per-layer sparsity of one finished run, with its target."""
    return _run_layers(run_id, _stamp(run_id), str(store().path), title, height)


@st.cache_resource(max_entries=512, show_spinner=False)
def _run_layers(run_id: int, stamp: float, store: str, title: str, height: int) -> go.Figure:
    document = results(run_id) or {"layers": [], "summary": {}}
    figure = charts.layer_sparsity_chart(
        pd.DataFrame(document["layers"]), document["summary"].get("target_sparsity"), title=title
    )
    return figure.update_layout(height=height)


def run_curves(run_id: int) -> go.Figure:
    """Accuracy and sparsity per optimizer step of one finished run."""
    return _run_curves(run_id, _stamp(run_id), str(store().path))


@st.cache_resource(max_entries=512, show_spinner=False)
def _run_curves(run_id: int, stamp: float, store: str) -> go.Figure:
    document = results(run_id) or {"curves": []}
    return charts.curves_chart(pd.DataFrame(document["curves"]))


def overlays(labels: dict[int, str]) -> tuple[go.Figure, go.Figure]:
    """Per-layer sparsity and curves of several finished runs, overlaid."""
    key = tuple((run_id, label, _stamp(run_id)) for run_id, label in labels.items())
    return _overlays(key, str(store().path))


@st.cache_resource(max_entries=128, show_spinner=False)
def _overlays(key: tuple[tuple[int, str, float], ...], store: str) -> tuple[go.Figure, go.Figure]:
    documents = {label: results(run_id) or {} for run_id, label, _ in key}
    layers = pd.concat(
        [pd.DataFrame(doc.get("layers", [])).assign(run=label) for label, doc in documents.items()]
    )
    curves = pd.concat(
        [pd.DataFrame(doc.get("curves", [])).assign(run=label) for label, doc in documents.items()]
    )
    targets = {
        label: doc.get("summary", {}).get("target_sparsity") for label, doc in documents.items()
    }
    return (
        charts.layer_sparsity_chart(layers, targets, title="Per-layer sparsity, overlaid"),
        charts.curves_chart(curves, overlaid=True),
    )
