"""Model plugins named in ``PRUNING_CORE_PLUGINS``, loaded once per dashboard process.

The same variable the CLI and the worker read (code is never uploaded through the UI).
A plugin that cannot be loaded is reported as one line on every page, never as a trace.
"""

from __future__ import annotations

import os

import streamlit as st

import pruning_core

PLUGINS_ENV = "PRUNING_CORE_PLUGINS"


def plugin_problem() -> str | None:
    """Load the plugins named in the environment (once); why they failed, or ``None``."""
    return _load(os.environ.get(PLUGINS_ENV, ""))


@st.cache_resource(show_spinner="Loading model plugins...")
def _load(targets: str) -> str | None:
    """Keyed by the variable's value, so a changed value is loaded too (tests do that)."""
    if not targets.strip():
        return None
    try:
        pruning_core.load_env_plugins()
    except pruning_core.UserInputError as error:
        return error.message
    return None
