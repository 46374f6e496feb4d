"""Explicit per-layer sparsities in runs: validation, exactness, resolution and reproduction."""

from __future__ import annotations

from typing import Any

import pytest
from tiny_model import TinyModel

from pruning_core.errors import UserInputError
from pruning_core.pipeline.checks import check
from pruning_core.pipeline.run import RunResult, prune
from pruning_core.recipe import parse_recipe


def _sparsity(result: RunResult) -> dict[str, float]:
    return {row["name"]: row["sparsity"] for row in result.layers}


def test_explicit_layer_sparsity_is_met_exactly_per_layer(tiny_model: TinyModel) -> None:
    targets = {"net.3": 0.9, "net.5": 0.25}
    got = _sparsity(tiny_model.run(sparsity=0.7, layer_sparsity=targets))
    for name, target in targets.items():
        numel = tiny_model.numel(name)
        assert got[name] == pytest.approx(round(target * numel) / numel, abs=1e-12)
    assert got["net.1"] == 0.0 and got["net.7"] == 0.0


def test_unlisted_active_layers_stay_dense_and_unknown_names_fail(tiny_model: TinyModel) -> None:
    assert _sparsity(tiny_model.run(layer_sparsity={"net.3": 0.5}))["net.5"] == 0.0
    with pytest.raises(UserInputError) as error:
        tiny_model.run(layer_sparsity={"net.1": 0.5})  # skipped by default
    assert error.value.field == "layer_sparsity" and "net.3, net.5" in error.value.message


@pytest.mark.parametrize(
    "changes",
    [
        {"layer_sparsity": {"net.3": 1.0}},
        {"structure": "2:4", "layer_sparsity": {"net.3": 0.3}},
        {"model": "digits_vit", "structure": "head", "layer_sparsity": {"blocks.0.attn.q": 0.5}},
    ],
    ids=["sparsity-1", "2:4-not-0-or-half", "head"],
)
def test_invalid_layer_sparsity_names_the_field(
    tiny_model: TinyModel, changes: dict[str, Any]
) -> None:
    recipe = tiny_model.parsed(**changes)  # parses: the values are checked against the model
    problems = check(recipe)
    assert [problem.field for problem in problems][:1] == ["layer_sparsity"]
    with pytest.raises(UserInputError) as error:
        prune(recipe)
    assert (error.value.field, error.value.message) == (problems[0].field, problems[0].message)


@pytest.mark.parametrize("allocation", ["sensitivity", "owl"])
def test_resolved_recipe_is_explicit_and_reproduces_the_run(
    tiny_model: TinyModel, allocation: str
) -> None:
    first = tiny_model.run(sparsity=0.8, allocation=allocation, finetune={"epochs": 1})
    resolved = first.recipe.layer_sparsity
    assert resolved is not None and set(resolved) == set(tiny_model.active)
    assert len(set(resolved.values())) > 1, "a non-uniform allocation was expected"
    assert first.summary["sparsity_pruned_layers"] == pytest.approx(0.8, abs=1e-4)
    again = prune(parse_recipe(first.recipe.model_dump(mode="json")))
    assert again.summary["test_accuracy"] == first.summary["test_accuracy"]
    assert _sparsity(again) == _sparsity(first)


def test_iterative_schedule_reaches_each_layers_target(tiny_model: TinyModel) -> None:
    targets = {"net.3": 0.9, "net.5": 0.5}
    result = tiny_model.run(
        sparsity=0.8, layer_sparsity=targets, schedule={"kind": "iterative", "rounds": 3}
    )
    got = _sparsity(result)
    assert got["net.3"] == pytest.approx(0.9, abs=1e-4)
    assert got["net.5"] == pytest.approx(0.5, abs=1e-4)


@pytest.mark.parametrize("criterion", ["magnitude", "wanda"])
def test_nm_layers_switch_on_and_off(tiny_model: TinyModel, criterion: str) -> None:
    result = tiny_model.run(
        criterion=criterion, structure="2:4", layer_sparsity={"net.3": 0.5, "net.5": 0}
    )
    got = _sparsity(result)
    assert got["net.3"] == 0.5 and got["net.5"] == 0.0


def test_sequential_criteria_follow_explicit_targets(tiny_model: TinyModel) -> None:
    got = _sparsity(tiny_model.run(criterion="wanda", layer_sparsity={"net.3": 0.75, "net.5": 0.4}))
    assert got["net.3"] == pytest.approx(0.75, abs=1e-6)
    assert got["net.5"] == pytest.approx(0.4, abs=1e-4)


def test_owl_does_not_apply_to_nm(tiny_model: TinyModel) -> None:
    with pytest.raises(UserInputError) as error:
        tiny_model.run(structure="2:4", allocation="owl")
    assert error.value.field == "allocation"
