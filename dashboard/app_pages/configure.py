"""Configure: build a recipe, see what it does to every layer, queue a run or a sweep."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import services
from dashboard.charts import metric as metric_chart
from dashboard.components import model_form, recipe_form, training_form, widgets

SECTION_OF = {
    "model": "model",
    "weights": "model",
    "data": "model",
    "schedule": "schedule",
    "finetune": "training",
    "calibration": "training",
    "precision": "training",
    "seed": "training",
}

st.title("Configure a run")
st.caption(
    "Pick a model, a criterion and a sparsity format; problems show up here before anything runs."
)

slots: dict[str, Any] = {}
top_left, top_right = st.columns([1.3, 2.4], gap="large")
with top_left, st.container(border=True):
    st.subheader("Model")
    choice = model_form.model_section()
    slots["model"] = st.container()
if choice.model is None:  # nothing to configure yet (e.g. no local checkpoint found)
    with slots["model"]:
        for issue in choice.issues:
            widgets.show_issue(issue.field, issue.message, form=True)
    st.stop()
model, weights, data = choice.model, choice.weights, choice.data
if not choice.issues:  # the Sensitivity page offers this model and data too
    st.session_state["configured_model"] = {"model": model, "weights": weights, "data": data}
with top_right, st.container(border=True):
    measure_key = f"measure_dense_{model}_{weights}_{data}"
    facts = services.model_summary(model, weights, data, st.session_state.get(measure_key, False))
    metric = facts["metric"]
    cols = st.columns(4)
    params = facts["params"]
    cols[0].metric(
        "parameters",
        widgets.fmt_count(params) if params else "n/a",
        help=f"{params:,} parameters" if params else None,
    )
    size = facts["size_bytes"]
    cols[1].metric("dense size (fp32)", widgets.fmt_bytes(size) if size else "n/a")
    for col, split in zip(cols[2:], ("val", "test"), strict=True):
        col.metric(
            f"dense {split} {metric}",
            metric_chart.fmt(facts[split], metric),
            help="lower is better" if metric == metric_chart.PERPLEXITY else None,
        )
    if facts["note"]:
        st.caption(f":material/warning: {widgets.plain(facts['note'])}")
    if not facts["measured"]:
        st.caption(f"A large model: its dense {metric} is measured on request (minutes on a CPU).")
        if st.button(f"Measure dense {metric}", key="measure_dense"):
            st.session_state[measure_key] = True
            st.rerun()
    layer_slot = st.container()

left, right = st.columns(2, gap="large")
with left, st.container(border=True):
    st.subheader("Pruning")
    pruning, form_issues = recipe_form.pruning_section(model, weights, data)
    draft: dict[str, Any] = {"model": model, "weights": weights, "data": data, **pruning}
    slots["pruning"] = st.container()
with right, st.container(border=True):
    st.subheader("Schedule")
    draft["schedule"] = training_form.schedule_section()
    slots["schedule"] = st.container()
    st.subheader("Finetuning")
    draft["finetune"] = training_form.finetune_section()
    with st.expander("Calibration data (gradient, Taylor and activation criteria)"):
        draft["calibration"] = training_form.calibration_section()
    draft["precision"], draft["seed"] = training_form.output_section()
    slots["training"] = st.container()

recipe, problems, plan = services.check_recipe(draft)
# what was typed or uploaded, then everything the engine's check finds
issues = list(dict.fromkeys(choice.issues + form_issues + problems))  # each shown once
for issue in issues:  # every problem is shown, so the count below matches what is on screen
    with slots[SECTION_OF.get(issue.field.split(".")[0], "pruning")]:
        widgets.show_issue(issue.field, issue.message, form=True)
warnings = services.guardrails(recipe, plan) if recipe is not None and not issues else []
for warning in warnings:  # advice, never a block: the recipe still queues
    with slots["pruning"]:
        widgets.show_warning(warning.field, warning.message, form=True)

with layer_slot:
    st.markdown("**Layers and what this recipe does to them**")
    st.dataframe(
        plan,
        hide_index=True,
        width="stretch",
        column_order=["layer", "type", "shape", "params", "macs", "plan"],
        column_config={
            "layer": st.column_config.TextColumn("layer", width="medium"),
            "params": st.column_config.NumberColumn(format="localized"),
            "macs": st.column_config.NumberColumn("MACs / sample", format="localized"),
            "plan": st.column_config.TextColumn("plan", width="large"),
        },
    )

st.divider()
if recipe is not None and not issues:
    guess = services.estimate(recipe, plan, facts["size_bytes"] or 0)
    st.markdown("**Estimate before running** (assumes every pruned layer reaches the target)")
    cols = st.columns(4)
    cols[0].metric("pruned layers", guess["pruned_layers"])
    cols[1].metric(
        "weights removed",
        f"{guess['weights_removed']:,.0f}",
        help=f"{guess['layer_sparsity']:.1%} of the prunable layers' weights",
    )
    cols[2].metric(
        "theoretical speedup",
        f"{guess['theoretical_speedup']:.2f}x",
        help="MACs ratio of Linear/Conv layers; not a measured time",
    )
    cols[3].metric(
        f"size at {recipe.precision} (dense storage)", widgets.fmt_bytes(guess["size_bytes"])
    )
    with st.expander("Recipe YAML (what the run and the export will contain)"):
        st.code(recipe.to_yaml(), language="yaml")
else:
    count = len(issues)  # the red boxes above, one per problem
    st.warning(f"Fix the {count} problem{'s' if count > 1 else ''} above to queue this recipe.")

run_col, sweep_col = st.columns([1, 2], gap="large")
with run_col:
    if st.button(
        "Queue run",
        type="primary",
        key="queue_run",
        disabled=bool(issues) or recipe is None,
        width="stretch",
    ):
        run_id = services.queue_run(recipe)
        services.start_worker_if_needed()
        st.session_state["last_queued"] = [run_id]
        st.rerun()  # redraw everything, sidebar counts included
    if st.session_state.get("last_queued"):
        queued = st.session_state["last_queued"]
        what = (
            f"#{queued[0]}"
            if len(queued) == 1
            else f"{len(queued)} runs, #{queued[0]} to #{queued[-1]}"
        )
        st.success(f"Queued {what}.")
        st.page_link(
            "app_pages/runs.py",
            label="Follow progress on the Runs page",
            icon=":material/arrow_forward:",
        )

with sweep_col, st.expander("Sweep: criteria x sparsities x seeds", expanded=False):
    fixed = recipe is not None and recipe.structure.implied_sparsity is not None
    chosen, text, seeds_text = training_form.sweep_section(fixed)
    try:
        sparsities = [float(part) for part in text.split(",") if part.strip()]
        seeds = [int(part) for part in seeds_text.split(",") if part.strip()]
        recipes = (
            services.sweep_recipes(recipe, chosen, sparsities, seeds) if recipe is not None else []
        )
    except ValueError as error:
        field = getattr(error, "field", "sweep")
        widgets.show_issue(
            field, getattr(error, "message", "sparsities and seeds are comma-separated numbers")
        )
        recipes = []
    sweep_issues = services.check_sweep(recipes) if recipes and not issues else []
    for issue in sweep_issues:
        widgets.show_issue(issue.field, issue.message)
    label = f"Queue sweep ({len(recipes)} runs)"
    if st.button(
        label,
        key="queue_sweep",
        disabled=bool(issues or sweep_issues) or not recipes,
        width="stretch",
    ):
        st.session_state["last_queued"] = services.queue_sweep(recipes)
        services.start_worker_if_needed()
        st.rerun()
