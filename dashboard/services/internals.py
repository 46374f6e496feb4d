"""Engine names the dashboard needs that ``pruning_core`` does not export (yet).

Every other service module uses only the public surface (``import pruning_core``) and
the run store (``pruning_core.runs``). What is listed here is the whole of the
dashboard's reach into engine internals, each with why, so that the engine can export
these names and this module can shrink to nothing. Names import on first use (as the
engine's own surface does), so pages that never touch a model never import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# name -> (engine module, why the dashboard needs it)
_INTERNALS = {
    # the Configure page's plan column: why each layer is left alone (``check`` returns
    # only the problems; its ``Inspection`` also carries the layer selection)
    "inspect_recipe": "pruning_core.pipeline.checks",
    # the layer table before any recipe: names, kinds, shapes, MACs, default skip
    "prunable_layers": "pruning_core.models.layers",
    "default_skip": "pruning_core.models.layers",
    "layer_macs": "pruning_core.models.metrics",
    # dense facts beside the form: params, size, accuracy on the model's own splits
    "count_params": "pruning_core.models.metrics",
    "dense_bytes": "pruning_core.models.metrics",
    "evaluate": "pruning_core.models.metrics",
    "load_data": "pruning_core.models.registry",
    "BYTES_PER_ELEMENT": "pruning_core.models.metrics",
    # uploaded weights are checked against the architecture before they are kept
    "load_weights_bytes": "pruning_core.models.weights",
    # the sensitivity editor: profile jobs and the live allocation
    "parse_job": "pruning_core.sensitivity.profile",
    "PROFILED_STRUCTURES": "pruning_core.sensitivity.profile",
    "propose": "pruning_core.sensitivity.plan",
    "uniform": "pruning_core.sensitivity.plan",
    "allocated_recipe": "pruning_core.sensitivity.plan",
    # "this device", in the words benchmark rows use
    "cpu_model": "pruning_core.environment",
}


def __getattr__(name: str) -> Any:
    if name not in _INTERNALS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_INTERNALS[name]), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    pass

__all__ = sorted(_INTERNALS)
