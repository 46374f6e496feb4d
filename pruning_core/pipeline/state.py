"""The state of one run while :func:`pruning_core.pipeline.run.prune` executes it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from pruning_core.criteria import CRITERIA, LayerStats
from pruning_core.criteria.calibration import collect_stats
from pruning_core.errors import RunCancelled
from pruning_core.models.data import Batches, Split, calibration_batches
from pruning_core.models.metrics import split_metrics
from pruning_core.models.registry import spec_for
from pruning_core.pipeline.checks import inspect_recipe
from pruning_core.pipeline.report import original_layer_facts
from pruning_core.recipe import Recipe
from pruning_core.structures.channels import coupled_with_kept
from pruning_core.structures.heads import find_attention

ProgressFn = Callable[[str, float, str], None]  # (phase, fraction 0..1, message)


class RunState:
    """The model, its data and layers, and what the run has recorded so far.

    Raises:
        UserInputError: the first problem :func:`pruning_core.check` finds.
    """

    def __init__(
        self, recipe: Recipe, progress: ProgressFn | None, should_cancel: Callable[[], bool] | None
    ) -> None:
        self.recipe = recipe
        self.spec = spec_for(recipe.model, recipe.weights, recipe.data)
        torch.manual_seed(recipe.seed)
        inspection = inspect_recipe(recipe, self.spec)
        if inspection.problems:
            raise inspection.problems[0].as_error()
        assert inspection.model is not None and inspection.selection is not None
        self.criterion = CRITERIA.get(recipe.criterion)
        self.metric = self.spec.metric  # accuracy, or perplexity for causal LMs
        self.generator = torch.Generator().manual_seed(recipe.seed)
        self.model: nn.Module = inspection.model
        self.data = inspection.data
        selection = inspection.selection
        self.layers, self.active, self.notes = selection.layers, selection.active, selection.notes
        self.example = torch.zeros((2, *self.spec.input_shape))
        if recipe.structure.removes_channels:  # a skipped layer keeps its coupled group dense
            self.notes.update(
                coupled_with_kept(self.model, [layer.name for layer in self.active], self.example)
            )
            self.active = [layer for layer in self.active if layer.name not in self.notes]
        self.changes: dict[str, str] = {}  # layers changed through others (channel groups)
        active_names = {layer.name for layer in self.active}
        self.sites = [
            site
            for site in find_attention(self.model)
            if recipe.structure.removes_heads and site.layer_name("q") in active_names
        ]
        # the dense model's layer inputs are where reconstruction errors are measured
        self.dense = copy.deepcopy(self.model).eval() if self.data else None
        self.reconstruction: dict[str, float] = {}
        self.original = original_layer_facts(self.model, self.layers, self.spec.input_shape)
        self.channel_done = 0.0  # channel runs: share of channels already removed
        self.channel_done_layers: dict[str, float] = {}  # the same per layer (layer_sparsity)
        self.curves: list[dict[str, Any]] = []
        self._progress = progress
        self._should_cancel = should_cancel
        self.step = 0

    def report(self, phase: str, fraction: float, message: str) -> None:
        """Progress to the caller; raises :class:`RunCancelled` when asked to stop."""
        if self._should_cancel is not None and self._should_cancel():
            raise RunCancelled(f"cancelled during {phase}")
        if self._progress is not None:
            self._progress(phase, min(max(fraction, 0.0), 1.0), message)

    def note_changes(self, changed: dict[str, str]) -> None:
        """Add how layers were changed through others, each fact once per layer."""
        for name, text in changed.items():
            facts = [fact for fact in self.changes.get(name, "").split("; ") if fact]
            facts += [fact for fact in text.split("; ") if fact not in facts]
            self.changes[name] = "; ".join(facts)

    def split(self, name: str) -> Split | None:
        return self.data[name] if self.data else None

    def calibration_batches(self) -> Batches:
        config = self.recipe.calibration
        return calibration_batches(
            self.split("train"), config.samples, config.batch_size, self.recipe.seed
        )

    def metrics(self, name: str) -> tuple[float | None, float | None]:
        """``(metric, loss)`` of the model as it is now on split ``name``.

        The metric is :attr:`metric`: accuracy, or for causal LMs perplexity over the
        split's non-overlapping windows (loss: mean cross entropy per predicted token).
        """
        part = self.split(name)
        if part is None:
            return None, None
        return split_metrics(self.model, part, self.metric)

    def record(self, kind: str, **fields: Any) -> None:
        """Add a point to the curves: sparsity of the active layers and validation metrics."""
        value, loss = self.metrics("val")
        pruned = sum(int(torch.count_nonzero(layer.weight)) for layer in self.active)
        original = sum(self.original[layer.name]["params"] for layer in self.active)
        self.curves.append(
            {
                "kind": kind,
                "step": self.step,
                **fields,
                "sparsity": 1.0 - pruned / original if original else 0.0,
                "val_accuracy": value if self.metric == "accuracy" else None,
                **({"val_perplexity": value} if self.metric == "perplexity" else {}),
                "val_loss": loss,
            }
        )

    def layer_stats(self, batches: Batches) -> dict[str, LayerStats]:
        """Calibration statistics of the active layers, with the run's seeded generator."""
        stats = collect_stats(self.model, self.active, batches, self.criterion.needs)
        for entry in stats.values():
            entry.generator = self.generator
        return stats
