"""The Runs page's table: every run at full height, sortable, rows selectable to compare or
delete (Delete asks first, then says what it removed)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import services
from dashboard.charts import display

ACTIVE = ("queued", "running")
ROW_PX, HEADER_PX = 35, 38
METRIC_HELP = {  # language models are judged by perplexity, lower is better
    name: st.column_config.Column(name, help=text)
    for name, text in {
        "test vs dense": "Test accuracy minus the dense model's, in percentage points",
        "test ppl": "Test perplexity (language models): lower is better",
        "val ppl after pruning": "Validation perplexity right after pruning, before "
        "finetuning: lower is better",
        "ppl vs dense": "Test perplexity minus the dense model's: + is worse",
    }.items()
}


def show(shown: pd.DataFrame) -> list[int]:
    """Draw the table of ``shown`` runs; returns the ids of the selected rows."""
    event = st.dataframe(
        display.runs_view(shown),
        key="runs_table",
        on_select="rerun",
        selection_mode="multi-row",
        width="stretch",
        height=min(HEADER_PX + ROW_PX * max(len(shown), 1) + 2, 10_000),
        column_config={
            "run": st.column_config.TextColumn("run", width="large", pinned=True),
            "state": st.column_config.TextColumn("state", width=90),
            "error": st.column_config.TextColumn("error", width="large"),
            **METRIC_HELP,
        },
    )
    rows = event.selection.rows if event is not None else []
    return [int(shown["id"].iloc[row]) for row in rows if row < len(shown)]


def actions(runs: pd.DataFrame, selected: list[int]) -> None:
    """Compare or delete the selected runs; Delete asks for confirmation first."""
    done = runs[runs["id"].isin(selected) & (runs["state"] == "done")]
    left, right, note = st.columns([1, 1, 3], vertical_alignment="center")
    if left.button(
        f"Compare selected ({len(done)})",
        key="compare_selected",
        icon=":material/compare_arrows:",
        disabled=not 2 <= len(done) <= 4,
        help="Select 2 to 4 finished runs in the table",
        width="stretch",
    ):
        st.session_state["compare_runs"] = [int(run_id) for run_id in done["id"]]
        st.session_state["compare_source"] = "selection"
        st.switch_page("app_pages/compare.py")
    if right.button(
        f"Delete selected ({len(selected)})",
        key="delete_selected",
        icon=":material/delete:",
        disabled=not selected,
        width="stretch",
    ):
        st.session_state["delete_pending_table"] = selected
    note.caption("Tick rows in the table to compare (2-4 finished runs) or delete them.")
    confirm(runs, "table")


def ask_delete(run_ids: list[int], where: str) -> None:
    """Ask for confirmation before deleting ``run_ids`` (shown by ``confirm(runs, where)``)."""
    st.session_state[f"delete_pending_{where}"] = run_ids


def confirm(runs: pd.DataFrame, where: str) -> None:
    """The confirmation step of a pending delete asked at ``where``, then what was removed."""
    key = f"delete_pending_{where}"
    pending = st.session_state.get(key)
    if pending:
        rows = runs[runs["id"].isin(pending)]
        active = rows[rows["state"].isin(ACTIVE)]
        names = ", ".join(rows["run"])
        with st.container(border=True):
            st.warning(
                f"Delete {len(rows)} run(s): {names}? Their results and files are removed "
                "for good." + (
                    f" {len(active)} of them are queued or running and will be kept: "
                    "cancel them first." if not active.empty else ""
                ),
                icon=":material/delete_forever:",
            )  # fmt: skip
            yes, no, _ = st.columns([1, 1, 3])
            if yes.button(
                "Yes, delete", key=f"delete_confirm_{where}", type="primary", width="stretch"
            ):
                report = services.delete_runs([int(run_id) for run_id in pending])
                st.session_state[key] = None
                st.session_state[f"delete_report_{where}"] = report | {
                    "names": _names(runs, report)
                }
                st.rerun()
            if no.button("Keep them", key=f"delete_cancel_{where}", width="stretch"):
                st.session_state[key] = None
                st.rerun()
    report = st.session_state.pop(f"delete_report_{where}", None)
    if report:
        removed = (
            f"Deleted {len(report['deleted'])} run(s) ({report['names']}) and their "
            f"{report['files']} file(s), {report['bytes'] / 1024:,.0f} KiB."
            if report["deleted"]
            else "Nothing was deleted."
        )
        if report["kept"]:
            removed += f" Kept #{', #'.join(map(str, report['kept']))}: still queued or running."
        st.success(removed, icon=":material/check_circle:")


def _names(runs: pd.DataFrame, report: dict) -> str:
    labels = dict(zip(runs["id"], runs["run"], strict=True))
    return ", ".join(labels.get(run_id, f"#{run_id}") for run_id in report["deleted"])
