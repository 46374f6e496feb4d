"""The Configure form's model and data pickers: shipped models, torchvision architectures
with your weights, local Hugging Face checkpoints, and the data a run measures them on.

Local files come only from the models roots (``services.roots_text()``); every path is
resolved inside them before it reaches a recipe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import streamlit as st

from dashboard import services
from dashboard.components import widgets

SOURCES = {
    "registered": "shipped & plugin models",
    "torchvision": "torchvision + your weights",
    "hf": "local Hugging Face checkpoint",
}
DATA_KINDS = {
    "own": "the model's own data",
    "text": "text under the models roots",
    "image_folder": "image folders under the models roots",
    "none": "no data (structure and speed only)",
}
NO_WEIGHTS, UPLOAD = "random init", "upload"


@dataclass
class ModelChoice:
    """What the model card chose: the recipe's ``model``, ``weights`` and ``data``."""

    model: str | None = None
    weights: str | None = None
    data: dict[str, Any] | None = None
    issues: list[services.Issue] = field(default_factory=list)


def model_section() -> ModelChoice:
    """Model source, model, weights and data; problems come back with the choice."""
    source = st.radio(
        "model source",
        list(SOURCES),
        horizontal=True,
        key=widgets.form_key("cfg_source", "registered"),
        format_func=SOURCES.__getitem__,
        help="Local files are looked up under the models roots only",
    )
    if source != "registered":
        st.caption(f"Models roots: {widgets.plain(services.roots_text())}")
    choice = PICKERS[source]()
    if choice.model is not None and not choice.issues:
        choice.data, choice.issues = data_section(choice)
    return choice


def _under_roots(path: str) -> str:
    """``path`` relative to the root holding it (shorter in select boxes)."""
    plain = path.removeprefix("hf:")
    for root in services.roots():
        if Path(plain).is_relative_to(root):
            return str(Path(root.name) / Path(plain).relative_to(root))
    return plain


def _registered() -> ModelChoice:
    names = services.model_names()
    model = widgets.pick(
        "model",
        names,
        "cfg_model",
        format_func=services.model_label,
        help="Registered models; untrained ones measure structure and speed only",
    )
    st.caption(services.model_description(model))
    source = st.radio(
        "weights",
        ["shipped", UPLOAD],
        horizontal=True,
        key=widgets.form_key("cfg_weights", "shipped"),
        format_func=lambda s: {"shipped": "shipped weights", UPLOAD: "upload .safetensors"}[s],
    )
    if source == "shipped":
        return ModelChoice(model)
    return _upload(model)


def _torchvision() -> ModelChoice:
    arch = widgets.pick(
        "architecture",
        services.torchvision_archs(),
        widgets.form_key("cfg_tv_arch", "resnet18"),
        help="Any torchvision image classifier; the number of classes comes from your weights",
    )
    model = f"torchvision:{arch}"
    files = services.listing("weight_files")
    options = [*files, UPLOAD, NO_WEIGHTS]
    chosen = widgets.pick(
        "weights",
        options,
        "cfg_tv_weights",
        format_func=lambda f: {
            UPLOAD: "upload .safetensors",
            NO_WEIGHTS: "random init (structure and speed only)",
        }.get(f, _under_roots(f)),
        help="*.safetensors files under the models roots (outside checkpoint folders)",
    )
    if chosen == NO_WEIGHTS:
        return ModelChoice(model)
    if chosen == UPLOAD:
        return _upload(model)
    try:
        return ModelChoice(model, services.checked_path(chosen, "weights"))
    except services.UserInputError as error:
        return ModelChoice(model, issues=[services.Issue(error.field, error.message)])


def _hf() -> ModelChoice:
    found = services.listing("checkpoints")
    if not found:
        st.info(
            "No Hugging Face checkpoint (config.json + *.safetensors) under the models roots: "
            f"{widgets.plain(services.roots_text())}. Put one there, or start the dashboard "
            "with `-- --models-dir DIR`."
        )
        missing = "no local checkpoint under the models roots"
        return ModelChoice(issues=[services.Issue("model", missing)])
    model = widgets.pick(
        "checkpoint",
        found,
        "cfg_hf_dir",
        format_func=_under_roots,
        help="Causal language models and image classifiers in Hugging Face layout, loaded "
        "offline (safetensors only, no remote code)",
    )
    try:
        services.checked_path(model.removeprefix("hf:"), "model")
    except services.UserInputError as error:
        return ModelChoice(issues=[services.Issue(error.field, error.message)])
    return ModelChoice(model)


PICKERS: dict[str, Callable[[], ModelChoice]] = {
    "registered": _registered,
    "torchvision": _torchvision,
    "hf": _hf,
}


def _upload(model: str) -> ModelChoice:
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
            return ModelChoice(model, issues=[services.Issue(error.field, error.message)])
    if model not in uploads:
        st.info(
            "Upload a .safetensors file with this model's parameters, or use the shipped weights."
        )
        missing = "no valid uploaded weights; upload a .safetensors file"
        return ModelChoice(model, issues=[services.Issue("weights", missing)])
    name = uploads[model].rsplit("/", 1)[-1]
    st.success(f"Using uploaded weights {widgets.plain(name)} (validated)")
    return ModelChoice(model, uploads[model])


def data_section(choice: ModelChoice) -> tuple[dict[str, Any] | None, list[services.Issue]]:
    """The data a run uses: the model's own, text (language models) or image folders
    (RGB classifiers) under the models roots, or none.

    Returns:
        The recipe's ``data`` (``None``: the model's own or none), and problems.
    """
    assert choice.model is not None
    try:
        facts = services.model_facts(choice.model, choice.weights)
    except services.UserInputError as error:
        return None, [services.Issue(error.field, error.message)]
    kinds = ["own"] if facts.has_data else []
    if facts.task == "causal_lm":
        kinds.append("text")
    elif len(facts.input_shape) == 3 and facts.input_shape[0] == 3:
        kinds.append("image_folder")
    kinds += [] if facts.has_data else ["none"]
    kind = widgets.pick(
        "data",
        kinds,
        f"cfg_data_{choice.model}",
        format_func=DATA_KINDS.__getitem__,
        help=f"Models roots: {services.roots_text()}",
    )
    if kind in ("own", "none"):
        return None, []
    return DATA_INPUTS[kind]()


def _text_data() -> tuple[dict[str, Any] | None, list[services.Issue]]:
    texts = services.listing("texts")
    if not texts:
        st.info(f"No .txt or .jsonl file under {widgets.plain(services.roots_text())}.")
        return None, [services.Issue("data.path", "no text file under the models roots")]
    path = widgets.pick("text file", texts, "cfg_text_path", format_func=_under_roots)
    seq_len = st.number_input(
        "tokens per window",
        8,
        32768,
        step=8,
        key=widgets.form_key("cfg_seq_len", 128),
        help="seq_len: calibration, finetuning and perplexity use windows of this length",
    )
    try:
        checked = services.checked_path(path, "data.path")
    except services.UserInputError as error:
        return None, [services.Issue(error.field, error.message)]
    return {"kind": "text", "path": checked, "seq_len": int(seq_len)}, []


def _image_data() -> tuple[dict[str, Any] | None, list[services.Issue]]:
    datasets = services.listing("image_datasets")
    if not datasets:
        st.info(
            "No folder with train/, val/ and test/ class sub-folders under "
            f"{widgets.plain(services.roots_text())}."
        )
        return None, [services.Issue("data.train", "no image folders under the models roots")]
    folder = widgets.pick(
        "image folders",
        datasets,
        "cfg_image_folders",
        format_func=_under_roots,
        help="A folder holding train/, val/ and test/, each one sub-folder per class",
    )
    size = st.number_input(
        "image size", 8, 1024, step=8, key=widgets.form_key("cfg_image_size", 224)
    )
    data: dict[str, Any] = {"kind": "image_folder", "image_size": int(size)}
    try:
        for split in ("train", "val", "test"):
            data[split] = services.checked_path(str(Path(folder) / split), f"data.{split}")
    except services.UserInputError as error:
        return None, [services.Issue(error.field, error.message)]
    return data, []


DATA_INPUTS = {"text": _text_data, "image_folder": _image_data}
