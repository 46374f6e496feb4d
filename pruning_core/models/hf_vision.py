"""Local Hugging Face image classifiers: ``model: "hf:<directory>"`` whose ``config.json``
names a ``*ForImageClassification`` architecture (ViT, DeiT, ConvNeXt, ResNet, ...).

Loaded like the causal LMs (:mod:`.hf`: offline, safetensors only, no remote code, one
line naming ``model`` for what cannot be loaded) with ``AutoModelForImageClassification``;
the engine view maps ``pixel_values`` ``(N, C, H, W)`` to logits ``(N, classes)`` (with
``interpolate_pos_encoding`` where the model has it, so an image folder's ``image_size``
may differ from the training size). Images come from ``data: {kind: image_folder}``,
normalised by default with the ``image_mean``/``image_std`` of the checkpoint's
``preprocessor_config.json``. In transformers only the MLP expansion
(``*intermediate.dense``, or ``*mlp.fc1`` in newer versions) loses output channels:
attention projections feed heads.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pruning_core.errors import shorten
from pruning_core.models.hf import (
    check_model_type,
    check_weights,
    load_pretrained,
    read_config,
    with_engine_forward,
)
from pruning_core.models.spec import ModelSpec, Normalization

ARCHITECTURE_SUFFIX = "ForImageClassification"
PREPROCESSOR = "preprocessor_config.json"
DEFAULT_IMAGE_SIZE = 224
TRANSFORMER_CHANNELS = ("*intermediate.dense", "*mlp.fc1")  # the MLP expansion, by version


def is_image_classifier(config: dict[str, Any]) -> bool:
    """Whether ``config.json``'s ``architectures`` name an image-classification head."""
    names = config.get("architectures") or []
    return isinstance(names, list) and any(str(n).endswith(ARCHITECTURE_SUFFIX) for n in names)


def _pixels_to_logits(base_forward: Callable[..., Any]) -> Callable[..., torch.Tensor]:
    interpolate = "interpolate_pos_encoding" in inspect.signature(base_forward).parameters
    extra = {"interpolate_pos_encoding": True} if interpolate else {}

    def forward(self: nn.Module, pixel_values: torch.Tensor) -> torch.Tensor:
        return base_forward(self, pixel_values=pixel_values, **extra).logits

    return forward


def load_image_classifier(directory: Path, shown: str) -> nn.Module:
    """Load a checked directory as an fp32 engine view (pixels in, logits out), eval mode."""
    check_image_checkpoint(directory, shown)
    model = load_pretrained("AutoModelForImageClassification", directory, shown)
    return with_engine_forward(model, _pixels_to_logits).eval()


def check_image_checkpoint(directory: Path, shown: str) -> dict[str, Any]:
    """Every refusal that needs no weights loaded; returns the parsed config."""
    config = read_config(directory, shown)
    check_weights(directory, shown)
    check_model_type(
        config,
        shown,
        "MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING",
        "an image classifier (AutoModelForImageClassification)",
    )
    return config


def _triple(values: object) -> tuple[float, float, float] | None:
    if not isinstance(values, list) or len(values) != 3:
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return None
    return (float(values[0]), float(values[1]), float(values[2]))


def normalization(directory: Path) -> Normalization | None:
    """``(mean, std)`` from ``preprocessor_config.json`` (``None``: absent or unusable)."""
    try:
        processor = json.loads((directory / PREPROCESSOR).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(processor, dict):
        return None
    mean, std = _triple(processor.get("image_mean")), _triple(processor.get("image_std"))
    if mean is None or std is None or not all(value > 0 for value in std):
        return None
    return mean, std


def _image_size(config: dict[str, Any]) -> int:
    size = config.get("image_size", DEFAULT_IMAGE_SIZE)
    if isinstance(size, list) and size:
        size = size[0]
    return size if isinstance(size, int) and size > 0 else DEFAULT_IMAGE_SIZE


def image_classifier_spec(name: str, directory: Path) -> ModelSpec:
    """A :class:`ModelSpec` for an image-classifier checkpoint directory."""
    shown = name.removeprefix("hf:")
    config = check_image_checkpoint(directory, shown)
    channels = config.get("num_channels", 3)
    channels = channels if isinstance(channels, int) and channels > 0 else 3
    size = _image_size(config)
    labels = config.get("id2label") or {}
    transformer = "num_attention_heads" in config
    factory: Callable[[], nn.Module] = lambda: load_image_classifier(directory, shown)  # noqa: E731
    return ModelSpec(
        name=name,
        factory=factory,
        input_shape=(channels, size, size),
        description=f"{config.get('model_type')} image classifier, {len(labels) or '?'} "
        f"classes, from {shorten(directory, 60)}",
        channel_prunable=TRANSFORMER_CHANNELS if transformer else None,
        source=directory,
        normalization=normalization(directory),
    )
