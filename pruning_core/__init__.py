"""pruning_core: the engine of the pruning trade-off explorer.

The public surface (everything a user, a plugin or the dashboard needs)::

    from pruning_core import Recipe, load_recipe, check, prune, RunStore, register_model

    recipe = load_recipe("recipe.yaml")
    problems = check(recipe)          # [] when it will run; else Problem(field, message, allowed)
    result = prune(recipe)            # raises the first problem as a UserInputError

Names are imported on first use, so ``import pruning_core`` (and the CLI's argument
parsing, and the dashboard's run store) stay fast and do not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it (what users, plugins and the dashboard use)
_EXPORTS = {
    "Recipe": "pruning_core.recipe",
    "Structure": "pruning_core.recipe",
    "parse_recipe": "pruning_core.recipe",
    "recipe_from_yaml": "pruning_core.recipe",
    "load_recipe": "pruning_core.recipe",
    "Problem": "pruning_core.errors",
    "UserInputError": "pruning_core.errors",
    "RunCancelled": "pruning_core.errors",
    "check": "pruning_core.pipeline.checks",
    "prune": "pruning_core.pipeline.run",
    "RunResult": "pruning_core.pipeline.run",
    "save_run": "pruning_core.pipeline.artifacts",
    "load_results": "pruning_core.pipeline.artifacts",
    "sweep_recipes": "pruning_core.pipeline.sweep",
    "run_sweep": "pruning_core.pipeline.sweep",
    "RunStore": "pruning_core.runs.store",
    "ModelSpec": "pruning_core.models.spec",
    "Split": "pruning_core.models.data",
    "DataFn": "pruning_core.models.data",
    "MODELS": "pruning_core.models.registry",
    "register_model": "pruning_core.models.registry",
    "load_plugin": "pruning_core.models.registry",
    "load_env_plugins": "pruning_core.models.registry",
    "build_model": "pruning_core.models.registry",
    "CRITERIA": "pruning_core.criteria",
    "Criterion": "pruning_core.criteria",
    "LayerStats": "pruning_core.criteria",
    "register_criterion": "pruning_core.criteria",
    "inspect_recipe": "pruning_core.pipeline.checks",
    "Inspection": "pruning_core.pipeline.checks",
    "prunable_layers": "pruning_core.models.layers",
    "default_skip": "pruning_core.models.layers",
    "PrunableLayer": "pruning_core.models.layers",
    "layer_macs": "pruning_core.models.metrics",
    "count_params": "pruning_core.models.metrics",
    "dense_bytes": "pruning_core.models.metrics",
    "evaluate": "pruning_core.models.metrics",
    "BYTES_PER_ELEMENT": "pruning_core.models.metrics",
    "load_data": "pruning_core.models.registry",
    "spec_for": "pruning_core.models.registry",
    "load_weights_bytes": "pruning_core.models.weights",
    "parse_job": "pruning_core.sensitivity.profile",
    "PROFILED_STRUCTURES": "pruning_core.sensitivity.profile",
    "propose": "pruning_core.sensitivity.plan",
    "uniform": "pruning_core.sensitivity.plan",
    "allocated_recipe": "pruning_core.sensitivity.plan",
    "cpu_model": "pruning_core.environment",
    "machine_metadata": "pruning_core.environment",
    "load_gpu_results": "pruning_core.formats.measured_2of4",
    "ModelFacts": "pruning_core.pipeline.model_facts",
    "describe_model": "pruning_core.pipeline.model_facts",
    "dense_metrics": "pruning_core.pipeline.model_facts",
    "model_roots": "pruning_core.models.hf_dirs",
    "find_checkpoints": "pruning_core.models.hf_dirs",
    "find_texts": "pruning_core.models.hf_dirs",
    "find_image_datasets": "pruning_core.models.hf_dirs",
    "find_weight_files": "pruning_core.models.hf_dirs",
    "user_path": "pruning_core.models.hf_dirs",
    "resolve_under_roots": "pruning_core.models.hf_dirs",
    "MODELS_ENV": "pruning_core.models.hf_dirs",
    "torchvision_classifiers": "pruning_core.models.torchvision_source",
}

__all__ = [
    "__version__",
    "BYTES_PER_ELEMENT",
    "CRITERIA",
    "Criterion",
    "DataFn",
    "Inspection",
    "LayerStats",
    "MODELS",
    "MODELS_ENV",
    "ModelFacts",
    "ModelSpec",
    "PROFILED_STRUCTURES",
    "Problem",
    "PrunableLayer",
    "Recipe",
    "RunCancelled",
    "RunResult",
    "RunStore",
    "Split",
    "Structure",
    "UserInputError",
    "allocated_recipe",
    "build_model",
    "check",
    "count_params",
    "cpu_model",
    "default_skip",
    "dense_bytes",
    "dense_metrics",
    "describe_model",
    "evaluate",
    "find_checkpoints",
    "find_image_datasets",
    "find_texts",
    "find_weight_files",
    "inspect_recipe",
    "layer_macs",
    "load_data",
    "load_env_plugins",
    "load_gpu_results",
    "load_plugin",
    "load_recipe",
    "load_results",
    "load_weights_bytes",
    "machine_metadata",
    "model_roots",
    "parse_job",
    "parse_recipe",
    "propose",
    "prunable_layers",
    "prune",
    "recipe_from_yaml",
    "register_criterion",
    "register_model",
    "resolve_under_roots",
    "run_sweep",
    "save_run",
    "spec_for",
    "sweep_recipes",
    "torchvision_classifiers",
    "uniform",
    "user_path",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'pruning_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from pruning_core.criteria import CRITERIA, Criterion, LayerStats, register_criterion
    from pruning_core.environment import cpu_model, machine_metadata
    from pruning_core.errors import Problem, RunCancelled, UserInputError
    from pruning_core.formats.measured_2of4 import load_gpu_results
    from pruning_core.models.data import DataFn, Split
    from pruning_core.models.hf_dirs import (
        MODELS_ENV,
        find_checkpoints,
        find_image_datasets,
        find_texts,
        find_weight_files,
        model_roots,
        resolve_under_roots,
        user_path,
    )
    from pruning_core.models.layers import PrunableLayer, default_skip, prunable_layers
    from pruning_core.models.metrics import (
        BYTES_PER_ELEMENT,
        count_params,
        dense_bytes,
        evaluate,
        layer_macs,
    )
    from pruning_core.models.registry import (
        MODELS,
        build_model,
        load_data,
        load_env_plugins,
        load_plugin,
        register_model,
        spec_for,
    )
    from pruning_core.models.spec import ModelSpec
    from pruning_core.models.torchvision_source import torchvision_classifiers
    from pruning_core.models.weights import load_weights_bytes
    from pruning_core.pipeline.artifacts import load_results, save_run
    from pruning_core.pipeline.checks import Inspection, check, inspect_recipe
    from pruning_core.pipeline.model_facts import ModelFacts, dense_metrics, describe_model
    from pruning_core.pipeline.run import RunResult, prune
    from pruning_core.pipeline.sweep import run_sweep, sweep_recipes
    from pruning_core.recipe import Recipe, Structure, load_recipe, parse_recipe, recipe_from_yaml
    from pruning_core.runs.store import RunStore
    from pruning_core.sensitivity.plan import allocated_recipe, propose, uniform
    from pruning_core.sensitivity.profile import PROFILED_STRUCTURES, parse_job
