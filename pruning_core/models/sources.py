"""Models and data named by prefix or kind: ``hf:<dir>``, ``torchvision:<arch>``, ``text``...

A *model source* turns the part of ``recipe.model`` after its prefix (and the recipe's
``weights``) into a :class:`ModelSpec`; a *data source* turns a ``recipe.data`` config into
``{"train", "val", "test"}`` splits for a spec. Source modules register themselves here
and :mod:`pruning_core.models.registry` imports them, so the rest of the engine only
calls :func:`pruning_core.models.registry.spec_for` and ``load_data``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pruning_core.models.data import Split
from pruning_core.models.spec import ModelSpec

ModelResolver = Callable[[str, str | None], ModelSpec]  # (text after "prefix:", weights)
DataLoader = Callable[[Any, ModelSpec], dict[str, Split]]  # (recipe.data, spec) -> splits
SpecAdapter = Callable[[Any, ModelSpec], ModelSpec]  # (recipe.data, spec) -> spec for that data

MODEL_SOURCES: dict[str, ModelResolver] = {}
DATA_SOURCES: dict[str, DataLoader] = {}
DATA_SPECS: dict[str, SpecAdapter] = {}


def model_source(prefix: str) -> Callable[[ModelResolver], ModelResolver]:
    """Register a resolver for model names ``prefix:<text>``."""

    def decorate(resolver: ModelResolver) -> ModelResolver:
        MODEL_SOURCES[prefix] = resolver
        return resolver

    return decorate


def data_source(kind: str) -> Callable[[DataLoader], DataLoader]:
    """Register a loader for ``recipe.data`` configs of ``kind``."""

    def decorate(loader: DataLoader) -> DataLoader:
        DATA_SOURCES[kind] = loader
        return loader

    return decorate


def data_spec(kind: str) -> Callable[[SpecAdapter], SpecAdapter]:
    """Register how ``recipe.data`` of ``kind`` changes a model's spec.

    E.g. ``image_folder`` sets ``input_shape`` from ``image_size``: MACs, channel groups
    and latency are then measured at the size the data has. The adapter may refuse
    (``UserInputError``) a model the data cannot feed.
    """

    def decorate(adapter: SpecAdapter) -> SpecAdapter:
        DATA_SPECS[kind] = adapter
        return adapter

    return decorate
