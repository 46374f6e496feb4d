"""The Configure form, one function per section; each returns its part of a recipe draft.

Defaults go into ``st.session_state`` once (never as ``value=``), so a value survives
page switches without Streamlit's "default value and session state" warning.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import services, widgets

STRUCTURES = {
    "unstructured": "unstructured (single weights)",
    "n:m": "N:M semi-structured (e.g. 2:4)",
    "block": "block (e.g. 4x4 tiles)",
    "channel": "channel (removes output channels)",
    "head": "head (removes attention heads)",
}
SCHEDULES = {
    "one_shot": "one-shot: prune once, then finetune",
    "iterative": "iterative: prune + finetune in rounds",
    "gradual": "gradual: prune while finetuning (cubic)",
}
ALLOCATIONS = {
    "uniform": "uniform: same sparsity in every pruned layer",
    "global": "global: one ranking over all pruned layers",
    "erk": "ERK: denser small layers, sparser big ones",
    "sensitivity": "sensitivity: least loss per weight removed (measured profile)",
    "owl": "OWL: sparser where fewer outlier activations (transformers)",
}


def _choices(field: str) -> list[str]:
    """Allowed values of a recipe field (from the engine's recipe model)."""
    return services.recipe_choices()[field]


def _default(key: str, value: Any) -> str:
    st.session_state.setdefault(key, value)
    return key


def model_section() -> tuple[str, str | None]:
    """Model picker and the optional weights upload; returns ``(model, weights path)``."""
    names = services.model_names()
    model = st.selectbox(
        "model",
        names,
        key=_default("cfg_model", names[0]),
        format_func=services.model_label,
        help="Registered models; untrained ones measure structure and speed only",
    )
    st.caption(services.model_description(model))
    source = st.radio(
        "weights",
        ["shipped", "upload"],
        horizontal=True,
        key=_default("cfg_weights", "shipped"),
        format_func=lambda s: {"shipped": "shipped weights", "upload": "upload .safetensors"}[s],
    )
    if source == "shipped":
        return model, None
    uploads: dict[str, str] = st.session_state.setdefault("uploaded_weights", {})
    upload = st.file_uploader(
        "trained weights for this architecture",
        type=["safetensors"],
        key="upload_weights",
        help="safetensors only: checked against the model's parameter names and shapes",
    )
    if upload is not None:
        try:
            uploads[model] = services.save_upload(model, upload.getvalue(), upload.name)
        except services.UserInputError as error:
            uploads.pop(model, None)
            widgets.show_issue(error.field, error.message)
            return model, ""
    if model not in uploads:
        st.info(
            "Upload a .safetensors file with this model's parameters, or use the shipped weights."
        )
        return model, ""
    st.success(f"Using uploaded weights `{uploads[model].rsplit('/', 1)[-1]}` (validated)")
    return model, uploads[model]


def pruning_section(model: str) -> dict[str, Any]:
    """Criterion, structure, sparsity, allocation and skipped layers."""
    descriptions = services.criteria()
    draft: dict[str, Any] = {}
    draft["criterion"] = st.selectbox(
        "criterion",
        list(descriptions),
        key=_default("cfg_criterion", "magnitude"),
        help="\n".join(f"- **{name}**: {text}" for name, text in descriptions.items()),
    )
    st.caption(descriptions[draft["criterion"]])
    kind = st.selectbox(
        "structure / sparsity format",
        _choices("structure"),
        key=_default("cfg_structure", "unstructured"),
        format_func=lambda kind: STRUCTURES.get(kind, kind),
    )
    structure: dict[str, Any] = {"kind": kind}
    if kind == "n:m":
        left, right = st.columns(2)
        structure["n"] = left.number_input("N (kept)", 1, 63, step=1, key=_default("cfg_n", 2))
        structure["m"] = right.number_input(
            "M (group size)", 2, 64, step=1, key=_default("cfg_m", 4)
        )
    elif kind == "block":
        left, right = st.columns(2)
        structure["block"] = [
            left.number_input("block rows", 1, 64, step=1, key=_default("cfg_block_h", 4)),
            right.number_input("block columns", 1, 64, step=1, key=_default("cfg_block_w", 4)),
        ]
    structure["skip_incompatible"] = st.checkbox(
        "skip layers whose shape does not fit",
        key=_default("cfg_skip_incompatible", False),
        help="Leave such layers dense instead of refusing the recipe",
    )
    draft["structure"] = structure
    if kind == "n:m":
        n, m = structure["n"], structure["m"]
        fixed = f"{1 - n / m:.0%}" if n < m else "n/a"
        st.markdown(
            f"**target sparsity**: {fixed} (fixed by {n}:{m}: {n} of every {m} weights kept)"
        )
    else:
        percent = st.slider(
            "target sparsity",
            0,
            99,
            step=1,
            format="%d%%",
            key=_default("cfg_sparsity", 50),
            help="Share of weights removed in the pruned layers",
        )
        draft["sparsity"] = percent / 100
    draft["allocation"] = st.selectbox(
        "allocation across layers",
        _choices("allocation"),
        key=_default("cfg_allocation", "uniform"),
        format_func=lambda kind: ALLOCATIONS.get(kind, kind),
    )
    layers = list(services.layer_table(model)["layer"])
    draft["skip_layers"] = st.multiselect(
        "layers kept dense",
        layers,
        key=_default(f"cfg_skip_{model}", services.default_skip(model)),
        help="Default: the first and the last layer (input stem and classifier)",
    )
    return draft


def schedule_section() -> dict[str, Any]:
    """Schedule kind and its parameters."""
    kind = st.selectbox(
        "schedule",
        _choices("schedule"),
        key=_default("cfg_schedule", "one_shot"),
        format_func=lambda kind: SCHEDULES.get(kind, kind),
    )
    schedule: dict[str, Any] = {"kind": kind}
    if kind == "iterative":
        schedule["rounds"] = st.number_input(
            "rounds", 1, 100, step=1, key=_default("cfg_rounds", 3)
        )
    elif kind == "gradual":
        cols = st.columns(4)
        schedule["initial_sparsity"] = cols[0].number_input(
            "initial sparsity", 0.0, 0.99, step=0.05, key=_default("cfg_initial", 0.0)
        )
        schedule["start_step"] = cols[1].number_input(
            "start step", 0, 10**7, step=1, key=_default("cfg_start", 0)
        )
        schedule["end_step"] = cols[2].number_input(
            "end step", 0, 10**7, step=1, key=_default("cfg_end", None), placeholder="auto (2/3)"
        )
        schedule["frequency"] = cols[3].number_input(
            "every N steps", 1, 10**6, step=1, key=_default("cfg_freq", 10)
        )
    return schedule


def finetune_section() -> dict[str, Any]:
    """Finetune budget, optimizer, distillation and calibration."""
    cols = st.columns(3)
    finetune: dict[str, Any] = {
        "epochs": cols[0].number_input(
            "finetune epochs", 0, 1000, step=1, key=_default("cfg_epochs", 2)
        ),
        "batch_size": cols[1].number_input(
            "batch size", 1, 65536, step=8, key=_default("cfg_batch", 64)
        ),
        "lr": cols[2].number_input(
            "learning rate", 1e-6, 10.0, step=1e-4, format="%.4f", key=_default("cfg_lr", 1e-3)
        ),
    }
    cols = st.columns(3)
    finetune["optimizer"] = cols[0].selectbox(
        "optimizer", _choices("optimizer"), key=_default("cfg_opt", "adamw")
    )
    finetune["weight_decay"] = cols[1].number_input(
        "weight decay", 0.0, 1.0, step=1e-4, format="%.4f", key=_default("cfg_wd", 0.0)
    )
    if finetune["optimizer"] == "sgd":
        finetune["momentum"] = cols[2].number_input(
            "momentum", 0.0, 0.999, step=0.05, key=_default("cfg_momentum", 0.9)
        )
    finetune["distillation"] = None
    if st.toggle("distill from the dense model", key=_default("cfg_distill", False)):
        left, right = st.columns(2)
        finetune["distillation"] = {
            "weight": left.slider(
                "distillation weight", 0.0, 1.0, step=0.05, key=_default("cfg_kd_weight", 0.5)
            ),
            "temperature": right.number_input(
                "temperature", 0.1, 100.0, step=0.5, key=_default("cfg_kd_temp", 4.0)
            ),
        }
    return finetune


def calibration_section() -> dict[str, Any]:
    """Calibration samples (gradient and activation criteria read them)."""
    left, right = st.columns(2)
    return {
        "samples": left.number_input(
            "calibration samples", 1, 10**6, step=64, key=_default("cfg_cal_samples", 256)
        ),
        "batch_size": right.number_input(
            "calibration batch", 1, 65536, step=16, key=_default("cfg_cal_batch", 64)
        ),
    }


def output_section() -> tuple[str, int]:
    """Precision of the saved model and the seed."""
    left, right = st.columns(2)
    precision = left.selectbox(
        "precision",
        _choices("precision"),
        key=_default("cfg_precision", "fp32"),
        help="Precision of the pruned model that is evaluated and saved",
    )
    seed = right.number_input("seed", 0, 2**31 - 1, step=1, key=_default("cfg_seed", 0))
    return precision, int(seed)


def sweep_section(fixed_sparsity: bool) -> tuple[list[str], str, str]:
    """Criteria, sparsities and seeds of a sweep (sparsities as typed, comma-separated)."""
    names = list(services.criteria())
    default = [name for name in ("magnitude", "random") if name in names]
    chosen = st.multiselect("criteria", names, key=_default("cfg_sweep_criteria", default))
    sparsities = st.text_input(
        "target sparsities",
        key=_default("cfg_sweep_sparsities", "0.5, 0.7, 0.9"),
        disabled=fixed_sparsity,
        help="N:M fixes the sparsity; the sweep then varies criteria and seeds only",
    )
    seeds = st.text_input("seeds", key=_default("cfg_sweep_seeds", "0, 1, 2"))
    return chosen, sparsities, seeds
