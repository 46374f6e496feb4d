"""The model registry: a name maps to a :class:`ModelSpec`.

Built in: torchvision architectures with random init (untrained: structure and speed
only). Named by a source prefix: ``torchvision:<arch>`` (any torchvision classifier, with
``weights``), ``hf:<dir>``. Everything else comes from plugins: a function returning a
``ModelSpec`` (or a list of them). The shipped digits models are the default plugin,
found through the ``pruning_core.models`` entry point like any installed package's models.

Your own model: pass ``module:function``, e.g. ``pruning-core --plugin mypkg.zoo:specs
run r.yaml`` or ``PRUNING_CORE_PLUGINS=mypkg.zoo:specs``. Code is only ever imported from
your Python path, never uploaded through the dashboard.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn

from pruning_core.errors import UserInputError, shorten
from pruning_core.models import hf_source as _hf  # noqa: F401  (registers hf:)
from pruning_core.models import image_folder as _image_folder  # noqa: F401  (registers)
from pruning_core.models import text_data as _text_data  # noqa: F401  (registers kind: text)
from pruning_core.models import torchvision_source as _torchvision  # noqa: F401  (registers)
from pruning_core.models.data import Split
from pruning_core.models.sources import DATA_SOURCES, DATA_SPECS, MODEL_SOURCES
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
            register_model(
                ModelSpec(
                    name=name,
                    factory=getattr(torchvision.models, name),
                    input_shape=(3, 224, 224),
                    description=f"{description}; random init",
                    channel_prunable=channels,
                ),
                "the built-in torchvision models",
            )
        for point in entry_points(group=ENTRY_POINT_GROUP):
            target = f"{point.module}:{point.attr}"
            register_specs(target, _call_plugin(target, point.load()))

    def get(self, name: str) -> ModelSpec:
        self._load_defaults()
        return super().get(name)

    def names(self) -> list[str]:
        """Trained models (with weights and data) first, each group in registration order."""
        self._load_defaults()
        names = super().names()
        return sorted(names, key=lambda name: not self._entries[name].trained)

    def __contains__(self, name: object) -> bool:
        self._load_defaults()
        return super().__contains__(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


MODELS = ModelRegistry()
_SOURCES: dict[str, str] = {}  # model name -> who registered it


def register_model(spec: ModelSpec, source: str = "register_model") -> ModelSpec:
    """Add ``spec`` to :data:`MODELS` (a plugin's models; see the module docstring).

    Raises:
        UserInputError: the spec is malformed, or its name is taken by another source
            (a built-in model or another plugin); the same source may register it again.
    """
    problem = spec_problem(spec)
    if problem is not None:
        raise UserInputError("plugin", f"'{shorten(source)}': {problem}")
    owner = _SOURCES.get(spec.name)
    if owner is not None and owner != source:
        raise UserInputError(
            "plugin",
            f"'{shorten(source)}' registers model '{shorten(spec.name)}', which {owner} "
            "already registered; give the model a distinct name",
        )
    _SOURCES[spec.name] = source
    MODELS.add(spec.name, spec)
    return spec


def spec_problem(spec: ModelSpec) -> str | None:
    """What is wrong with a plugin's spec, or ``None``."""
    if not isinstance(spec.name, str) or not spec.name.strip():
        return "a ModelSpec needs a non-empty name"
    if not callable(spec.factory):
        return f"model '{shorten(spec.name)}': factory is not callable"
    shape = spec.input_shape
    if not isinstance(shape, tuple) or not all(isinstance(s, int) and s > 0 for s in shape):
        return f"model '{shorten(spec.name)}': input_shape must be a tuple of positive ints"
    if spec.data is not None and not callable(spec.data):
        return f"model '{shorten(spec.name)}': data must be a function returning the splits"
    return None


def register_specs(target: str, returned: object) -> list[ModelSpec]:
    """Register what a plugin function returned: one ``ModelSpec`` or a list of them."""
    if returned is None:
        raise UserInputError("plugin", f"'{shorten(target)}' returned nothing; return ModelSpec(s)")
    specs = [returned] if isinstance(returned, ModelSpec) else returned
    if not isinstance(specs, list | tuple) or not specs:
        raise UserInputError(
            "plugin", f"'{shorten(target)}' must return a ModelSpec or a non-empty list of them"
        )
    if not all(isinstance(spec, ModelSpec) for spec in specs):
        raise UserInputError(
            "plugin", f"'{shorten(target)}' must return a ModelSpec or a list of them"
        )
    return [register_model(spec, f"plugin '{shorten(target)}'") for spec in specs]


def _call_plugin(target: str, function: Callable[[], object]) -> object:
    try:
        return function()
    except UserInputError:  # already one line naming its field (e.g. a checkpoint's model)
        raise
    except SystemExit as error:
        raise UserInputError(
            "plugin", f"'{shorten(target)}' tried to exit ({error.code})"
        ) from None
    except Exception as error:  # a plugin is user code: any failure is the user's to fix
        raise UserInputError(
            "plugin", f"'{shorten(target)}' raised {type(error).__name__}: {shorten(error, 300)}"
        ) from None


def load_plugin(target: str) -> list[ModelSpec]:
    """Import ``module:function`` and register the spec(s) it returns.

    Raises:
        UserInputError: the target is malformed, cannot be imported or called, or does not
            return ModelSpec(s).
    """
    module_name, _, function_name = target.partition(":")
    if not module_name or not function_name:
        raise UserInputError("plugin", f"'{shorten(target)}' is not 'module:function'")
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except SystemExit as error:
        raise UserInputError(
            "plugin", f"importing '{shorten(target)}' tried to exit ({error.code})"
        ) from None
    except Exception as error:  # import errors, syntax errors, errors raised by the module
        raise UserInputError(
            "plugin",
            f"cannot load '{shorten(target)}': {type(error).__name__}: {shorten(error, 300)}",
        ) from None
    if not callable(function):
        raise UserInputError("plugin", f"'{shorten(target)}' is not a function")
    return register_specs(target, _call_plugin(target, function))


def load_env_plugins() -> None:
    """Load plugins named in ``PRUNING_CORE_PLUGINS`` (comma separated)."""
    for target in filter(None, os.environ.get("PRUNING_CORE_PLUGINS", "").split(",")):
        load_plugin(target.strip())


def build_model(spec: ModelSpec, weights: str | Path | None = None) -> nn.Module:
    """Build the architecture and load ``weights`` (or the spec's own), in eval mode."""
    torch.manual_seed(0)  # random-init models are the same in every run
    model = _call_plugin(f"{spec.name} factory", spec.factory)
    if not isinstance(model, nn.Module):
        raise UserInputError(
            "model", f"the factory of '{shorten(spec.name)}' did not return a module"
        )
    source = Path(weights) if weights is not None else spec.weights
    if source is not None:
        load_weights_file(model, source)
    return model.eval()


def spec_for(model: str, weights: str | None = None, data: Any | None = None) -> ModelSpec:
    """The spec of a recipe's ``model``: a registered name or ``prefix:<text>`` of a source.

    With the recipe's ``data``, the spec as that data feeds it (:func:`spec_with_data`).

    Raises:
        UserInputError: unknown name or prefix, or the source refuses the model, or the
            data cannot feed it.
    """
    prefix, colon, rest = model.partition(":")
    if colon and prefix in MODEL_SOURCES:
        spec = MODEL_SOURCES[prefix](rest, weights)
    else:
        spec = MODELS.get(model)
    return spec_with_data(spec, data)


def spec_with_data(spec: ModelSpec, data: Any | None) -> ModelSpec:
    """``spec`` as the recipe's ``data`` feeds it, e.g. its input shape from ``image_size``.

    Idempotent: a spec already adapted to ``data`` comes back unchanged.
    """
    adapter = DATA_SPECS.get(data.kind) if data is not None else None
    return adapter(data, spec) if adapter is not None else spec


def has_data(spec: ModelSpec, data: object | None = None) -> bool:
    """Whether a run of ``spec`` (with the recipe's ``data``, if any) has splits to use."""
    return data is not None or spec.data is not None


def load_data(spec: ModelSpec, data: Any | None = None) -> dict[str, Split] | None:
    """The ``train``/``val``/``test`` splits: the recipe's ``data`` source, else the model's.

    Raises:
        UserInputError: the data source or function failed or returned something else.
    """
    if data is not None:
        loader = DATA_SOURCES.get(data.kind)
        if loader is None:
            raise UserInputError("data.kind", f"unknown data kind '{shorten(data.kind)}'")
        return loader(data, spec)
    if spec.data is None:
        return None
    splits = _call_plugin(f"{spec.name} data", spec.data)
    if not isinstance(splits, dict) or not all(
        isinstance(splits.get(name), Split) for name in ("train", "val", "test")
    ):
        raise UserInputError(
            "model", f"the data of '{shorten(spec.name)}' must be a dict of train/val/test Splits"
        )
    return splits
