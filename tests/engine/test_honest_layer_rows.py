"""Issue 13 (1-4, 7): layer rows say what the saved model holds; exact global selection.

* channel groups: a skipped layer keeps its coupled group dense; every change through a
  coupled group is reported; row shapes are the saved tensors' shapes;
* low-rank rows: factor shapes, rank, parameter ratio, measured reconstruction error,
  sparsity for zeros only;
* ``nn.MultiheadAttention``: its fused q/k/v is pruned (and counted) like any Linear;
* int8 rounding zeros are reported apart from pruning sparsity;
* the global k-th value selection returns exact per-layer counts with ties.
"""

from __future__ import annotations

import copy
import csv
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torchvision
from safetensors.torch import load_file
from torch import nn

from pruning_core.allocation.rules import global_ranking
from pruning_core.compression.lowrank import LowRank
from pruning_core.masks.selection import select_kth
from pruning_core.models.data import calibration_batches
from pruning_core.models.layers import module_weight
from pruning_core.models.metrics import reconstruction_error
from pruning_core.models.registry import MODELS, build_model, load_data, register_model
from pruning_core.models.spec import ModelSpec
from pruning_core.pipeline.artifacts import save_run
from pruning_core.pipeline.run import prune
from pruning_core.recipe import Structure, load_recipe, parse_recipe
from pruning_core.structures.channels import coupled_with_kept, remove_output_channels
from pruning_core.structures.grouping import grouping
from pruning_core.structures.heads_mha import convert_multihead_attention

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
TINY_VIT = "tiny_vit_mha_test"


def _stored_shapes(model: nn.Module, name: str) -> list[list[int]] | list[int]:
    state = model.state_dict()
    if f"{name}.weight" in state:
        return list(state[f"{name}.weight"].shape)
    return [list(state[f"{name}.{part}.weight"].shape) for part in ("first", "second")]


# --- 1. channel groups -------------------------------------------------------------------


class Residual(nn.Module):
    """``head(stem(x) + b(relu(a(stem(x)))))``: stem and b are added, so they are coupled."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.stem = nn.Linear(4, 4)
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        return self.head(h + self.b(torch.relu(self.a(h))))


def test_residual_group_loses_the_same_channels_and_reports_who_chose_them() -> None:
    model = Residual()
    reference = copy.deepcopy(model)
    with torch.no_grad():  # the pruned model must equal the original with those channels zero
        for layer in (reference.stem, reference.b):
            layer.weight[:2] = 0
            layer.bias[:2] = 0
    removal = remove_output_channels(model, {"a": [], "b": [0, 1]}, torch.randn(2, 4))
    assert removal.kept == {}
    assert removal.changed == {
        "stem": "output channels chosen by coupled 'b'",
        "a": "input channels removed with 'b'",
        "head": "input channels removed with 'b'",
    }
    shapes = {
        name: list(module_weight(model.get_submodule(name)).shape)
        for name in ("stem", "a", "b", "head")
    }
    assert shapes == {"stem": [2, 4], "a": [4, 2], "b": [2, 4], "head": [2, 2]}
    x = torch.randn(5, 4)
    assert torch.allclose(model(x), reference(x), atol=1e-6)


def test_a_kept_layer_keeps_its_coupled_group_dense() -> None:
    model = Residual()
    example = torch.randn(2, 4)
    assert coupled_with_kept(model, ["a", "b"], example) == {
        "b": "kept dense: its output channels are coupled with 'stem', which is left dense"
    }
    removal = remove_output_channels(model, {"a": [0, 1], "b": [0, 1]}, example, keep=["stem"])
    assert removal.kept == {
        "b": "kept dense: its output channels are coupled with 'stem', which is left dense"
    }
    assert removal.changed == {"b": "input channels removed with 'a'"}
    shapes = {
        name: list(module_weight(model.get_submodule(name)).shape)
        for name in ("stem", "a", "b", "head")
    }
    assert shapes == {"stem": [4, 4], "a": [2, 4], "b": [4, 2], "head": [2, 4]}


@pytest.mark.slow
def test_resnet18_channel_run_keeps_conv1_group_and_rows_match_saved_tensors(
    tmp_path: Path,
) -> None:
    recipe = {
        "model": "resnet18",
        "structure": "channel",
        "sparsity": 0.5,
        "finetune": {"epochs": 0},
    }
    result = prune(parse_recipe(recipe))
    rows = {row["name"]: row for row in result.layers}
    # conv1 (skipped) and the residual stream it feeds keep their 64 output channels
    for name in ("conv1", "layer1.0.conv2", "layer1.1.conv2"):
        assert rows[name]["shape"][0] == rows[name]["shape_original"][0] == 64
        assert not rows[name]["pruned"]
    for name in ("layer1.0.conv2", "layer1.1.conv2"):
        assert "coupled with 'conv1'" in rows[name]["note"]
        assert "input channels removed" in rows[name]["note"]  # their own conv1 was pruned
    for name in ("layer2.0.conv1", "layer2.0.downsample.0"):  # inputs from conv1's stream
        assert rows[name]["shape"][1] == rows[name]["shape_original"][1]
    assert rows["layer2.0.downsample.0"]["pruned"]
    assert "chosen by coupled 'layer2.0.conv2'" in rows["layer2.0.downsample.0"]["note"]
    assert rows["fc"]["shape"] == [1000, 256] and not rows["fc"]["pruned"]
    assert "input channels removed" in rows["fc"]["note"]
    # every change to a shape is explained by the row's note
    for row in result.layers:
        assert row["shape"] == _stored_shapes(result.model, row["name"])
        if row["shape"] != row["shape_original"]:
            assert row["pruned"] or "channels removed" in row["note"], row
    out = save_run(result, tmp_path / "run")
    state = load_file(str(out / "model.safetensors"))
    with (out / "layers.csv").open(encoding="utf-8") as handle:
        for line in csv.DictReader(handle):
            stored = state[f"{line['name']}.weight"].shape
            assert line["shape"] == "x".join(str(side) for side in stored)


# --- 2. low-rank rows --------------------------------------------------------------------


def test_lowrank_product_is_the_replaced_layer() -> None:
    first, second = nn.Linear(2, 1, bias=False), nn.Linear(1, 2, bias=False)
    with torch.no_grad():
        first.weight.copy_(torch.tensor([[1.0, 2.0]]))
        second.weight.copy_(torch.tensor([[3.0], [4.0]]))
    assert torch.equal(LowRank(first, second, 1).product(), torch.tensor([[3.0, 6.0], [4.0, 8.0]]))
    conv_first = nn.Conv2d(3, 2, 3, padding=1, bias=False)
    conv_second = nn.Conv2d(2, 5, 1, bias=False)
    module = LowRank(conv_first, conv_second, 2)
    x = torch.randn(1, 3, 6, 6)
    assert module.product().shape == (5, 3, 3, 3)
    assert torch.allclose(module(x), F.conv2d(x, module.product(), padding=1), atol=1e-5)


def test_lowrank_rows_report_factors_rank_ratio_and_measured_error() -> None:
    recipe = load_recipe(RECIPES / "digits_mlp_lowrank.yaml")
    result = prune(recipe)
    rows = {row["name"]: row for row in result.layers}
    spec = MODELS.get("digits_mlp")
    dense = build_model(spec)
    train = load_data(spec)["train"]  # type: ignore[index]
    batches = calibration_batches(train, 256, 64, recipe.seed)
    for name, (out_f, in_f) in (("net.3", (256, 256)), ("net.5", (128, 256))):
        row = rows[name]
        rank = row["rank"]
        assert row["shape"] == [[rank, in_f], [out_f, rank]] == _stored_shapes(result.model, name)
        assert row["params"] == rank * (in_f + out_f)
        assert row["params_ratio"] == rank * (in_f + out_f) / (in_f * out_f)
        assert row["sparsity"] == 0.0 and row["nonzeros"] == row["params"]
        assert f"rank {rank}" in row["note"]
        # measured independently: the dense layer's inputs on the same calibration samples
        inputs: list[torch.Tensor] = []
        layer = dense.get_submodule(name)
        handle = layer.register_forward_hook(
            lambda m, i, o, seen=inputs: seen.append(i[0].detach())
        )
        with torch.no_grad():
            for x, _ in batches:
                dense(x)
        handle.remove()
        factors = result.model.get_submodule(name)
        assert isinstance(factors, LowRank)
        expected = reconstruction_error(module_weight(layer), factors.product(), torch.cat(inputs))
        assert row["reconstruction_error"] == pytest.approx(expected, rel=1e-6)
        assert row["reconstruction_error"] > 1e-4
    assert result.summary["sparsity_pruned_layers"] == 0.0
    assert result.summary["sparsity_total"] == pytest.approx(0.0, abs=1e-12)
    assert result.summary["params_ratio_pruned_layers"] < 0.5


# --- 3. nn.MultiheadAttention ------------------------------------------------------------


def _tiny_vit() -> nn.Module:
    return torchvision.models.VisionTransformer(
        image_size=16,
        patch_size=8,
        num_layers=2,
        num_heads=2,
        hidden_dim=16,
        mlp_dim=32,
        num_classes=4,
    )


if TINY_VIT not in MODELS:
    register_model(ModelSpec(TINY_VIT, _tiny_vit, (3, 16, 16)))


def test_split_attention_computes_what_multihead_attention_did() -> None:
    torch.manual_seed(0)
    original = _tiny_vit().eval()
    converted = copy.deepcopy(original)
    assert len(convert_multihead_attention(converted)) == 2
    tokens = torch.randn(3, 5, 16)
    with torch.no_grad():
        before = original.get_submodule("encoder")(tokens)
        after = converted.get_submodule("encoder")(tokens)
    assert torch.allclose(before, after, atol=1e-5)


@pytest.mark.parametrize("structure", ["unstructured", "2:4", "block"])
def test_attention_qkv_is_pruned_and_counted(structure: str) -> None:
    result = prune(
        parse_recipe(
            {"model": TINY_VIT, "structure": structure, "sparsity": 0.5, "finetune": {"epochs": 0}}
        )
    )
    torch.manual_seed(0)
    raw = _tiny_vit()
    every_weight = sum(
        p.numel() for n, p in raw.named_parameters() if n.endswith("weight") and p.dim() >= 2
    )
    assert sum(row["params_original"] for row in result.layers) == every_weight
    attention = [row for row in result.layers if ".self_attention." in row["name"]]
    assert {row["name"].rsplit(".", 1)[1] for row in attention} == {"q", "k", "v", "proj"}
    for row in attention:
        assert row["pruned"] and row["sparsity"] == 0.5
        weight = module_weight(result.model.get_submodule(row["name"]))
        if structure == "2:4":
            assert int((weight.reshape(-1, 4) != 0).sum(dim=1).max()) <= 2
        if structure == "block":
            blocks = (weight != 0).reshape(4, 4, 4, 4).sum(dim=(1, 3))
            assert set(blocks.unique().tolist()) <= {0, 16}


# --- 4. int8 rounding zeros --------------------------------------------------------------


def test_int8_rounding_zeros_are_not_pruning_sparsity() -> None:
    recipe = {
        "model": "digits_mlp",
        "structure": "2:4",
        "precision": "int8",
        "finetune": {"epochs": 0},
    }
    result = prune(parse_recipe(recipe))
    rows = result.layers
    for row in rows:
        stored = module_weight(result.model.get_submodule(row["name"]))
        zeros = int((stored == 0).sum())
        assert zeros == row["params"] - row["nonzeros"] + row["precision_new_zeros"]
        assert row["sparsity"] == (0.5 if row["pruned"] else 0.0)
    assert sum(row["precision_new_zeros"] for row in rows) == result.summary["precision_new_zeros"]
    assert result.summary["precision_new_zeros"] > 0  # int8 rounded some small weights to 0
    assert result.summary["sparsity_pruned_layers"] == 0.5


# --- 7. exact global selection -----------------------------------------------------------


def test_select_kth_counts_each_part_with_ties_by_hand() -> None:
    parts = [torch.tensor([3.0, 1.0, 2.0]), torch.tensor([2.0, 2.0, 5.0])]
    # sorted: 1 2 2 2 3 5
    chosen = select_kth(parts, 3)
    assert (chosen.value, chosen.at_or_below, chosen.equal) == (2.0, [2, 2], [1, 2])
    assert select_kth(parts, 1).at_or_below == [1, 0]
    assert select_kth(parts, 6).at_or_below == [3, 3]


def test_select_kth_bracket_path_is_exact_with_ties() -> None:
    threads = torch.get_num_threads()
    values = (torch.arange(1_500_000) // 3).float()  # every value three times
    values = values[torch.randperm(values.numel(), generator=torch.Generator().manual_seed(0))]
    parts = [values[:1000], values[1000:900_000], values[900_000:]]
    for k in (1, 2, 12_345, 750_000, 1_349_999, 1_500_000):
        chosen = select_kth(parts, k)
        assert chosen.value == float((k - 1) // 3)
        assert chosen.at_or_below == [int((p <= chosen.value).sum()) for p in parts]
        assert chosen.equal == [int((p == chosen.value).sum()) for p in parts]
    assert torch.get_num_threads() == threads


def test_global_ranking_drops_exactly_the_target_with_ties() -> None:
    structure = Structure(kind="unstructured")
    values = (torch.arange(1_200_000) // 4).float().reshape(1200, 1000)
    groups = {
        "a": grouping(structure, values[:300], (300, 1000)),
        "b": grouping(structure, values[300:], (900, 1000)),
    }
    allocation = global_ranking(groups, 0.5)  # threshold 149_999 sits inside "b"'s ties
    assert allocation.groups_to_drop == {"a": 300_000, "b": 300_000}
    allocation = global_ranking(groups, 0.2500005)  # 300_001 to drop: one of four ties at 75_000
    assert allocation.threshold == 75_000.0
    assert allocation.groups_to_drop == {"a": 300_000, "b": 1}
