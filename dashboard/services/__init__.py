"""The dashboard's one door to ``pruning_core``: models, recipe checks, the run store.

Pages and components call these functions and never import the engine themselves; the
services use only the engine's public surface (``import pruning_core``) and its run
store (``pruning_core.runs``). Long work (a run, a profile) is only ever queued here; a
worker process executes it.
"""

from dashboard.services import gpu
from dashboard.services.examples import example_size, example_text, queue_example
from dashboard.services.models import (
    criteria,
    default_skip,
    dense_metrics,
    file_stamp,
    layer_table,
    model_description,
    model_facts,
    model_label,
    model_names,
    model_summary,
    recipe_choices,
    save_upload,
)
from dashboard.services.plugins import plugin_problem
from dashboard.services.queue import (
    queue_view,
    start_worker_if_needed,
    stop_all_workers,
    stop_started_workers,
)
from dashboard.services.recipes import (
    Issue,
    check_recipe,
    check_sweep,
    estimate,
    guardrails,
    queue_baseline,
    sweep_recipes,
)
from dashboard.services.results import (
    hf_folder,
    hf_zip,
    measurements,
    results,
    size_rows,
    this_device,
)
from dashboard.services.runs import run_facts, runs_frame
from dashboard.services.sources import (
    checked_path,
    configure_roots,
    listing,
    roots,
    roots_text,
    torchvision_archs,
)
from dashboard.services.store import (
    artifact_path,
    cancel,
    delete_runs,
    executor_info,
    queue_again,
    queue_run,
    queue_sweep,
    recover,
    store,
    worker_lines,
    worker_problem,
)
from dashboard.services.structures import fixes_sparsity, parse_structure, structure_label
from pruning_core import UserInputError

__all__ = [
    "Issue",
    "UserInputError",
    "artifact_path",
    "cancel",
    "check_recipe",
    "check_sweep",
    "checked_path",
    "configure_roots",
    "criteria",
    "default_skip",
    "delete_runs",
    "dense_metrics",
    "estimate",
    "example_size",
    "example_text",
    "executor_info",
    "file_stamp",
    "fixes_sparsity",
    "gpu",
    "guardrails",
    "hf_folder",
    "hf_zip",
    "layer_table",
    "listing",
    "measurements",
    "model_description",
    "model_facts",
    "model_summary",
    "model_label",
    "model_names",
    "parse_structure",
    "plugin_problem",
    "queue_again",
    "queue_baseline",
    "queue_example",
    "queue_run",
    "queue_sweep",
    "queue_view",
    "recipe_choices",
    "recover",
    "results",
    "roots",
    "roots_text",
    "run_facts",
    "runs_frame",
    "save_upload",
    "size_rows",
    "start_worker_if_needed",
    "stop_all_workers",
    "stop_started_workers",
    "store",
    "structure_label",
    "sweep_recipes",
    "this_device",
    "torchvision_archs",
    "worker_lines",
    "worker_problem",
]
