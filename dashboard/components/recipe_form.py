"""The Configure form's model and pruning sections; each returns its part of a recipe draft.

Defaults go into ``st.session_state`` once (:func:`~dashboard.components.widgets.form_key`).
Rules (what fits, what N:M implies) come from the engine through the services; the
form only lays out the inputs. Schedule, finetuning and sweep: ``training_form``.
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


def model_section() -> tuple[str, str | None, list[services.Issue]]:
    """Model picker and the optional weights upload.

    Returns:
        The model, the uploaded weights' path (``None``: the shipped ones), and the
        problem with the upload if there is one (shown with the other problems).
    """
    names = services.model_names()
    model = st.selectbox(
        "model",
        names,
        key=widgets.form_key("cfg_model", names[0]),
        format_func=services.model_label,
        help="Registered models; untrained ones measure structure and speed only",
    )
    st.caption(services.model_description(model))
    source = st.radio(
        "weights",
        ["shipped", "upload"],
        horizontal=True,
        key=widgets.form_key("cfg_weights", "shipped"),
        format_func=lambda s: {"shipped": "shipped weights", "upload": "upload .safetensors"}[s],
    )
    if source == "shipped":
        return model, None, []
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
            return model, None, [services.Issue(error.field, error.message)]
    if model not in uploads:
        st.info(
            "Upload a .safetensors file with this model's parameters, or use the shipped weights."
        )
        missing = "no valid uploaded weights; upload a .safetensors file"
        return model, None, [services.Issue("weights", missing)]
    name = uploads[model].rsplit("/", 1)[-1]
    st.success(f"Using uploaded weights {widgets.plain(name)} (validated)")
    return model, uploads[model], []


def pruning_section(model: str) -> tuple[dict[str, Any], list[services.Issue]]:
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
    layers = list(services.layer_table(model)["layer"])
    draft["skip_layers"] = st.multiselect(
        "layers kept dense",
        layers,
        key=widgets.form_key(f"cfg_skip_{model}", services.default_skip(model)),
        help="Default: the first and the last layer (input stem and classifier)",
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
