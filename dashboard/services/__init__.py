"""The dashboard's one door to ``pruning_core``: models, recipe checks, the run store.

Pages call these functions and never import the engine themselves. Long work (a run)
is only ever queued here; a worker process executes it.
"""

from dashboard.services.models import (
    criteria,
    default_skip,
    dense_accuracy,
    file_stamp,
    layer_table,
    model_description,
    model_label,
    model_names,
    recipe_choices,
    save_upload,
)
from dashboard.services.recipes import Issue, check_recipe, check_sweep, estimate, sweep_recipes
from dashboard.services.store import (
    artifact_path,
    cancel,
    delete_run,
    measurements,
    queue_again,
    queue_run,
    queue_sweep,
    recover,
    results,
    runs_frame,
    start_worker_if_needed,
    store,
    this_device,
    worker_lines,
    worker_problem,
)
from pruning_core.errors import UserInputError

__all__ = [
    "Issue",
    "UserInputError",
    "artifact_path",
    "cancel",
    "check_recipe",
    "check_sweep",
    "criteria",
    "default_skip",
    "delete_run",
    "dense_accuracy",
    "estimate",
    "file_stamp",
    "layer_table",
    "measurements",
    "model_description",
    "model_label",
    "model_names",
    "queue_again",
    "queue_run",
    "queue_sweep",
    "recipe_choices",
    "recover",
    "results",
    "runs_frame",
    "save_upload",
    "start_worker_if_needed",
    "store",
    "sweep_recipes",
    "this_device",
    "worker_lines",
    "worker_problem",
]
