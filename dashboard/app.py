"""Dashboard entry point: ``bash scripts/dashboard.sh`` or ``streamlit run dashboard/app.py``.

It binds 127.0.0.1 only, whatever the working directory: the launcher passes the flags,
and ``dashboard/.streamlit/config.toml`` (found next to this script) says the same.
Optional: ``streamlit run dashboard/app.py -- --store path/to/runs.sqlite`` (or set
``PRUNING_CORE_STORE``) to use another run store; ``PRUNING_CORE_PLUGINS`` names model
plugins, as for the CLI; ``PRUNING_CORE_MODELS`` or ``-- --models-dir DIR`` names the folders
where the model picker looks for your Hugging Face checkpoints, weights, texts and images.
"""

from __future__ import annotations

import streamlit as st

from dashboard import services
from dashboard.components import widgets

st.set_page_config(page_title="Pruning explorer", page_icon="✂️", layout="wide")
widgets.keep_widget_state()
services.configure_roots()  # --models-dir joins PRUNING_CORE_MODELS (engine and workers)

navigation = st.navigation(
    [
        st.Page("app_pages/configure.py", title="Configure", icon=":material/tune:", default=True),
        st.Page(
            "app_pages/runs.py",
            url_path="runs",
            title="Runs",
            icon=":material/format_list_bulleted:",
        ),
        st.Page(
            "app_pages/compare.py",
            url_path="compare",
            title="Compare",
            icon=":material/compare_arrows:",
        ),
        st.Page(
            "app_pages/sweeps.py", url_path="sweeps", title="Sweeps", icon=":material/show_chart:"
        ),
        st.Page(
            "app_pages/sensitivity.py",
            url_path="sensitivity",
            title="Sensitivity",
            icon=":material/equalizer:",
        ),
        st.Page(
            "app_pages/speedups.py",
            url_path="speedups",
            title="Speed & size",
            icon=":material/speed:",
        ),
        st.Page(
            "app_pages/export.py", url_path="export", title="Export", icon=":material/download:"
        ),
    ]
)
widgets.plugin_warning()  # loads PRUNING_CORE_PLUGINS once; a bad one is one line, not a trace
services.start_worker_if_needed()
widgets.sidebar_status()
widgets.exposure_warning()
navigation.run()
