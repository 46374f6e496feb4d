"""Which layers a recipe prunes, and why each other one is left alone.

Used by the run, by sensitivity profiles and by :func:`pruning_core.pipeline.checks.check`
(which turns what cannot be pruned into problems for the user), so the dashboard never
restates these rules.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from pruning_core.errors import Problem, UserInputError
from pruning_core.models.layers import PrunableLayer, prunable_layers, resolve_skip
from pruning_core.models.registry import build_model
from pruning_core.models.spec import ModelSpec
from pruning_core.recipe import Recipe
from pruning_core.structures.heads import head_layer_notes
from pruning_core.structures.heads_mha import convert_multihead_attention

SKIPPED_BY_USER = "skipped (skip_layers)"
FEEDS_HEADS = "output channels feed attention heads or the residual stream"
SKIP_CONTROL = "Skip layers whose shape does not fit"  # the dashboard's name for skip_incompatible


@dataclass
class LayerSelection:
    """All prunable layers, the active ones, why each inactive one is left alone, problems."""

    layers: list[PrunableLayer]
    active: list[PrunableLayer] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def raise_first(self) -> None:
        """Raise the first problem as a :class:`UserInputError` (if any)."""
        if self.problems:
            raise self.problems[0].as_error()


def build_prunable_model(spec: ModelSpec, weights: str | Path | None) -> nn.Module:
    """The dense model a run starts from, every ``nn.MultiheadAttention`` split into layers.

    ``nn.MultiheadAttention`` keeps q/k/v in one fused ``in_proj_weight`` that no
    Linear/Conv walk finds, so it would be neither pruned nor counted; split into
    ``q``/``k``/``v``/``proj`` ``nn.Linear`` layers (the same function) it is pruned like
    any Linear by every structure, and its heads become removable for ``head``.
    """
    model = build_model(spec, weights)
    convert_multihead_attention(model)
    return model


def shapes_only_model(spec: ModelSpec, weights: str | Path | None) -> nn.Module:
    """The model's names and shapes: its weightless skeleton when the spec has one (large
    checkpoints, meta device), else :func:`build_prunable_model`. Never run or prune it."""
    if spec.skeleton is None:
        return build_prunable_model(spec, weights)
    skeleton = spec.skeleton()
    convert_multihead_attention(skeleton)
    return skeleton


def _user_skips(
    layers: list[PrunableLayer], recipe: Recipe, default: tuple[str, ...] | None
) -> tuple[list[str], list[Problem]]:
    try:
        return resolve_skip(layers, recipe.skip_layers, default), []
    except UserInputError as error:
        return [], [Problem.of(error)]


def select_layers(model: nn.Module, spec: ModelSpec, recipe: Recipe) -> LayerSelection:
    """The layers ``recipe`` prunes in ``model``; problems instead of exceptions."""
    selection = LayerSelection(prunable_layers(model))
    skipped, selection.problems = _user_skips(selection.layers, recipe, spec.default_skip)
    notes = {name: SKIPPED_BY_USER for name in skipped}
    structure = recipe.structure
    if structure.removes_heads:
        try:
            notes.update(head_layer_notes(model, [layer.name for layer in selection.layers], notes))
        except UserInputError as error:
            selection.problems.append(Problem.of(error))
    for layer in selection.layers:
        if layer.name in notes:
            continue
        if (
            structure.removes_channels
            and spec.channel_prunable is not None
            and not any(fnmatch.fnmatch(layer.name, glob) for glob in spec.channel_prunable)
        ):
            notes[layer.name] = FEEDS_HEADS
            continue
        reason = structure.incompatibility(layer.shape_2d)
        if reason is None:
            continue
        if not structure.skip_incompatible:
            selection.problems.append(
                Problem(
                    "structure",
                    f"{structure.label()} does not fit layer '{layer.name}': {reason}; "
                    f"add it to skip_layers or tick '{SKIP_CONTROL}' "
                    "(structure.skip_incompatible: true)",
                    ("skip_layers", "structure.skip_incompatible"),
                )
            )
        notes[layer.name] = f"skipped: {reason}"
    selection.notes = notes
    selection.active = [layer for layer in selection.layers if layer.name not in notes]
    if not selection.active and recipe.sparsity > 0 and not selection.problems:
        selection.problems.append(
            Problem("skip_layers", "every prunable layer is skipped; nothing to prune")
        )
    return selection
