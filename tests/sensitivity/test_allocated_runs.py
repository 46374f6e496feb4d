"""Explicit per-layer sparsities in runs: validation, exactness, resolution and reproduction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch

from pruning_core.pipeline.run import prune
from pruning_core.errors import UserInputError
from pruning_core.recipe import parse_recipe

ACTIVE = ("net.3", "net.5")  # digits_mlp without its first and last layer


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _recipe(**changes: Any) -> dict[str, Any]:
    return {"model": "digits_mlp", "finetune": {"epochs": 0}, "calibration": {"samples": 128}} | (
        changes
    )


def _sparsity(result: Any) -> dict[str, float]:
    return {row["name"]: row["sparsity"] for row in result.layers}


def test_explicit_layer_sparsity_is_met_exactly_per_layer() -> None:
    targets = {"net.3": 0.9, "net.5": 0.25}
    result = prune(parse_recipe(_recipe(sparsity=0.7, layer_sparsity=targets)))
    got = _sparsity(result)
    for name, target in targets.items():
        numel = 256 * 256 if name == "net.3" else 128 * 256
        assert got[name] == pytest.approx(round(target * numel) / numel, abs=1e-12)
    assert got["net.1"] == 0.0 and got["net.7"] == 0.0


def test_unlisted_active_layers_stay_dense_and_unknown_names_fail() -> None:
    result = prune(parse_recipe(_recipe(layer_sparsity={"net.3": 0.5})))
    assert _sparsity(result)["net.5"] == 0.0
    with pytest.raises(UserInputError) as error:
        prune(parse_recipe(_recipe(layer_sparsity={"net.1": 0.5})))  # skipped by default
    assert error.value.field == "layer_sparsity" and "net.3, net.5" in error.value.message


@pytest.mark.parametrize(
    "changes",
    [
        {"layer_sparsity": {"net.3": 1.0}},
        {"structure": "2:4", "layer_sparsity": {"net.3": 0.3}},
        {"model": "digits_vit", "structure": "head", "layer_sparsity": {"blocks.0.attn.q": 0.5}},
    ],
)
def test_invalid_layer_sparsity_names_the_field(changes: dict[str, Any]) -> None:
    with pytest.raises(UserInputError) as error:
        parse_recipe(_recipe(**changes))
    assert error.value.field == "layer_sparsity"


@pytest.mark.parametrize("allocation", ["sensitivity", "owl"])
def test_resolved_recipe_is_explicit_and_reproduces_the_run(allocation: str) -> None:
    recipe = parse_recipe(_recipe(sparsity=0.8, allocation=allocation, finetune={"epochs": 1}))
    first = prune(recipe)
    resolved = first.recipe.layer_sparsity
    assert resolved is not None and set(resolved) == set(ACTIVE)
    assert len(set(resolved.values())) > 1, "a non-uniform allocation was expected"
    assert first.summary["sparsity_pruned_layers"] == pytest.approx(0.8, abs=1e-4)
    again = prune(parse_recipe(first.recipe.model_dump(mode="json")))
    assert again.summary["test_accuracy"] == first.summary["test_accuracy"]
    assert _sparsity(again) == _sparsity(first)


def test_iterative_schedule_reaches_each_layers_target() -> None:
    targets = {"net.3": 0.9, "net.5": 0.5}
    recipe = _recipe(
        sparsity=0.8, layer_sparsity=targets, schedule={"kind": "iterative", "rounds": 3}
    )
    got = _sparsity(prune(parse_recipe(recipe)))
    assert got["net.3"] == pytest.approx(0.9, abs=1e-4)
    assert got["net.5"] == pytest.approx(0.5, abs=1e-4)


@pytest.mark.parametrize("criterion", ["magnitude", "wanda"])
def test_nm_layers_switch_on_and_off(criterion: str) -> None:
    recipe = _recipe(
        criterion=criterion, structure="2:4", layer_sparsity={"net.3": 0.5, "net.5": 0}
    )
    got = _sparsity(prune(parse_recipe(recipe)))
    assert got["net.3"] == 0.5 and got["net.5"] == 0.0


def test_sequential_criteria_follow_explicit_targets() -> None:
    recipe = _recipe(criterion="wanda", layer_sparsity={"net.3": 0.75, "net.5": 0.4})
    got = _sparsity(prune(parse_recipe(recipe)))
    assert got["net.3"] == pytest.approx(0.75, abs=1e-6)
    assert got["net.5"] == pytest.approx(0.4, abs=1e-4)


def test_owl_does_not_apply_to_nm() -> None:
    with pytest.raises(UserInputError) as error:
        prune(parse_recipe(_recipe(structure="2:4", allocation="owl")))
    assert error.value.field == "allocation"
