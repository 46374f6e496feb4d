"""What the engine needs to know about a model: :class:`ModelSpec`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from torch import nn

from pruning_core.models.data import DataFn

METRIC_DIRECTION = {"accuracy": "higher", "perplexity": "lower"}
Normalization = tuple[tuple[float, float, float], tuple[float, float, float]]  # (mean, std)


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
        task: ``classification`` (accuracy) or ``causal_lm`` (perplexity).
        source: where the model comes from, e.g. a local directory (``None``: registry).
            A checkpoint directory holds trained weights (and, for LMs, the tokenizer).
        default_skip: layer names or globs kept dense when the recipe's ``skip_layers`` is
            null (``None``: the first and the last prunable layer); LMs keep ``lm_head``.
        normalization: the ``(mean, std)`` the model was trained with; image folders use it
            when the recipe gives none (``None``: ImageNet's).
        skeleton: builds the architecture without weights (meta device): names and shapes
            for checks and layer tables of large checkpoints (``None``: use ``factory``).
    """

    name: str
    factory: Callable[[], nn.Module]
    input_shape: tuple[int, ...]
    weights: Path | None = None
    data: DataFn | None = None
    description: str = ""
    channel_prunable: tuple[str, ...] | None = field(default=None)
    task: Literal["classification", "causal_lm"] = "classification"
    source: Path | None = None
    default_skip: tuple[str, ...] | None = None
    normalization: Normalization | None = None
    skeleton: Callable[[], nn.Module] | None = None

    @property
    def trained(self) -> bool:
        """Trained weights with data to measure them on, or a trained checkpoint directory."""
        return (self.weights is not None and self.data is not None) or self.source is not None

    @property
    def metric(self) -> str:
        """What the model is judged by: ``perplexity`` for causal LMs (lower is better),
        ``accuracy`` for classifiers (higher is better); see :data:`METRIC_DIRECTION`."""
        return "perplexity" if self.task == "causal_lm" else "accuracy"

    @property
    def label(self) -> str:
        """Name plus the honest caveat for untrained models."""
        if self.trained:
            return self.name
        return f"{self.name} (untrained: structure and speed only, no accuracy)"
