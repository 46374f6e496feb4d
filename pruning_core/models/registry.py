"""The model registry: a name maps to a :class:`ModelSpec`.

Built in: torchvision architectures with random init (untrained: structure and speed
only). Everything else comes from plugins: a function returning a ``ModelSpec`` (or a
list of them). The shipped digits models are the default plugin, found through the
``pruning_core.models`` entry point like any installed package's models.

Your own model: pass ``module:function``, e.g. ``pruning-core --plugin mypkg.zoo:specs
run r.yaml`` or ``PRUNING_CORE_PLUGINS=mypkg.zoo:specs``. Code is only ever imported from
your Python path, never uploaded through the dashboard.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import torch
import torchvision
from torch import nn

from pruning_core.errors import UserInputError
from pruning_core.models.spec import ModelSpec
from pruning_core.models.weights import load_weights_file
from pruning_core.registry import Registry

ENTRY_POINT_GROUP = "pruning_core.models"

_TORCHVISION = {
    "resnet18": ("ResNet-18, ImageNet shape", None),
    "resnet50": ("ResNet-50, ImageNet shape", None),
    "mobilenet_v3_small": ("MobileNetV3-Small, ImageNet shape", None),
    "vit_b_16": ("ViT-B/16, ImageNet shape", ("encoder.layers.*.mlp.0",)),
}


class ModelRegistry(Registry[ModelSpec]):
    """Registry that loads the installed default plugins on first use."""

    def __init__(self) -> None:
        super().__init__("model")
        self._defaults_loaded = False

    def _load_defaults(self) -> None:
        if self._defaults_loaded:
            return
        self._defaults_loaded = True
        for name, (description, channels) in _TORCHVISION.items():
            self.add(
                name,
                ModelSpec(
                    name=name,
                    factory=getattr(torchvision.models, name),
                    input_shape=(3, 224, 224),
                    description=f"{description}; random init",
                    channel_prunable=channels,
                ),
            )
        for point in entry_points(group=ENTRY_POINT_GROUP):
            register_specs(f"{point.module}:{point.attr}", point.load()())

    def get(self, name: str) -> ModelSpec:
        self._load_defaults()
        return super().get(name)

    def names(self) -> list[str]:
        self._load_defaults()
        return super().names()

    def __contains__(self, name: object) -> bool:
        self._load_defaults()
        return super().__contains__(name)

    def __iter__(self) -> Iterator[str]:
        self._load_defaults()
        return super().__iter__()


MODELS = ModelRegistry()


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add ``spec`` to :data:`MODELS` (a plugin's models; see the module docstring)."""
    MODELS.add(spec.name, spec)
    return spec


def register_specs(target: str, returned: object) -> list[ModelSpec]:
    """Register what a plugin function returned: one ``ModelSpec`` or a list of them."""
    specs = [returned] if isinstance(returned, ModelSpec) else list(returned or [])  # type: ignore[call-overload]
    if not all(isinstance(spec, ModelSpec) for spec in specs):
        raise UserInputError("plugin", f"'{target}' must return a ModelSpec or a list of them")
    for spec in specs:
        register_model(spec)
    return specs


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
    return register_specs(target, function())


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
