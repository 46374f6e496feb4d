"""Reusable pieces of the pages: sidebar status, run pickers, progress rows, errors."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import services
from dashboard.charts import queue as queue_text
from dashboard.components import controls

FORM_PREFIX = "cfg_"
# characters that start Markdown (or Streamlit directive / HTML) syntax inside a line
_MARKDOWN = re.compile(r"([\\`*_\[\]{}<>#|~$:!])")


def plain(text: object) -> str:
    """``text`` escaped for Markdown: file names, paths and messages show as written.

    A name like ``[x](javascript:...)`` or ``<img ...>`` then stays text, never a link
    or an element.
    """
    return _MARKDOWN.sub(r"\\\1", str(text)).replace("\n", "  \n")


def keep_widget_state() -> None:
    """Keep the Configure form's values when the user visits another page and returns.

    Streamlit forgets a widget's value when the widget is not drawn in a run;
    writing the value back under its key makes it ordinary session state.
    """
    for key in list(st.session_state.keys()):
        if isinstance(key, str) and key.startswith(FORM_PREFIX):
            st.session_state[key] = st.session_state[key]


def form_key(key: str, default: Any) -> str:
    """``key`` with ``default`` put into session state once (never as ``value=``).

    A value then survives page switches without Streamlit's "default value and session
    state" warning.
    """
    st.session_state.setdefault(key, default)
    return key


def pick(label: str, options: list[str], key: str, **kwargs: Any) -> str:
    """A select box whose remembered value is dropped (for the first option) when it is no
    longer offered, e.g. a file that went away or a model whose data choices differ."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = options[0]
    return str(st.selectbox(label, options, key=key, **kwargs))


def choices(field: str) -> list[str]:
    """Allowed values of a recipe field (read from the engine's recipe model)."""
    return services.recipe_choices()[field]


def sidebar_status() -> None:
    """Queue counts, worker state and where the store lives."""
    counts = services.store().counts()
    with st.sidebar:
        st.caption("Run queue")
        st.markdown(
            f":material/schedule: **{counts['queued']}** queued · "
            f":material/play_circle: **{counts['running']}** running  \n"
            f"{counts['done']} done · {counts['failed']} failed · {counts['cancelled']} cancelled"
        )
        workers = services.worker_lines()
        if workers:
            st.caption("Worker: " + "; ".join(workers))
            if st.button(
                "Stop worker",
                key="stop_worker",
                icon=":material/stop_circle:",
                help="Stops the worker process; a run in progress goes back to the queue "
                "and waits for the next worker. A worker this dashboard started also "
                "stops when the dashboard stops.",
            ):
                stopped = services.stop_all_workers()
                st.toast(f"Stopped worker pid {', '.join(map(str, stopped)) or '-'}")
                st.rerun()
        elif problem := services.worker_problem():
            st.error("**worker**: the worker process exited while starting:")
            st.code(problem, language=None)
        elif counts["queued"]:
            st.warning(
                "Runs are queued but no worker is running. Start one with `pruning-core worker`."
            )
            if st.button("Start a worker", key="start_worker", icon=":material/play_circle:"):
                services.start_worker_if_needed()
                st.rerun()
        else:
            st.caption("Worker: none running (one starts when you queue a run)")
        st.caption(plain(queue_text.executor_text(services.executor_info())))
        st.caption(f"Store: {plain(services.store().path)}")


def exposure_warning() -> None:
    """Say so when the server listens on more than this machine's loopback address."""
    address = st.get_option("server.address")
    if st.runtime.exists() and address not in ("127.0.0.1", "localhost", "::1"):
        st.sidebar.warning(
            f"Listening on {plain(address or 'every network interface')}: other machines can "
            "reach this dashboard. Start it with `bash scripts/dashboard.sh`, or pass "
            "`--server.address 127.0.0.1`."
        )


def plugin_warning() -> None:
    """One line on every page when a plugin in ``PRUNING_CORE_PLUGINS`` could not be loaded."""
    problem = services.plugin_problem()
    if problem is not None:
        show_issue("PRUNING_CORE_PLUGINS", problem)


def show_issue(field: str, message: str, form: bool = False) -> None:
    """A user error naming the field (never a traceback); values in it stay plain text.

    With ``form``, about a recipe field of the Configure form: the message names the
    on-screen control too (``**start step** (schedule.start_step): ...``).
    """
    st.error(_titled(field, message, form), icon=":material/error:")


def show_warning(field: str, message: str, form: bool = False) -> None:
    """A warning (nothing is blocked) worded like :func:`show_issue`."""
    st.warning(_titled(field, message, form), icon=":material/warning:")


def _titled(field: str, message: str, form: bool) -> str:
    name = controls.control(field) if form else None
    if name is None or name == field:
        return f"**{plain(field)}**: {plain(message)}"
    return f"**{plain(name)}** ({plain(field)}): {plain(message)}"


def run_picker(
    runs: pd.DataFrame, label: str, key: str, default_id: int | None = None, help: str | None = None
) -> int | None:
    """Select one run by its label; returns the run id."""
    if runs.empty:
        return None
    ids = [int(run_id) for run_id in runs["id"]]
    labels = dict(zip(ids, runs["run"], strict=True))
    if key in st.session_state and st.session_state[key] not in ids:
        del st.session_state[key]
    index = ids.index(default_id) if default_id in ids else 0
    return st.selectbox(
        label, ids, index=index, key=key, format_func=lambda run_id: labels[run_id], help=help
    )


def runs_picker(
    runs: pd.DataFrame, label: str, key: str, default: Iterable[int], max_runs: int
) -> list[int]:
    """Select several runs by label (at most ``max_runs``); returns their ids."""
    ids = [int(run_id) for run_id in runs["id"]]
    labels = dict(zip(ids, runs["run"], strict=True))
    if key in st.session_state:
        st.session_state[key] = [run_id for run_id in st.session_state[key] if run_id in ids]
        return st.multiselect(
            label, ids, key=key, format_func=lambda r: labels[r], max_selections=max_runs
        )
    return st.multiselect(
        label,
        ids,
        default=[run_id for run_id in default if run_id in ids],
        key=key,
        format_func=lambda r: labels[r],
        max_selections=max_runs,
    )


def progress_row(run: pd.Series, wait: dict[str, Any] | None = None) -> None:
    """One queued or running run: label, progress bar or queue position and ETA, cancel.

    ``wait``: the run's row of ``services.queue_view()`` (position, expected_s, eta_s).
    """
    wait = wait or {}
    left, right = st.columns([6, 1], vertical_alignment="center")
    with left:
        name = f"**{plain(run['run'])}** · {plain(run['model'])}"
        if run["state"] == "running":
            text = f"{name} · {plain(run['phase'])} {run['progress']:.0%}"
            if run["message"]:
                text += f" · {plain(run['message'])}"
            if wait.get("eta_s") is not None:
                text += f" · about {queue_text.duration_text(wait['eta_s'])} left"
            st.progress(float(run["progress"]), text=text)
        else:
            st.markdown(f":material/schedule: {name} · queued{_wait_text(wait)}")
    with right:
        disabled = bool(run["cancel_requested"])
        if st.button(
            "Cancelling..." if disabled else "Cancel",
            key=f"cancel_{run['id']}",
            disabled=disabled,
            width="stretch",
        ):
            services.cancel(int(run["id"]))
            st.rerun()


def _wait_text(wait: dict[str, Any]) -> str:
    """`` · #2 in the queue · done in about 3 min (from 4 similar runs)``."""
    if not wait.get("position"):
        return ""
    text = f" · #{int(wait['position'])} in the queue"
    if wait.get("eta_s") is not None and wait.get("eta_s") == wait.get("eta_s"):
        similar = int(wait.get("similar") or 0)
        at_least = "at least " if wait.get("partial") else "about "
        text += f" · done in {at_least}{queue_text.duration_text(wait['eta_s'])}"
        text += f" (from {similar} similar finished run{'s' if similar != 1 else ''})"
    else:
        text += " · no similar finished run yet to estimate its time"
    return text


def fmt_pp(delta: object) -> str:
    """A difference of two shares in percentage points: ``-0.006`` -> ``-0.6 pp``."""
    ok = isinstance(delta, int | float) and pd.notna(delta)
    return f"{delta * 100:+.1f} pp" if ok else "n/a"  # type: ignore[operator]


def fmt_pct(value: object) -> str:
    """``0.923`` -> ``92.3%``; missing -> ``n/a``."""
    return f"{value:.1%}" if isinstance(value, int | float) and pd.notna(value) else "n/a"


def fmt_bytes(size: float) -> str:
    """``456 KiB`` below 1 MiB, else ``8.5 MiB`` or ``13.4 GiB``."""
    if size < 1024**2:
        return f"{size / 1024:,.0f} KiB"
    if size < 1024**3:
        return f"{size / 1024**2:,.1f} MiB"
    return f"{size / 1024**3:,.1f} GiB"


def fmt_count(count: float) -> str:
    """``116,618`` below a million, else ``2.23 M`` or ``6.74 B``."""
    if count < 1e6:
        return f"{count:,.0f}"
    return f"{count / 1e6:,.2f} M" if count < 1e9 else f"{count / 1e9:,.2f} B"
