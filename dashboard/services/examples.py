"""A first start that is not empty: one click queues a small example sweep.

Criteria x sparsities on the shipped digits MLP (one finetune epoch, seed 0), with the
random criterion as the baseline: a few seconds per run, so a new user sees every chart
within a couple of minutes.
"""

from __future__ import annotations

import pruning_core
from dashboard.services.recipes import check_sweep, sweep_recipes
from dashboard.services.store import queue_sweep

MODEL = "digits_mlp"
CRITERIA = ["magnitude", "taylor", "random"]
SPARSITIES = [0.5, 0.7, 0.9]
BASE = {"model": MODEL, "finetune": {"epochs": 1}, "calibration": {"samples": 128}}


def example_size() -> int:
    """How many runs the example sweep queues."""
    return len(CRITERIA) * len(SPARSITIES)


def example_text() -> str:
    """What the example sweep is, in one line."""
    return (
        f"{', '.join(CRITERIA[:-1])} and the random baseline x sparsities "
        f"{', '.join(f'{s:.0%}' for s in SPARSITIES)} on {MODEL} (1 finetune epoch)"
    )


def queue_example() -> list[int]:
    """Queue the example sweep; returns the new run ids.

    Raises:
        UserInputError: the example does not pass the engine's check on this install.
    """
    recipes = sweep_recipes(pruning_core.parse_recipe(BASE), CRITERIA, SPARSITIES, [0])
    problems = check_sweep(recipes)
    if problems:
        raise problems[0].as_error()
    return queue_sweep(recipes, name="example sweep")
