"""Compare: finished runs side by side (seeds grouped), the random baseline pinned on demand."""

from __future__ import annotations

import html

import pandas as pd
import streamlit as st

from dashboard import services
from dashboard.charts import compare, facts, metric, tables
from dashboard.components import cards, widgets
from dashboard.services import figures

HIGHLIGHT = "background-color: #fef3c7; font-weight: 600"

st.title("Compare runs")
runs = services.runs_frame(("done",))
if runs.empty:
    cards.getting_started("compare")
    st.stop()
if len(runs) < 2:
    st.info("Comparing needs at least two finished runs; queue another on the Configure page.")
    st.stop()

same_model = runs[runs["model"] == runs["model"].iloc[0]]  # the newest run's model
ids = widgets.runs_picker(
    runs,
    "runs to compare (default: the newest two of the newest run's model)",
    key="compare_runs",
    default=sorted(int(run_id) for run_id in same_model["id"][:2]),
    max_runs=4,
)
left, right = st.columns(2)
pin = left.toggle(
    "pin the matching random-baseline run",
    key="compare_baseline",
    help="The newest finished run with the same recipe but the random criterion",
)
by_seed = right.toggle(
    "group runs that differ only by seed (mean ± std)", value=True, key="compare_seeds"
)
if len(ids) < (1 if pin else 2):
    st.info("Pick at least two runs (or one, with its random baseline pinned).")
    st.stop()

ids, pinned = list(ids), set()
for _, run in runs.set_index("id").loc[list(ids)].reset_index().iterrows():
    twin = compare.random_baseline(runs, run) if pin else None
    if twin is not None and int(twin["id"]) not in ids:
        ids.append(int(twin["id"]))
        pinned.add(str(twin["group"]))
    elif pin and twin is None and run["criterion"] != "random":
        note, button = st.columns([3, 1], vertical_alignment="center")
        note.caption(f"No finished random-baseline run matches {widgets.plain(run['run'])} yet.")
        if button.button("Queue it", key=f"queue_random_{run['id']}"):
            try:
                st.toast(f"Queued #{services.queue_baseline(int(run['id']))}")
                services.start_worker_if_needed()
            except services.UserInputError as error:
                widgets.show_issue(error.field, error.message)
picked = runs.set_index("id").loc[ids].reset_index()
if by_seed:  # every finished seed of a picked recipe joins its group, in the order picked
    chosen = pd.concat([runs[runs["group"] == g] for g in dict.fromkeys(picked["group"])])
else:
    chosen = picked.assign(group=picked["id"].astype(str))
grouped = compare.groups(chosen)
pinned_ids = {int(i) for i in picked["id"] if str(runs.set_index("id").loc[i, "group"]) in pinned}
documents = {int(i): services.results(int(i)) for i in grouped["id"]}
missing = [i for i, document in documents.items() if document is None]
if missing:
    widgets.show_issue("artifacts", f"the results of run #{missing[0]} are missing on disk")
    st.stop()
labels = dict(zip(grouped["id"], grouped["label"], strict=True))
diff = tables.recipe_diff({labels[i]: documents[i]["recipe"] for i in grouped["id"]})  # type: ignore[index]
differing = diff[diff["differs"]].drop(columns="differs")
reference_ids = grouped["ids"].iloc[0]
kinds = set(chosen["metric"].fillna("accuracy"))  # accuracy, or perplexity for LMs
if len(kinds) > 1:
    st.warning(
        "These runs are judged by different metrics: accuracy (classifiers, higher is better) "
        "and perplexity (language models, lower is better). Each shows its own; differences "
        "are given only between runs of one metric.",
        icon=":material/rule:",
    )
reference_members = chosen[chosen["id"].isin(reference_ids)]
reference_task = metric.frame_metric(reference_members)
reference = reference_members[metric.metric_of({"metric": reference_task})[0]].mean()
reference_name = str(labels[grouped["id"].iloc[0]]).split()[0]
higher = "accuracy" in kinds  # some runs are judged by accuracy: pp differences below

for column, (_, group) in zip(st.columns(len(grouped)), grouped.iterrows(), strict=True):
    members = chosen[chosen["id"].isin(group["ids"])]
    task = metric.frame_metric(members)
    score, score_label, up = metric.metric_of({"metric": task})
    with column, st.container(border=True):
        st.markdown(f"#### {widgets.plain(group['label'])}")
        if str(members["group"].iloc[0]) in pinned or int(group["id"]) in pinned_ids:
            st.caption(":material/push_pin: random baseline of the runs beside it (pinned)")
        if len(members) > 1:
            st.caption(f"seeds {', '.join(map(str, group['seeds']))}: mean ± std (n)")
        is_reference = group["ids"] == reference_ids
        difference = members[score].mean() - reference
        gap = facts.pp(difference) if up else f"{difference:+.2f}"
        versus = (
            "reference"
            if is_reference
            else f"{gap} vs {reference_name}"
            if task == reference_task
            else f"not comparable with {reference_name} ({reference_task})"
        )
        plain = is_reference or task != reference_task
        st.metric(
            f"{score_label} (final)" if up else score_label,
            compare.cell(members[score], score),
            delta=versus,
            delta_color="off" if plain else "normal" if up else "inverse",
            delta_arrow="off" if plain else "auto",
        )
        if up:
            st.metric(
                "val acc. right after pruning",
                compare.cell(members["val_after_pruning"], "val_after_pruning"),
                delta=f"{compare.cell(members['recovered'], 'recovered')} by finetuning",
                delta_color="off",
                delta_arrow="off",
            )
        else:
            st.metric(
                "val perplexity right after pruning",
                compare.cell(members["val_after_pruning"], "val_after_pruning", perplexity=True),
                delta=compare.cell(members["val_perplexity"], "val_perplexity") + " finetuned",
                delta_color="off",
                delta_arrow="off",
            )
        best, dense = facts.size_headline(members.iloc[0].to_dict())
        st.metric("size, best format", best, delta=dense, delta_color="off", delta_arrow="off")
        if group["label"] in differing:
            for field, value in differing[group["label"]].items():  # escaped, never markup
                st.html(f"<span style='{HIGHLIGHT}'>{html.escape(f'{field}: {value}')}</span>")
        st.plotly_chart(
            figures.run_layers(int(group["id"]), title="per-layer sparsity", height=300),
            key=f"compare_layers_{group['id']}",
        )

st.subheader("Recipe")
only = st.toggle("only fields that differ", value=True, key="compare_only_diff")
table = differing if only else diff.drop(columns="differs")
if table.empty:
    st.caption("The recipes are identical (the runs differ only by chance, e.g. timing).")
else:
    flags = diff["differs"]
    st.dataframe(
        table.style.apply(lambda row: [HIGHLIGHT if flags[row.name] else ""] * len(row), axis=1),
        width="stretch",
    )

st.subheader("Metrics")
st.dataframe(compare.metrics_table(chosen, grouped), width="stretch", height="content")
if higher:
    st.caption("Differences between accuracies are in percentage points (pp).")

layers, curves = figures.overlays(labels)
st.plotly_chart(layers, key="compare_layers_overlay")
st.plotly_chart(curves, key="compare_curves_overlay")
if (chosen["structure"] == "2:4").any():
    cards.gpu_card(key="gpu_compare")
