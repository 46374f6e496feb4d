"""A crashed run's traceback, kept beside its artifacts (torch-free: the Ray head uses it too)."""

from __future__ import annotations

import sys
from pathlib import Path


def write_error_log(folder: Path, details: str) -> str:
    """Print a crashed run's traceback and keep it as ``error.log``; returns where it is."""
    print(details, file=sys.stderr)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "error.log").write_text(details, encoding="utf-8")
    except OSError as log_error:  # the real reason still reaches the store
        return f"no error.log ({log_error.strerror or log_error}); details in the worker log"
    return f"details in {folder / 'error.log'}"
