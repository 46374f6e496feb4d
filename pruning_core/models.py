"""The model registry: a name maps to a factory, dataset, input shape and weights.

Shipped: the digits sample models (trained, with accuracy) and torchvision
architectures with random init (untrained: structure and speed only, no accuracy).

Your own model: write a function that returns a :class:`ModelSpec` (or a list of them)
and pass it as ``module:function``, e.g. ``pruning-core --plugin mypkg.zoo:specs run r.yaml``
or ``PRUNING_CORE_PLUGINS=mypkg.zoo:specs``. Code is only ever imported from your Python
path by the CLI, never uploaded through the dashboard.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torchvision
from torch import nn

from pruning_core.errors import UserInputError
from pruning_core.registry import Registry
from pruning_core.weights import load_weights_file
from sample_models.catalog import SAMPLE_MODELS
from sample_models.data import Split, digits_splits

DataFn = Callable[[], dict[str, Split]]


@dataclass(frozen=True)
class ModelSpec:
    """How to build a model and what it is trained on.

    Attributes:
        name: registry name.
        factory: builds the architecture (random init).
        input_shape: one sample's shape, without batch.
        weights: safetensors file with trained weights, or ``None`` (random init).
        data: returns ``{"train", "val", "test"}`` splits, or ``None`` (no accuracy).
        description: one line for listings.
        channel_prunable: globs of layers whose output channels may be removed
            (``None``: every prunable layer); attention projections are excluded this way.
    """

    name: str
    factory: Callable[[], nn.Module]
    input_shape: tuple[int, ...]
    weights: Path | None = None
    data: DataFn | None = None
    description: str = ""
    channel_prunable: tuple[str, ...] | None = field(default=None)

    @property
    def trained(self) -> bool:
        return self.weights is not None and self.data is not None

    @property
    def label(self) -> str:
        """Name plus the honest caveat for untrained models."""
        if self.trained:
            return self.name
        return f"{self.name} (untrained: structure and speed only, no accuracy)"


MODELS: Registry[ModelSpec] = Registry("model")


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add ``spec`` to :data:`MODELS`."""
    MODELS.add(spec.name, spec)
    return spec


_DIGITS_CHANNEL_PRUNABLE = {"digits_vit": ("blocks.*.mlp.fc1",)}

for _info in SAMPLE_MODELS.values():
    register_model(
        ModelSpec(
            name=_info.name,
            factory=_info.factory,
            input_shape=_info.input_shape,
            weights=_info.weights_path,
            data=digits_splits,
            description=_info.description,
            channel_prunable=_DIGITS_CHANNEL_PRUNABLE.get(_info.name),
        )
    )

_TORCHVISION = {
    "resnet18": ("ResNet-18, ImageNet shape", None),
    "resnet50": ("ResNet-50, ImageNet shape", None),
    "mobilenet_v3_small": ("MobileNetV3-Small, ImageNet shape", None),
    "vit_b_16": ("ViT-B/16, ImageNet shape", ("encoder.layers.*.mlp.0",)),
}

for _name, (_description, _channels) in _TORCHVISION.items():
    register_model(
        ModelSpec(
            name=_name,
            factory=getattr(torchvision.models, _name),
            input_shape=(3, 224, 224),
            description=f"{_description}; random init",
            channel_prunable=_channels,
        )
    )


def load_plugin(target: str) -> list[ModelSpec]:
    """Import ``module:function`` and register the spec(s) it returns.

    Raises:
        UserInputError: the target is malformed, cannot be imported, or returns no specs.
    """
    module_name, _, function_name = target.partition(":")
    if not module_name or not function_name:
        raise UserInputError("plugin", f"'{target}' is not 'module:function'")
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as error:
        raise UserInputError("plugin", f"cannot load '{target}': {error}") from None
    returned = function()
    specs = [returned] if isinstance(returned, ModelSpec) else list(returned or [])
    if not all(isinstance(spec, ModelSpec) for spec in specs):
        raise UserInputError("plugin", f"'{target}' must return a ModelSpec or a list of them")
    for spec in specs:
        register_model(spec)
    return specs


def load_env_plugins() -> None:
    """Load plugins named in ``PRUNING_CORE_PLUGINS`` (comma separated)."""
    for target in filter(None, os.environ.get("PRUNING_CORE_PLUGINS", "").split(",")):
        load_plugin(target.strip())


def build_model(spec: ModelSpec, weights: str | Path | None = None) -> nn.Module:
    """Build the architecture and load ``weights`` (or the spec's own), in eval mode."""
    torch.manual_seed(0)  # random-init models are the same in every run
    model = spec.factory()
    source = Path(weights) if weights is not None else spec.weights
    if source is not None:
        load_weights_file(model, source)
    return model.eval()
