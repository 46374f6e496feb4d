"""Physical channel removal on Torch-Pruning's dependency graph (DepGraph).

Removing output channels of one layer also removes what depends on them (BatchNorm
entries, the next layer's input channels, coupled residual branches); DepGraph finds
those dependencies, so no hand-written graph is needed.
"""

from __future__ import annotations

from typing import Any

import torch
import torch_pruning as tp
from torch import nn

from pruning_core.models.layers import module_weight


def _out_channel_pruner(module: nn.Module) -> Any:
    if isinstance(module, nn.Linear):
        return tp.prune_linear_out_channels
    return tp.prune_conv_out_channels


def remove_output_channels(
    model: nn.Module, plan: dict[str, list[int]], example_input: torch.Tensor
) -> dict[str, str]:
    """Remove the listed output channels of each named layer, with all dependents.

    Args:
        model: modified in place.
        plan: layer name -> indices of output channels to remove (of its current shape).
        example_input: one batch to trace the graph.

    Returns:
        Notes per layer that could not be pruned as planned (e.g. a coupled layer that
        an earlier group already shrank).
    """
    notes: dict[str, str] = {}
    if not any(plan.values()):
        return notes
    graph = tp.DependencyGraph().build_dependency(
        model, example_inputs=example_input, verbose=False
    )
    planned_out = {name: module_weight(model.get_submodule(name)).shape[0] for name in plan}
    for name, indices in plan.items():
        module = model.get_submodule(name)
        if not indices:
            continue
        if module_weight(module).shape[0] != planned_out[name]:
            notes[name] = "already pruned through a coupled layer"
            continue
        group = graph.get_pruning_group(module, _out_channel_pruner(module), idxs=sorted(indices))
        if not graph.check_pruning_group(group):
            notes[name] = "Torch-Pruning refused: it would remove every channel of a layer"
            continue
        group.prune()
    return notes
