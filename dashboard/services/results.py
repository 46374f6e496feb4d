"""What finished runs and benchmarks produced: results documents and measured speedups."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

import pruning_core
from dashboard.charts import measured
from dashboard.services.store import artifact_path

RESULTS_ENV = "PRUNING_CORE_RESULTS"  # folder of measured benchmark rows (JSON / CSV)
RESULTS_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


@st.cache_data(show_spinner=False, max_entries=64)
def _results(path: str, stamp: float) -> dict[str, Any]:
    # read as plain JSON: ``pruning_core.load_results`` lives beside the weights writer and
    # would import torch (seconds on a fresh server) for a page that only shows results
    return dict(json.loads(Path(path).read_text(encoding="utf-8")))


def results(run_id: int) -> dict[str, Any] | None:
    """The ``results.json`` document of a finished run, or ``None`` if it is missing."""
    path = artifact_path(run_id, "results.json")
    return _results(str(path), path.stat().st_mtime) if path.is_file() else None


def hf_folder(run_id: int) -> Path | None:
    """The run's Hugging Face folder (``artifacts/<id>/hf/``, LLM runs), if it has one."""
    folder = artifact_path(run_id, "hf")
    return folder if folder.is_dir() and any(folder.iterdir()) else None


def hf_zip(run_id: int) -> bytes:
    """The run's ``hf/`` folder as a zip built in memory, under ``run_<id>_hf/``.

    Weights are stored as they are (they hardly compress); config and tokenizer files are
    deflated. Empty bytes when the run has no such folder.
    """
    folder = hf_folder(run_id)
    buffer = io.BytesIO()
    if folder is None:
        return b""
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
            packed = path.suffix in (".safetensors", ".bin", ".pt")
            archive.write(
                path,
                f"run_{run_id}_hf/{path.relative_to(folder).as_posix()}",
                compress_type=zipfile.ZIP_STORED if packed else zipfile.ZIP_DEFLATED,
            )
    return buffer.getvalue()


def measurements() -> pd.DataFrame:
    """Measured speedups from benchmark result files (empty until measurements exist)."""
    folder = Path(os.environ.get(RESULTS_ENV) or RESULTS_DIR)
    files = sorted(folder.glob("*.json")) + sorted(folder.glob("*.csv"))
    return _measurements(tuple((str(file), file.stat().st_mtime) for file in files))


@st.cache_data(show_spinner=False, max_entries=8)
def _measurements(files: tuple[tuple[str, float], ...]) -> pd.DataFrame:
    """Keyed by every file's path and modification time: a new or changed file is read."""
    return measured.measured_rows([Path(path) for path, _ in files])


def size_rows(runs: pd.DataFrame) -> pd.DataFrame:
    """Each run's size per storage format and precision (see ``measured.size_rows``)."""
    return measured.size_rows(runs, dict(pruning_core.BYTES_PER_ELEMENT))


def this_device() -> str:
    """This machine, in the words benchmark rows use for ``device`` (``cpu: <model>``)."""
    return f"cpu: {pruning_core.cpu_model()}"
