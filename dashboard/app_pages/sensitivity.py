"""Sensitivity: per-layer profiles, a live per-layer sparsity editor, runs with that allocation."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard import services
from dashboard.charts import metric as metric_chart
from dashboard.charts import sensitivity as sensitivity_charts
from dashboard.components import sensitivity_sections, widgets
from dashboard.services import sensitivity as profiles

TABLE_COLUMNS = ["layer", "type", "params", "macs", "macs_share", "latency_ms", "latency_share",
                 "sparsity", "loss_delta", "accuracy_delta", "perplexity_delta",
                 "note"]  # fmt: skip
PREDICTION_COLUMNS = {
    "target": "target",
    "predicted_val_after_prune": "predicted val acc after pruning",
    "actual_val_after_prune": "actual val acc after pruning",
    "val_accuracy": "val acc after finetuning",
    "test_accuracy": "test acc after finetuning",
}
PERPLEXITY_COLUMNS = {  # causal LMs' editor runs (lower is better)
    "predicted_val_perplexity_after_prune": "predicted val ppl after pruning",
    "actual_val_perplexity_after_prune": "actual val ppl after pruning",
    "val_perplexity": "val ppl after finetuning",
    "test_perplexity": "test ppl after finetuning",
}

st.title("Sensitivity & per-layer sparsity")
st.caption(
    "Prune one layer at a time to see which layers tolerate sparsity and which cost the most, "
    "then let one slider spread the sparsity over the layers."
)

jobs = profiles.profile_jobs()
with st.expander("Compute a sensitivity profile", expanded=jobs.empty):
    sensitivity_sections.profile_form()


@st.fragment(run_every=1.0 if profiles.active_ids() else None)
def live_jobs() -> None:
    """Running profiles refresh in place; when a profile or editor run ends, the page redraws."""
    active = profiles.active_ids()
    if st.session_state.get("sens_active", active) != active:
        st.session_state["sens_active"] = active
        st.rerun(scope="app")
    st.session_state["sens_active"] = active
    sensitivity_sections.job_list(profiles.profile_jobs())


live_jobs()
profile_id = sensitivity_sections.pick_profile(jobs)
profile = profiles.profile(profile_id) if profile_id is not None else None
if profile is None:
    st.info("No finished profile yet: compute one above (a few seconds for the digits models).")
    st.stop()

job = profile["job"]
metric_name = metric_chart.metric_name(profile)  # perplexity for causal LMs (lower is better)
lm = metric_name == metric_chart.PERPLEXITY
st.caption(
    f"{sensitivity_sections.method_caption(profile)}. "
    f"Grid {', '.join(f'{s:g}' for s in profile['grid'])}; "
    f"{sensitivity_sections.dense_caption(profile)}; "
    f"computed in {profile.get('seconds', 0):.1f} s"
    + (" (from the cache)" if profile.get("from_cache") else "")  # fmt: skip
)
if profile["approximation"]:
    st.warning("This profile is an approximation (Fisher estimate): it ranks layers, "
               "but predicts loss only and underestimates high-sparsity damage.")  # fmt: skip

controls, overrides_column = st.columns([1, 1], gap="large")
with controls, st.container(border=True):
    st.subheader("Budget")
    budget = st.radio(
        "budget", list(sensitivity_sections.BUDGETS), key="sens_budget", horizontal=True,
        format_func=lambda kind: sensitivity_sections.BUDGETS[kind], label_visibility="collapsed",
    )  # fmt: skip
    target = st.slider(
        "average sparsity" if budget == "sparsity" else "MACs removed",
        0, 99, 90, step=1, format="%d%%", key="sens_target",
        help="The allocator redistributes this over the layers at the least predicted loss",
    ) / 100  # fmt: skip
    high = st.number_input(
        "highest sparsity of any layer", 0.0, 0.99, float(profile["grid"][-1]), step=0.01,
        key=f"sens_high_{profile_id}", help="Default: the largest profiled sparsity",
    )  # fmt: skip
with overrides_column, st.container(border=True):
    st.subheader("Per-layer overrides")
    overrides = sensitivity_sections.overrides_editor(profile, int(profile_id or 0))

try:
    proposal = profiles.propose(profile, target, budget, overrides, high)
except services.UserInputError as error:
    widgets.show_issue(error.field, error.message)
    st.stop()
reference = profiles.uniform(profile, proposal["average_sparsity"])
sensitivity_sections.estimate_metrics(proposal, reference, profile)
st.caption(
    (
        "Predicted perplexity is exp(dense validation loss + the single-layer loss increases "
        "added up)"
        if lm
        else "Predicted accuracy adds up the single-layer measurements"
    )
    + " for the model right after pruning, before finetuning; finetuning recovers much of it "
    "(see Predicted vs actual)."
    + (
        " Some layers lie beyond the profiled grid: extrapolated."
        if proposal["extrapolated"]
        else ""
    )
)

layers = pd.DataFrame(proposal["layers"])
st.plotly_chart(
    sensitivity_charts.plan_chart(layers, proposal["average_sparsity"]), key="sens_plan"
)
metric = f"{metric_name}_delta" if st.toggle(
    f"show {metric_name} instead of loss", key="sens_metric", disabled=profile["approximation"]
) else "loss_delta"  # fmt: skip
st.plotly_chart(
    sensitivity_charts.curves_chart(
        pd.DataFrame(profile["rows"]),
        {
            row["layer"]: (row["sparsity"], row.get(metric) or 0.0)
            for row in proposal["layers"]
            if row["layer"] in proposal["sparsity"]
        },
        metric,
        profile["approximation"],
    ),  # fmt: skip
    key="sens_curves",
)
with st.expander("Per-layer table (performance profile and estimates)"):
    st.dataframe(
        layers, hide_index=True, width="stretch",
        column_order=[c for c in TABLE_COLUMNS if c in layers
                      and c != ("accuracy_delta" if lm else "perplexity_delta")],
        column_config={column: st.column_config.NumberColumn(format="percent")
                       for column in ("macs_share", "latency_share", "sparsity",
                                      "accuracy_delta")}
        | {"perplexity_delta": st.column_config.NumberColumn(
            "perplexity_delta (lower is better)", format="%+.2f")},
    )  # fmt: skip
    latency = profile.get("latency") or {}
    if latency:
        st.caption(
            f"CPU latency measured by the profile job on {latency.get('device', '?')}, batch "
            f"{latency.get('batch')}, median of {latency.get('repetitions')} interleaved runs, "
            f"{latency.get('threads')} thread(s), {latency.get('date', '')}."
        )
    if profile.get("latency_files"):
        st.markdown("**Also measured** (benchmark result files, dense layers):")
        st.dataframe(pd.DataFrame(profile["latency_files"]), hide_index=True, width="stretch")

with st.container(border=True):
    st.subheader("Queue a run with this allocation")
    left, middle, right = st.columns([1, 1, 2], vertical_alignment="bottom")
    epochs = left.number_input("finetune epochs", 0, 1000, 2, key="sens_epochs")
    seed = middle.number_input("seed", 0, 2**31 - 1, int(job["seed"]), key="sens_seed")
    base = {key: job[key] for key in ("model", "weights", "criterion", "structure", "skip_layers",
                                      "calibration")}  # fmt: skip
    base |= {"finetune": {"epochs": int(epochs)}, "seed": int(seed)}
    recipe: dict[str, Any] = profiles.allocated_recipe(
        base, profile, target, budget, overrides, high
    )
    problems = profiles.editor_problems(recipe)  # the engine's check, before anything queues
    for problem in problems:
        widgets.show_issue(problem.field, problem.message)
    if right.button(
        "Queue run", type="primary", key="sens_queue", width="stretch", disabled=bool(problems)
    ):
        prediction = {
            "profile_id": profile_id, "target": target, "budget": budget,
            "predicted_val_accuracy": proposal["predicted_val_accuracy"],
            "predicted_loss_delta": proposal["predicted_loss_delta"],
        }  # fmt: skip
        if proposal.get("predicted_val_perplexity") is not None:
            prediction["predicted_val_perplexity"] = proposal["predicted_val_perplexity"]
        try:
            run_id = profiles.queue_editor_run(recipe, prediction)
        except services.UserInputError as error:
            widgets.show_issue(error.field, error.message)
        else:
            services.start_worker_if_needed()
            st.session_state["sens_last_queued"] = run_id
            st.rerun()
    if st.session_state.get("sens_last_queued"):
        st.success(f"Queued #{st.session_state['sens_last_queued']} with this allocation.")
        st.page_link("app_pages/runs.py", label="Follow it on the Runs page",
                     icon=":material/arrow_forward:")  # fmt: skip
    with st.expander(
        "Recipe YAML (explicit per-layer sparsities: reproducible without the profile)"
    ):
        try:
            st.code(profiles.recipe_yaml(recipe), language="yaml")
        except services.UserInputError as error:
            widgets.show_issue(error.field, error.message)

editor_runs = profiles.editor_runs()
if not editor_runs.empty:
    st.subheader("Predicted vs actual")
    st.plotly_chart(sensitivity_charts.prediction_chart(editor_runs), key="sens_predictions")
    st.dataframe(
        editor_runs, hide_index=True, width="stretch",
        column_config={
            column: st.column_config.NumberColumn(label, format="percent")
            for column, label in PREDICTION_COLUMNS.items()
        } | {
            column: st.column_config.NumberColumn(label, format="%.2f")
            for column, label in PERPLEXITY_COLUMNS.items()
        } | {"predicted_loss_delta": st.column_config.NumberColumn("predicted loss +",
                                                                   format="%.3f")},
    )  # fmt: skip
    st.caption(
        "Predicted: the single-layer measurements added up, for the model right after pruning. "
        "Actual: the run's validation accuracy (perplexity for language models, lower is "
        "better) right after pruning (before finetuning), then after finetuning; test "
        "numbers are reported, never used for choices."
    )
