"""Cards several pages share: where 2:4 GPU speedups stand, and how to get started."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import services
from dashboard.charts import queue as queue_text
from dashboard.components import widgets

GPU_TITLE = "2:4 GPU speedup"


def gpu_card(summary: dict[str, Any] | None = None, key: str = "gpu") -> None:
    """Measured on <device>, <date>; measuring now; or not measured yet and how. Never blank.

    Args:
        summary: a 2:4 run's summary, whose ``measured_2of4`` plan (if any) says which of
            its layers measured faster as 2:4.
        key: a unique key for the card's button.
    """
    status = services.gpu.status()
    with st.container(border=True):
        if status["state"] == "stored":
            rows = status["rows"]
            st.markdown(
                f"**{GPU_TITLE}**: measured on **{widgets.plain(status['device'])}**, "
                f"{status['date']}"
            )
            st.caption(
                f"{len(rows)} timed shapes; median {rows['speedup'].median():.2f}x, best "
                f"{rows['speedup'].max():.2f}x against dense (CUDA events; "
                "benchmarks/results/gpu/)." + _run_plan((summary or {}).get("measured_2of4"))
            )
        elif status["state"] == "measuring":
            st.markdown(f"**{GPU_TITLE}**: measuring on **{widgets.plain(status['device'])}** now")
            st.caption("The quick benchmark runs in the background; results appear here.")
        elif status["state"] == "live":
            st.markdown(
                f"**{GPU_TITLE}**: not measured yet; this machine has a CUDA GPU "
                f"(**{widgets.plain(status['device'])}**)."
            )
            if st.button("Measure 2:4 on this GPU now (about a minute)", key=f"{key}_measure"):
                services.gpu.measure_now()
                st.rerun()
        else:
            st.markdown(f"**{GPU_TITLE}**: not measured on a GPU yet.")
            st.caption(
                "2:4 kernels need an NVIDIA GPU (Ampere or newer); this machine has none. "
                "On a machine with one, run:"
            )
            st.code(status["command"], language="bash")


def _run_plan(plan: dict[str, Any] | None) -> str:
    if not plan or not plan.get("device"):
        return ""
    converted = plan.get("converted") or {}
    dense = plan.get("left_dense") or {}
    return (
        f" For this run: {len(converted)} of {len(converted) + len(dense)} 2:4 layers measured "
        f"faster than dense on {plan['device']}."
    )


def getting_started(page: str) -> None:
    """On a store without finished runs: what to do, and one click for an example sweep."""
    counts = services.store().counts()
    with st.container(border=True):
        if counts["queued"] or counts["running"]:
            view = services.queue_view()
            eta = view["eta_s"].max() if not view.empty else None
            st.info(
                f"{counts['queued'] + counts['running']} run(s) queued or running; this page "
                f"fills in as they finish (all done in about {queue_text.duration_text(eta)}).",
                icon=":material/hourglass_top:",
            )
            st.page_link("app_pages/runs.py", label="Follow them on the Runs page",
                         icon=":material/arrow_forward:")  # fmt: skip
            return
        st.markdown("#### Get started")
        st.markdown(
            "No finished runs yet. This page compares finished runs; to see it work, queue "
            f"a small example sweep: **{services.example_text()}**, "
            f"{services.example_size()} runs of a few seconds each. Or configure your own run."
        )
        left, right = st.columns([1, 1])
        if left.button(
            f"Queue the example sweep ({services.example_size()} runs)",
            key=f"example_{page}",
            type="primary",
            icon=":material/play_arrow:",
            width="stretch",
        ):
            try:
                ids = services.queue_example()
            except services.UserInputError as error:
                widgets.show_issue(error.field, error.message)
                return
            services.start_worker_if_needed()
            st.session_state["example_queued"] = ids
            st.rerun()
        with right:
            st.page_link("app_pages/configure.py", label="Configure a run",
                         icon=":material/tune:")  # fmt: skip
