"""The orchestrator on real models with tiny budgets: schedules, allocations, precisions."""

from __future__ import annotations

import pytest
import torch
from tiny_model import TinyModel

from pruning_core.errors import RunCancelled
from pruning_core.pipeline.checks import check
from pruning_core.pipeline.run import prune
from pruning_core.recipe import parse_recipe


def test_per_layer_rows_match_the_model(tiny_model: TinyModel) -> None:
    result = tiny_model.run(sparsity=0.6)
    assert [row["name"] for row in result.layers] == tiny_model.layers
    first, *middle, last = result.layers
    assert not first["pruned"] and not last["pruned"]
    for row in middle:
        assert row["sparsity"] == pytest.approx(0.6, abs=1 / row["params"])
        assert row["effective_macs"] == round(row["dense_macs"] * row["nonzeros"] / row["params"])
    summary = result.summary
    assert summary["theoretical_speedup"] == pytest.approx(
        summary["dense_macs"] / summary["effective_macs"]
    )
    assert "theoretical" in summary["speedup_kind"]


def test_iterative_rounds_prune_then_finetune(tiny_model: TinyModel) -> None:
    result = tiny_model.run(
        sparsity=0.8, schedule={"kind": "iterative", "rounds": 3}, finetune={"epochs": 1}
    )
    kinds = [c["kind"] for c in result.curves]
    assert kinds == ["dense", "prune", "finetune", "prune", "finetune", "prune", "finetune"]
    prunes = [c["sparsity"] for c in result.curves if c["kind"] == "prune"]
    assert prunes == sorted(prunes) and prunes[-1] == pytest.approx(0.8, abs=1e-3)


def test_gradual_resolves_its_end_step_into_the_recipe(tiny_model: TinyModel) -> None:
    result = tiny_model.run(
        sparsity=0.7, schedule={"kind": "gradual", "frequency": 4}, finetune={"epochs": 1}
    )
    end_step = result.recipe.schedule.end_step
    assert end_step is not None and end_step > 0
    assert check(result.recipe) == []  # the resolved end step lies within the finetune budget
    assert result.summary["sparsity_pruned_layers"] == pytest.approx(0.7, abs=1e-3)


@pytest.mark.parametrize("allocation", ["global", "erk"])
def test_non_uniform_allocations_meet_the_target(tiny_model: TinyModel, allocation: str) -> None:
    result = tiny_model.run(sparsity=0.8, allocation=allocation)
    assert result.summary["sparsity_pruned_layers"] == pytest.approx(0.8, abs=2e-3)
    per_layer = {row["sparsity"] for row in result.layers if row["pruned"]}
    assert len(per_layer) > 1


def test_distillation_and_precision(tiny_model: TinyModel) -> None:
    result = tiny_model.run(
        finetune={"epochs": 1, "distillation": {"weight": 0.7, "temperature": 2.0}},
        precision="bf16",
    )
    assert next(result.model.parameters()).dtype == torch.bfloat16
    assert result.summary["size_bytes"] < result.summary["params"] * 4
    assert result.summary["val_accuracy"] > 0.5


def test_activation_channel_pruning_of_the_mlp(tiny_model: TinyModel) -> None:
    result = tiny_model.run(criterion="activation", structure="channel", sparsity=0.5)
    inner = [row for row in result.layers if row["pruned"]]
    assert all(row["shape"][0] == row["shape_original"][0] // 2 for row in inner)
    assert result.summary["params"] < result.summary["params_original"]


def test_vit_channel_pruning_touches_only_mlp_hidden_layers() -> None:
    result = prune(
        parse_recipe({"model": "digits_vit", "structure": "channel", "finetune": {"epochs": 0}})
    )
    pruned = [row["name"] for row in result.layers if row["pruned"]]
    assert pruned and all(name.endswith("mlp.fc1") for name in pruned)
    assert 0.0 <= result.summary["val_accuracy"] <= 1.0


@pytest.mark.slow
def test_untrained_torchvision_model_reports_structure_only() -> None:
    result = prune(parse_recipe({"model": "resnet18", "sparsity": 0.5, "finetune": {"epochs": 0}}))
    assert result.summary["trained"] is False
    assert result.summary["test_accuracy"] is None
    assert result.summary["sparsity_pruned_layers"] == pytest.approx(0.5, abs=1e-3)


@pytest.mark.slow
def test_resnet18_channel_pruning_follows_residual_dependencies() -> None:
    result = prune(
        parse_recipe(
            {
                "model": "resnet18",
                "structure": "channel",
                "sparsity": 0.5,
                "finetune": {"epochs": 0},
            }
        )
    )
    summary = result.summary
    assert summary["params"] < 0.6 * summary["params_original"]
    assert summary["theoretical_speedup"] > 2.0


def test_cancel_stops_the_run(tiny_model: TinyModel) -> None:
    with pytest.raises(RunCancelled):
        prune(tiny_model.parsed(finetune={"epochs": 1}), should_cancel=lambda: True)


def test_progress_reaches_done(tiny_model: TinyModel) -> None:
    seen: list[tuple[str, float]] = []
    prune(
        tiny_model.parsed(finetune={"epochs": 1}),
        progress=lambda phase, fraction, message: seen.append((phase, fraction)),
    )
    assert seen[-1] == ("done", 1.0)
    assert any(phase == "finetune" for phase, _ in seen)
    assert all(0.0 <= fraction <= 1.0 for _, fraction in seen)
