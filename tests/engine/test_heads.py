"""Attention-head pruning: scores, physical removal, MultiheadAttention, recipe-level runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
from safetensors.torch import save_file
from tiny_model import TinyModel
from torch import nn

from pruning_core.criteria import CRITERIA, LayerStats
from pruning_core.errors import UserInputError
from pruning_core.pipeline.checks import check
from pruning_core.pipeline.run import prune
from pruning_core.recipe import parse_recipe
from pruning_core.structures.heads import (
    dense_layout,
    find_attention,
    head_scores,
    prune_heads,
    remove_heads,
)
from pruning_core.structures.heads_mha import SplitHeadAttention, convert_multihead_attention
from sample_models.architectures import DigitsViT, MultiHeadSelfAttention


def _per_head_outputs(attn: MultiHeadSelfAttention, x: torch.Tensor) -> torch.Tensor:
    """Each head's attention output before the projection: ``(B, heads, T, head_dim)``."""
    q, k, v = (attn._split_heads(layer(x)) for layer in (attn.q, attn.k, attn.v))
    return nn.functional.scaled_dot_product_attention(q, k, v)


def test_removed_heads_leave_the_other_heads_identical() -> None:
    torch.manual_seed(0)
    attn = MultiHeadSelfAttention(dim=64, num_heads=4).eval()
    x = torch.randn(3, 16, 64)
    with torch.no_grad():
        before = _per_head_outputs(attn, x)
        proj_weight = attn.proj.weight.detach().clone()
        expected = nn.functional.linear(
            before[:, [0, 3]].transpose(1, 2).reshape(3, 16, 32),
            proj_weight[:, [*range(0, 16), *range(48, 64)]],
            attn.proj.bias,
        )
        site = find_attention(attn)[0]
        remove_heads(site, [1, 2])
        after = _per_head_outputs(attn, x)
        out = attn(x)
    assert attn.num_heads == 2 and site.kept == [0, 3]
    assert attn.q.weight.shape == (32, 64) and attn.proj.weight.shape == (64, 32)
    assert torch.equal(after, before[:, [0, 3]])
    assert torch.allclose(out, expected, atol=1e-6)


def test_magnitude_head_scores_hand_computed() -> None:
    attn = MultiHeadSelfAttention(dim=4, num_heads=2)
    with torch.no_grad():
        for layer in (attn.q, attn.k, attn.v):
            layer.weight.copy_(torch.tensor([[1.0] * 4, [1.0] * 4, [2.0] * 4, [-2.0] * 4]))
        attn.proj.weight.copy_(torch.tensor([[0.5, 0.5, 3.0, 3.0]] * 4))
    site = find_attention(attn)[0]
    stats = {site.layer_name(role): LayerStats() for role in ("q", "k", "v", "proj")}
    scores = head_scores(site, CRITERIA.get("magnitude"), stats)
    # head 0: 3 layers x 8 weights of |1| + proj 4 rows x (0.5 + 0.5); head 1: 3 x 16 + 4 x 6
    assert scores.tolist() == [28.0, 72.0]


def test_prune_heads_keeps_one_and_counts_earlier_removals() -> None:
    torch.manual_seed(0)
    model = DigitsViT()
    sites = find_attention(model)
    stats = {
        site.layer_name(role): LayerStats() for site in sites for role in ("q", "k", "v", "proj")
    }
    magnitude = CRITERIA.get("magnitude")
    prune_heads(sites, magnitude, stats, 0.25)
    assert [len(site.kept) for site in sites] == [3, 3, 3]
    prune_heads(sites, magnitude, stats, 0.5)
    assert [len(site.kept) for site in sites] == [2, 2, 2]
    prune_heads(sites, magnitude, stats, 0.99)
    assert [site.module.num_heads for site in sites] == [1, 1, 1]
    assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 10)


def test_dense_layout_restores_the_original_shape_with_zero_heads() -> None:
    attn = MultiHeadSelfAttention(dim=8, num_heads=4)
    site = find_attention(attn)[0]
    q_before = attn.q.weight.detach().clone()
    remove_heads(site, [2])
    full = dense_layout(site, "q")
    assert full.shape == (8, 8)
    assert (full[4:6] == 0).all() and torch.equal(
        full[[0, 1, 2, 3, 6, 7]], q_before[[0, 1, 2, 3, 6, 7]]
    )
    assert (dense_layout(site, "proj")[:, 4:6] == 0).all()


def test_multihead_attention_conversion_is_exact_and_heads_removable() -> None:
    torch.manual_seed(0)
    vit = torchvision.models.VisionTransformer(
        image_size=16, patch_size=8, num_layers=2, num_heads=4, hidden_dim=32, mlp_dim=64
    ).eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        before = vit(x)
        converted = convert_multihead_attention(vit)
        assert len(converted) == 2
        assert torch.allclose(vit(x), before, atol=1e-6)
        sites = find_attention(vit)
        assert [site.original_heads for site in sites] == [4, 4]
        remove_heads(sites[0], [0, 3])
        assert vit(x).shape == before.shape


def test_split_attention_matches_multihead_attention_with_masks() -> None:
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(16, 4, kdim=12, vdim=10).eval()
    split = SplitHeadAttention.from_torch(mha).eval()
    q, k, v = torch.randn(5, 2, 16), torch.randn(7, 2, 12), torch.randn(7, 2, 10)
    padding = torch.zeros(2, 7, dtype=torch.bool)
    padding[0, -2:] = True
    mask = torch.zeros(5, 7, dtype=torch.bool)
    mask[0, 0] = True
    expected, expected_weights = mha(q, k, v, key_padding_mask=padding, attn_mask=mask)
    out, weights = split(q, k, v, key_padding_mask=padding, attn_mask=mask)
    assert torch.allclose(out, expected, atol=1e-6)
    assert weights is not None and torch.allclose(weights, expected_weights, atol=1e-6)
    with torch.no_grad():
        split.q.weight.add_(1.0)
    assert not torch.allclose(split(q, k, v)[0], mha(q, k, v)[0])


@pytest.fixture(scope="module")
def vit_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init digits_vit weights file (the runs must not depend on training)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("vit") / "digits_vit.safetensors"
    save_file({k: v.contiguous() for k, v in DigitsViT().state_dict().items()}, str(path))
    return path


@pytest.mark.parametrize("criterion", ["magnitude", "taylor"])
def test_head_runs_shrink_the_model_and_finetune(vit_weights: Path, criterion: str) -> None:
    recipe = parse_recipe(
        {
            "model": "digits_vit",
            "weights": str(vit_weights),
            "criterion": criterion,
            "structure": "head",
            "sparsity": 0.5,
            "finetune": {"epochs": 1, "batch_size": 128},
            "calibration": {"samples": 64},
        }
    )
    result = prune(recipe)
    summary = result.summary
    assert summary["heads_original"] == 12 and summary["heads"] == 6
    assert summary["params"] < summary["params_original"]
    assert summary["effective_macs"] < summary["dense_macs"]
    rows = {row["name"]: row for row in result.layers}
    assert rows["blocks.0.attn.q"]["shape"] == [32, 64]
    assert rows["blocks.0.attn.proj"]["shape"] == [64, 32]
    assert rows["blocks.0.attn.q"]["sparsity"] == pytest.approx(0.5)
    assert not rows["blocks.0.mlp.fc1"]["pruned"]
    assert 0.0 < rows["blocks.0.attn.q"]["reconstruction_error"] <= 1.0
    assert [c["kind"] for c in result.curves] == ["dense", "prune", "finetune"]


def test_head_structure_needs_attention_and_uniform_allocation(tiny_model: TinyModel) -> None:
    with pytest.raises(UserInputError) as error:
        tiny_model.run(structure="head")  # an MLP has no attention heads
    assert error.value.field == "structure"
    vit = parse_recipe({"model": "digits_vit", "structure": "head", "allocation": "global"})
    assert [(p.field, p.allowed) for p in check(vit)] == [("allocation", ("uniform",))]


@pytest.mark.slow
def test_torchvision_vit_b_16_heads_are_removed_through_a_recipe() -> None:
    result = prune(
        parse_recipe(
            {"model": "vit_b_16", "structure": "head", "sparsity": 0.25, "finetune": {"epochs": 0}}
        )
    )
    summary = result.summary
    assert summary["heads_original"] == 144 and summary["heads"] == 108
    assert summary["params"] < summary["params_original"]
    assert summary["effective_macs"] < summary["dense_macs"]
    rows = {row["name"]: row for row in result.layers}
    assert rows["encoder.layers.encoder_layer_0.self_attention.q"]["shape"] == [576, 768]
    assert rows["encoder.layers.encoder_layer_0.self_attention.proj"]["shape"] == [768, 576]
