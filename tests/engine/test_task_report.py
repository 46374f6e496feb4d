"""What a run reports by task, the per-tensor sparsity pattern, and the block grid."""

from __future__ import annotations

import torch
from torch import nn

from pruning_core.pipeline.task_report import (
    block_grid,
    follows_nm,
    metric_fields,
    tensor_patterns,
)
from pruning_core.recipe import Structure


def test_metric_fields_name_the_metric_and_its_direction() -> None:
    dense = {"val": (20.0, 3.0), "test": (21.0, 3.04)}
    final = {"val": (25.0, 3.2), "test": (26.0, 3.26)}
    lm = metric_fields("perplexity", dense, final)
    assert lm["metric"] == "perplexity" and lm["metric_direction"] == "lower"
    assert lm["dense_test_perplexity"] == 21.0 and lm["test_perplexity"] == 26.0
    assert lm["dense_val_perplexity"] == 20.0 and lm["val_perplexity"] == 25.0
    assert lm["test_accuracy"] is None and lm["test_loss"] == 3.26
    classifier = metric_fields("accuracy", dense, final)
    assert classifier["metric_direction"] == "higher" and classifier["test_accuracy"] == 26.0
    assert "test_perplexity" not in classifier


def test_nm_pattern_is_checked_on_the_tensor() -> None:
    assert follows_nm(torch.tensor([[1.0, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 3.0]]), 2, 4)
    assert not follows_nm(torch.tensor([[1.0, 1.0, 2.0, 0.0]]), 2, 4)
    assert not follows_nm(torch.ones(2, 6), 2, 4)  # 6 inputs do not split into groups of 4
    model = nn.Sequential(nn.Linear(8, 2, bias=False), nn.Linear(2, 2, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 0, 2, 0, 0, 3, 4, 0], [1, 2, 0, 0, 0, 0, 5, 6]]))
        model[1].weight.fill_(1.0)
    rows = [{"name": "0", "pruned": True}, {"name": "1", "pruned": False}]
    patterns = tensor_patterns(model, rows, Structure.model_validate("2:4"))
    assert [(p["tensor"], p["pattern"], p["sparsity"]) for p in patterns] == [
        ("0.weight", "2:4", 0.5),
        ("1.weight", "dense", 0.0),
    ]
    with torch.no_grad():
        model[0].weight[0, :3] = 1.0  # three nonzeros in one group of four
    assert tensor_patterns(model, rows, Structure.model_validate("2:4"))[0]["pattern"] == (
        "unstructured"
    )


def test_block_grid_places_decoder_layers() -> None:
    rows = [
        {"name": "model.layers.0.self_attn.q_proj", "sparsity": 0.5},
        {"name": "model.layers.11.mlp.down_proj", "sparsity": 0.4},
        {"name": "lm_head", "sparsity": 0.0},
    ]
    grid = block_grid(rows)
    assert [(g["block"], g["projection"], g["sparsity"]) for g in grid] == [
        (0, "q_proj", 0.5),
        (11, "down_proj", 0.4),
    ]
