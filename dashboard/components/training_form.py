"""The Configure form's schedule, finetuning, calibration, output and sweep sections.

Each function returns its part of a recipe draft; defaults go into ``st.session_state``
once (:func:`~dashboard.components.widgets.form_key`).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import services
from dashboard.components import widgets

SCHEDULES = {
    "one_shot": "one-shot: prune once, then finetune",
    "iterative": "iterative: prune + finetune in rounds",
    "gradual": "gradual: prune while finetuning (cubic)",
}


def schedule_section() -> dict[str, Any]:
    """Schedule kind and its parameters."""
    kind = st.selectbox(
        "schedule",
        widgets.choices("schedule"),
        key=widgets.form_key("cfg_schedule", "one_shot"),
        format_func=lambda kind: SCHEDULES.get(kind, kind),
    )
    schedule: dict[str, Any] = {"kind": kind}
    if kind == "iterative":
        schedule["rounds"] = st.number_input(
            "rounds", 1, 100, step=1, key=widgets.form_key("cfg_rounds", 3)
        )
    elif kind == "gradual":
        cols = st.columns(4)
        schedule["initial_sparsity"] = cols[0].number_input(
            "initial sparsity", 0.0, 0.99, step=0.05, key=widgets.form_key("cfg_initial", 0.0)
        )
        schedule["start_step"] = cols[1].number_input(
            "start step", 0, 10**7, step=1, key=widgets.form_key("cfg_start", 0)
        )
        schedule["end_step"] = cols[2].number_input(
            "end step",
            0,
            10**7,
            step=1,
            key=widgets.form_key("cfg_end", None),
            placeholder="auto (2/3)",
        )
        schedule["frequency"] = cols[3].number_input(
            "every N steps", 1, 10**6, step=1, key=widgets.form_key("cfg_freq", 10)
        )
    return schedule


def finetune_section() -> dict[str, Any]:
    """Finetune budget, optimizer, distillation and calibration."""
    cols = st.columns(3)
    finetune: dict[str, Any] = {
        "epochs": cols[0].number_input(
            "finetune epochs", 0, 1000, step=1, key=widgets.form_key("cfg_epochs", 2)
        ),
        "batch_size": cols[1].number_input(
            "batch size", 1, 65536, step=8, key=widgets.form_key("cfg_batch", 64)
        ),
        "lr": cols[2].number_input(
            "learning rate",
            1e-6,
            10.0,
            step=1e-4,
            format="%.4f",
            key=widgets.form_key("cfg_lr", 1e-3),
        ),
    }
    cols = st.columns(3)
    finetune["optimizer"] = cols[0].selectbox(
        "optimizer", widgets.choices("optimizer"), key=widgets.form_key("cfg_opt", "adamw")
    )
    finetune["weight_decay"] = cols[1].number_input(
        "weight decay", 0.0, 1.0, step=1e-4, format="%.4f", key=widgets.form_key("cfg_wd", 0.0)
    )
    if finetune["optimizer"] == "sgd":
        finetune["momentum"] = cols[2].number_input(
            "momentum", 0.0, 0.999, step=0.05, key=widgets.form_key("cfg_momentum", 0.9)
        )
    finetune["distillation"] = None
    if st.toggle("distill from the dense model", key=widgets.form_key("cfg_distill", False)):
        left, right = st.columns(2)
        finetune["distillation"] = {
            "weight": left.slider(
                "distillation weight",
                0.0,
                1.0,
                step=0.05,
                key=widgets.form_key("cfg_kd_weight", 0.5),
            ),
            "temperature": right.number_input(
                "temperature", 0.1, 100.0, step=0.5, key=widgets.form_key("cfg_kd_temp", 4.0)
            ),
        }
    return finetune


def calibration_section() -> dict[str, Any]:
    """Calibration samples (gradient and activation criteria read them)."""
    left, right = st.columns(2)
    return {
        "samples": left.number_input(
            "calibration samples", 1, 10**6, step=64, key=widgets.form_key("cfg_cal_samples", 256)
        ),
        "batch_size": right.number_input(
            "calibration batch", 1, 65536, step=16, key=widgets.form_key("cfg_cal_batch", 64)
        ),
    }


def output_section() -> tuple[str, int]:
    """Precision of the saved model and the seed."""
    left, right = st.columns(2)
    precision = left.selectbox(
        "precision",
        widgets.choices("precision"),
        key=widgets.form_key("cfg_precision", "fp32"),
        help="Precision of the pruned model that is evaluated and saved",
    )
    seed = right.number_input("seed", 0, 2**31 - 1, step=1, key=widgets.form_key("cfg_seed", 0))
    return precision, int(seed)


def sweep_section(fixed_sparsity: bool) -> tuple[list[str], str, str]:
    """Criteria, sparsities and seeds of a sweep (sparsities as typed, comma-separated)."""
    names = list(services.criteria())
    default = [name for name in ("magnitude", "random") if name in names]
    chosen = st.multiselect("criteria", names, key=widgets.form_key("cfg_sweep_criteria", default))
    sparsities = st.text_input(
        "target sparsities",
        key=widgets.form_key("cfg_sweep_sparsities", "0.5, 0.7, 0.9"),
        disabled=fixed_sparsity,
        help="N:M fixes the sparsity; the sweep then varies criteria and seeds only",
    )
    seeds = st.text_input("seeds", key=widgets.form_key("cfg_sweep_seeds", "0, 1, 2"))
    return chosen, sparsities, seeds
