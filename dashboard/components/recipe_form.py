"""The Configure form's pruning section; it returns its part of a recipe draft.

Defaults go into ``st.session_state`` once (:func:`~dashboard.components.widgets.form_key`).
Rules (what fits, what N:M implies) come from the engine through the services; the
form only lays out the inputs. Model and data: ``model_form``; schedule, finetuning and
sweep: ``training_form``.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import services
from dashboard.components import controls, widgets

STRUCTURES = {
    "unstructured": "unstructured (single weights)",
    "n:m": "N:M semi-structured (e.g. 2:4)",
    "block": "block (e.g. 4x4 tiles)",
    "channel": "channel (removes output channels)",
    "head": "head (removes attention heads)",
}
ALLOCATIONS = {
    "uniform": "uniform: same sparsity in every pruned layer",
    "global": "global: one ranking over all pruned layers",
    "erk": "ERK: denser small layers, sparser big ones",
    "sensitivity": "sensitivity: least loss per weight removed (measured profile)",
    "owl": "OWL: sparser where fewer outlier activations (transformers)",
}


def pruning_section(
    model: str, weights: str | None, data: dict[str, Any] | None
) -> tuple[dict[str, Any], list[services.Issue]]:
    """Criterion, structure, sparsity, allocation, per-layer sparsities and skipped layers.

    Returns:
        This part of the draft, and problems with what was typed (the engine checks the rest).
    """
    descriptions = services.criteria()
    draft: dict[str, Any] = {}
    draft["criterion"] = st.selectbox(
        "criterion",
        list(descriptions),
        key=widgets.form_key("cfg_criterion", "magnitude"),
        help="\n".join(f"- **{name}**: {text}" for name, text in descriptions.items()),
    )
    st.caption(descriptions[draft["criterion"]])
    kind = st.selectbox(
        "structure / sparsity format",
        widgets.choices("structure"),
        key=widgets.form_key("cfg_structure", "unstructured"),
        format_func=lambda kind: STRUCTURES.get(kind, kind),
    )
    structure: dict[str, Any] = {"kind": kind, **SIZE_INPUTS.get(kind, _no_sizes)()}
    structure["skip_incompatible"] = st.checkbox(
        controls.CONTROLS["structure.skip_incompatible"],
        key=widgets.form_key("cfg_skip_incompatible", False),
        help="Leave such layers dense instead of refusing the recipe",
    )
    draft["structure"] = structure
    if services.fixes_sparsity({"kind": kind}):  # the kind fixes it (N:M): no slider
        st.markdown(f"**target sparsity**: {_fixed_sparsity(structure)}")
    else:
        percent = st.slider(
            "target sparsity",
            0,
            99,
            step=1,
            format="%d%%",
            key=widgets.form_key("cfg_sparsity", 50),
            help="Share of weights removed in the pruned layers",
        )
        draft["sparsity"] = percent / 100
    draft["allocation"] = st.selectbox(
        "allocation across layers",
        widgets.choices("allocation"),
        key=widgets.form_key("cfg_allocation", "uniform"),
        format_func=lambda kind: ALLOCATIONS.get(kind, kind),
    )
    layers = list(services.layer_table(model, weights, data)["layer"])
    draft["skip_layers"] = st.multiselect(
        "layers kept dense",
        layers,
        key=widgets.form_key(f"cfg_skip_{model}", services.default_skip(model, weights, data)),
        help="Default: the model's own (lm_head for language models; else the first and "
        "the last layer, input stem and classifier)",
    )
    with st.expander("Per-layer sparsities (optional: override the allocation)"):
        text = st.text_input(
            "layer: sparsity, ...",
            key=widgets.form_key("cfg_layer_sparsity", ""),
            placeholder=f"{layers[len(layers) // 2]}: 0.7" if layers else "layer: 0.7",
            help="Explicit sparsity per pruned layer (recipe field layer_sparsity); "
            "layers not listed stay dense. Empty: the allocation decides.",
        )
    draft["layer_sparsity"], issues = _layer_sparsity(text)
    return draft, issues


def _no_sizes() -> dict[str, Any]:
    return {}


def _nm_sizes() -> dict[str, Any]:
    left, right = st.columns(2)
    return {
        "n": left.number_input("N (kept)", 1, 63, step=1, key=widgets.form_key("cfg_n", 2)),
        "m": right.number_input("M (group size)", 2, 64, step=1, key=widgets.form_key("cfg_m", 4)),
    }


def _block_sizes() -> dict[str, Any]:
    left, right = st.columns(2)
    return {
        "block": [
            left.number_input("block rows", 1, 64, step=1, key=widgets.form_key("cfg_block_h", 4)),
            right.number_input(
                "block columns", 1, 64, step=1, key=widgets.form_key("cfg_block_w", 4)
            ),
        ]
    }


SIZE_INPUTS = {"n:m": _nm_sizes, "block": _block_sizes}  # the inputs each choice shows


def _fixed_sparsity(structure: dict[str, Any]) -> str:
    """``50% (fixed by 2:4: 2 of every 4 weights kept)``, from the engine's Structure."""
    parsed = services.parse_structure(structure)
    if parsed is None or parsed.nm is None or parsed.implied_sparsity is None:
        return "n/a (see the problem below)"
    n, m = parsed.nm
    return f"{parsed.implied_sparsity:.0%} (fixed by {parsed.label()}: {n} of every {m} kept)"


def _layer_sparsity(text: str) -> tuple[dict[str, float] | None, list[services.Issue]]:
    """``"net.3: 0.7, net.5: 0.9"`` -> a mapping (``None`` when empty); bad syntax -> issue."""
    if not text.strip():
        return None, []
    mapping: dict[str, float] = {}
    for part in filter(str.strip, text.split(",")):
        name, colon, value = part.rpartition(":")
        try:
            if not colon or not name.strip():
                raise ValueError(part)
            mapping[name.strip()] = float(value)
        except ValueError:
            hint = "write 'layer: sparsity' pairs separated by commas, e.g. 'net.3: 0.7'"
            return None, [services.Issue("layer_sparsity", f"{hint}; got '{part.strip()}'")]
    return mapping, []
