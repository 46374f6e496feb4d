"""Export: the recipe (re-runs with ``pruning-core run``), pruned weights and results as files."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import services
from dashboard.charts import display, metric, tables
from dashboard.components import widgets

st.title("Export")
runs = services.runs_frame(("done",))
if runs.empty:
    st.info("No finished runs yet; queue one on the Configure page.")
    st.stop()

picked = widgets.run_picker(runs, "run", key="export_run")
if picked is None:
    st.stop()
run_id = int(picked)
document = services.results(run_id)
recipe_file = services.artifact_path(run_id, "recipe.yaml")
if document is None or not recipe_file.is_file():
    widgets.show_issue(
        "artifacts", f"the files of run #{run_id} are missing from '{recipe_file.parent}'"
    )
    st.stop()

stem = f"run_{run_id}"
recipe_text = recipe_file.read_text(encoding="utf-8")
summary = document["summary"]
cols = st.columns(4)
cols[0].download_button(
    "Recipe (YAML)",
    recipe_text,
    file_name=f"{stem}_recipe.yaml",
    mime="application/x-yaml",
    key="export_recipe",
    type="primary",
    width="stretch",
    icon=":material/description:",
)
weights = services.artifact_path(run_id, "model.safetensors")
cols[1].download_button(
    "Pruned weights (safetensors)",
    lambda: weights.read_bytes(),
    file_name=f"{stem}_model.safetensors",
    mime="application/octet-stream",
    key="export_weights",
    width="stretch",
    icon=":material/memory:",
)
if services.hf_folder(run_id) is not None:  # LLM runs: config, tokenizer, weights
    st.download_button(
        "Hugging Face folder (zip)",
        lambda: services.hf_zip(run_id),
        file_name=f"{stem}_hf.zip",
        mime="application/zip",
        key="export_hf",
        icon=":material/folder_zip:",
        help="The run's hf/ folder (config.json, tokenizer, model.safetensors): loads with "
        "transformers' from_pretrained once unzipped",
    )
cli_csv = services.artifact_path(run_id, "layers.csv")  # what `pruning-core run` writes
layers_csv = (
    cli_csv.read_text(encoding="utf-8")
    if cli_csv.is_file()
    else display.layer_table(document["layers"]).to_csv(index=False)  # shapes as AxB too
)
cols[2].download_button(
    "Per-layer results (CSV)",
    layers_csv,
    file_name=f"{stem}_layers.csv",
    mime="text/csv",
    key="export_layers",
    width="stretch",
    icon=":material/table:",
)
summary_row = {"run": run_id, **tables.flatten_recipe(document["recipe"]), **summary}
cols[3].download_button(
    "Summary (CSV)",
    pd.DataFrame([summary_row]).to_csv(index=False),
    file_name=f"{stem}_summary.csv",
    mime="text/csv",
    key="export_summary",
    width="stretch",
    icon=":material/summarize:",
)

left, right = st.columns(2, gap="large")
with left:
    st.markdown("**recipe.yaml**")
    st.code(recipe_text, language="yaml")
with right:
    field, label, _ = metric.metric_of(summary)
    accuracy = summary.get(field)
    st.markdown("**Reproduce outside the browser**")
    st.code(f"pruning-core run {stem}_recipe.yaml --out {stem}", language="bash", wrap_lines=True)
    st.markdown(
        f"Same seed, same numbers: expect {label.split(' (')[0]} "
        f"**{'n/a' if accuracy is None else f'{accuracy:.4f}'}** and sparsity "
        f"**{summary['sparsity_pruned_layers']:.3f}** (pruned layers)."
    )
    if document["recipe"].get("weights"):
        st.caption(
            "This recipe points at uploaded weights kept in the run store's folder; copy that file "
            "along and adjust `weights:` to run it on another machine."
        )
    st.markdown("**Files**")
    st.markdown(
        "- *recipe*: every field of the run, defaults resolved\n"
        "- *pruned weights*: safetensors, zeros in place, at the run's precision\n"
        "- *per-layer results*: the run's `layers.csv`, as the CLI writes it (shapes as `AxB`)\n"
        "- *summary*: recipe fields and metrics in one row"
    )

st.subheader("All finished runs")
st.download_button(
    "Every finished run's summary (CSV)",
    runs.to_csv(index=False),
    file_name="runs_summary.csv",
    mime="text/csv",
    key="export_all",
)
