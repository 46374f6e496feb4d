"""``check``, ``prune`` and the CLI agree on every bad recipe, problem for problem.

Rules live in one place (``pruning_core.pipeline.checks``): ``check`` lists the problems,
``prune`` raises the first as a ``UserInputError`` and the CLI prints that same line. The
table is the CLI's own (``bad_recipes.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from bad_recipes import BAD_RECIPES, BadRecipe
from cli_support import BadRun, Cli
from tiny_model import TinyModel

from pruning_core.errors import Problem, UserInputError
from pruning_core.pipeline.checks import check
from pruning_core.pipeline.run import prune
from pruning_core.recipe import load_recipe, parse_recipe


@pytest.mark.parametrize("case", BAD_RECIPES, ids=lambda case: case.id)
def test_check_prune_and_cli_report_the_same_first_problem(
    cli: Cli, bad_run: Callable[[BadRecipe], BadRun], case: BadRecipe
) -> None:
    run = bad_run(case)
    line = cli.error_line(run.result)
    try:
        recipe = load_recipe(run.recipe)
    except UserInputError as error:  # neither check nor prune is reached: both fail here
        assert line == f"error: {error}"
        return
    problems = check(recipe)
    assert problems, "check found nothing wrong with a recipe the CLI refuses"
    first = problems[0]
    with pytest.raises(UserInputError) as raised:
        prune(recipe)
    assert (raised.value.field, raised.value.message) == (first.field, first.message)
    assert line == f"error: {first}"


# --- rules the dashboard used to restate (issue 10): each is reachable through check alone


def _fields(problems: list[Problem]) -> list[str]:
    return [problem.field for problem in problems]


def _problem(problems: list[Problem], field: str) -> Problem:
    found = [problem for problem in problems if problem.field == field]
    assert len(found) == 1, problems
    return found[0]


UNTRAINED = {"model": "resnet18", "finetune": {"epochs": 0}}  # torchvision: no data


def test_a_data_criterion_on_an_untrained_model_names_the_criteria_that_need_none() -> None:
    problem = _problem(check(parse_recipe({**UNTRAINED, "criterion": "gradient"})), "criterion")
    assert {"magnitude", "random"} <= set(problem.allowed)
    assert not {"gradient", "taylor", "activation", "wanda", "sparsegpt"} & set(problem.allowed)
    assert "gradient" in problem.message


def test_finetuning_needs_data() -> None:
    problem = _problem(
        check(parse_recipe({**UNTRAINED, "finetune": {"epochs": 1}})), "finetune.epochs"
    )
    assert problem.allowed == ("0",)


@pytest.mark.parametrize("allocation", ["owl", "sensitivity"])
def test_measuring_allocations_need_data(allocation: str) -> None:
    problem = _problem(check(parse_recipe({**UNTRAINED, "allocation": allocation})), "allocation")
    assert problem.allowed == ("uniform", "global", "erk")
    assert allocation in problem.message


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        ({"start_step": 10**6}, "schedule.start_step"),
        ({"end_step": 10**6}, "schedule.end_step"),
        ({"start_step": 5, "end_step": 3}, "schedule.end_step"),
    ],
)
def test_a_gradual_schedule_must_fit_the_finetune_budget(
    tiny_model: TinyModel, schedule: dict[str, Any], field: str
) -> None:
    recipe = tiny_model.parsed(finetune={"epochs": 1}, schedule={"kind": "gradual", **schedule})
    assert field in _fields(check(recipe))
    without_finetuning = tiny_model.parsed(schedule={"kind": "gradual"})
    assert _fields(check(without_finetuning)) == ["finetune.epochs"]


def test_two_of_four_with_owl_is_refused_before_it_is_queued(tiny_model: TinyModel) -> None:
    problem = _problem(check(tiny_model.parsed(structure="2:4", allocation="owl")), "allocation")
    assert "uniform" in problem.allowed and "owl" not in problem.allowed


def test_layer_sparsity_of_a_skipped_layer_names_the_pruned_ones(tiny_model: TinyModel) -> None:
    first = tiny_model.layers[0]
    recipe = tiny_model.parsed(skip_layers=[first], layer_sparsity={first: 0.5})
    problem = _problem(check(recipe), "layer_sparsity")
    assert f"'{first}'" in problem.message and "skip_layers" in problem.message
    assert first not in problem.allowed and set(tiny_model.active) <= set(problem.allowed)


def test_a_recipe_that_runs_has_no_problems(tiny_model: TinyModel) -> None:
    assert check(tiny_model.parsed(structure="2:4", allocation="uniform")) == []
    assert check(tiny_model.parsed(allocation="owl", layer_sparsity={"net.3": 0.5})) == []
