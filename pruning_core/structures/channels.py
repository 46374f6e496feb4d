"""Physical channel removal on Torch-Pruning's dependency graph (DepGraph).

Removing output channels of one layer also removes what depends on them (BatchNorm
entries, the next layer's input channels, coupled residual branches); DepGraph finds
those dependencies, so no hand-written graph is needed.

A *group* is everything that loses the same channels: the layers whose outputs are
added together (a residual stream) lose the same output channels, and the layers they
feed lose the matching input channels. A layer the run leaves alone (``skip_layers``,
or a layer that cannot be channel-pruned) keeps its whole group dense: its output
channels are never removed, not even through the coupling (as Torch-Pruning's own
``ignored_layers``). Every change a layer undergoes is reported: output channels chosen
by another member of its group, input channels removed with another group.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import torch
import torch_pruning as tp
from torch import nn

from pruning_core.errors import UserInputError, shorten
from pruning_core.models.layers import PRUNABLE_TYPES, module_weight

KEPT_BY_COUPLING = "kept dense: its output channels are coupled with '{}', which is left dense"


@dataclass
class ChannelRemoval:
    """What a channel-removal step did besides the plan.

    Attributes:
        kept: planned layers whose output channels were left as they are, and why.
        changed: layers changed through another layer's group, and how.
    """

    kept: dict[str, str] = field(default_factory=dict)
    changed: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ChannelGroup:
    """The prunable layers one output-channel removal reaches, in model order."""

    outputs: list[str]  # layers losing output channels (the root first)
    inputs: list[str]  # layers losing input channels


def _out_channel_pruner(module: nn.Module) -> Any:
    if isinstance(module, nn.Linear):
        return tp.prune_linear_out_channels
    return tp.prune_conv_out_channels


def _layer_names(model: nn.Module) -> dict[int, str]:
    return {id(m): name for name, m in model.named_modules() if isinstance(m, PRUNABLE_TYPES)}


def _group_layers(
    graph: tp.DependencyGraph, group: Any, names: dict[int, str], root: str
) -> ChannelGroup:
    outputs, inputs = [root], []
    for dep, _ in group:
        name = names.get(id(dep.target.module))
        if name is None:
            continue
        if graph.is_out_channel_pruning_fn(dep.handler) and name not in outputs:
            outputs.append(name)
        elif graph.is_in_channel_pruning_fn(dep.handler) and name not in inputs:
            inputs.append(name)
    return ChannelGroup(outputs, inputs)


def _graph(model: nn.Module, example_input: torch.Tensor) -> tp.DependencyGraph:
    return tp.DependencyGraph().build_dependency(model, example_inputs=example_input, verbose=False)


def _whole_group(graph: tp.DependencyGraph, model: nn.Module, name: str) -> Any:
    module = model.get_submodule(name)
    out_channels = module_weight(module).shape[0]
    return graph.get_pruning_group(
        module, _out_channel_pruner(module), idxs=list(range(out_channels))
    )


def coupled_with_kept(
    model: nn.Module, active: list[str], example_input: torch.Tensor
) -> dict[str, str]:
    """Active layers whose output channels are coupled with a layer outside ``active``.

    Args:
        model: not modified.
        active: layers the run would prune; every other Linear/Conv is left dense.
        example_input: one batch to trace the graph.

    Returns:
        Layer name -> why it must stay dense (the note the run reports).
    """
    names = _layer_names(model)
    wanted = set(active)
    if not active or wanted >= set(names.values()):  # nothing is left dense: no tracing
        return {}
    graph = _graph(model, example_input)
    notes: dict[str, str] = {}
    seen: set[str] = set()
    for name in active:
        if name in seen:
            continue
        members = _group_layers(graph, _whole_group(graph, model, name), names, name).outputs
        seen.update(members)
        blocking = [member for member in members if member not in wanted]
        if blocking:
            for member in members:
                if member in wanted:
                    notes[member] = KEPT_BY_COUPLING.format(blocking[0])
    return notes


def _add(changed: dict[str, list[str]], name: str, text: str) -> None:
    if text not in changed.setdefault(name, []):
        changed[name].append(text)


def remove_output_channels(
    model: nn.Module,
    plan: dict[str, list[int]],
    example_input: torch.Tensor,
    keep: Collection[str] = (),
) -> ChannelRemoval:
    """Remove the listed output channels of each named layer, with all dependents.

    Layers whose outputs are coupled (a residual stream) lose the same channels: the
    first planned layer of the group (in model order) chooses them.

    Args:
        model: modified in place.
        plan: layer name -> indices of output channels to remove (of its current shape).
        example_input: one batch to trace the graph.
        keep: layers whose output channels must not change; a group holding one of them
            is left dense.

    Returns:
        The planned layers left as they are (and why) and every layer changed through
        another layer's group.
    """
    if not any(plan.values()):
        return ChannelRemoval()
    try:
        return _remove(model, plan, example_input, set(keep))
    except (RuntimeError, IndexError, ValueError, KeyError) as error:  # torch_pruning's limits
        raise UserInputError(
            "structure",
            f"channel removal is not supported for this architecture (Torch-Pruning: "
            f"{shorten(error, 200)}); allowed: unstructured, n:m, block",
        ) from None


def _remove(
    model: nn.Module, plan: dict[str, list[int]], example_input: torch.Tensor, keep: set[str]
) -> ChannelRemoval:
    result = ChannelRemoval()
    graph = _graph(model, example_input)
    names = _layer_names(model)
    handled: set[str] = set()
    changed: dict[str, list[str]] = {}
    for name, indices in plan.items():
        if name in handled or not indices:
            continue
        module = model.get_submodule(name)
        group = graph.get_pruning_group(module, _out_channel_pruner(module), idxs=sorted(indices))
        members = _group_layers(graph, group, names, name)
        handled.update(members.outputs)
        blocking = [member for member in members.outputs if member in keep]
        if blocking:
            for member in members.outputs:
                if plan.get(member):
                    result.kept[member] = KEPT_BY_COUPLING.format(blocking[0])
            continue
        if not graph.check_pruning_group(group):
            for member in members.outputs:
                if plan.get(member):
                    result.kept[member] = (
                        "Torch-Pruning refused: it would remove every channel of a layer"
                    )
            continue
        group.prune()
        for member in members.outputs[1:]:
            _add(changed, member, f"output channels chosen by coupled '{name}'")
        for member in members.inputs:
            _add(changed, member, f"input channels removed with '{name}'")
    result.changed = {name: "; ".join(texts) for name, texts in changed.items()}
    return result
