"""Low-rank factorization and weight sharing: exact small cases and engine runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from tiny_model import TinyModel
from torch import nn

from pruning_core.compression.lowrank import (
    LowRank,
    factorize,
    factorize_layers,
    rank_for_energy,
    rank_for_ratio,
    saves_weights,
)
from pruning_core.compression.weight_sharing import (
    kmeans_1d,
    pack_codes,
    share_weights,
    unpack_codes,
)
from pruning_core.recipe import load_recipe, parse_recipe, recipe_from_yaml

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def test_rank_by_energy_and_ratio() -> None:
    singular = torch.tensor([3.0, 2.0, 1.0])  # energies 9/14, 13/14, 14/14
    assert rank_for_energy(singular, 0.5) == 1
    assert rank_for_energy(singular, 9 / 14) == 1
    assert rank_for_energy(singular, 0.9) == 2
    assert rank_for_energy(singular, 1.0) == 3
    assert rank_for_ratio((64, 256), 0.25) == 16 and rank_for_ratio((3, 5), 0.01) == 1
    assert saves_weights((64, 64), 31) and not saves_weights((64, 64), 32)


def test_linear_factors_are_the_best_rank_r_approximation() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(12, 9)
    x = torch.randn(5, 12)
    full = factorize(layer, 9)
    assert torch.allclose(full(x), layer(x), atol=1e-5)
    low = factorize(layer, 3)
    u, s, vh = torch.linalg.svd(layer.weight.detach().double())
    best = (u[:, :3] * s[:3]) @ vh[:3]
    assert torch.allclose(
        low(x).double(), F.linear(x.double(), best, layer.bias.double()), atol=1e-5
    )
    assert low.first.weight.shape == (3, 12) and low.second.weight.shape == (9, 3)


def test_conv_factors_keep_stride_and_padding() -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1)
    x = torch.randn(2, 4, 9, 9)
    full = factorize(conv, 6)
    assert isinstance(full.first, nn.Conv2d) and full.second.kernel_size == (1, 1)
    assert torch.allclose(full(x), conv(x), atol=1e-5)


def test_layers_that_would_grow_are_left_alone() -> None:
    model = nn.Sequential(nn.Linear(8, 8), nn.Linear(64, 256))
    notes = factorize_layers(model, ["0", "1"], energy=None, ratio=0.5)  # ranks 4 and 32
    assert isinstance(model[1], LowRank) and model[1].rank == 32
    assert isinstance(model[0], nn.Linear) and "would not save" in notes["0"]


def test_kmeans_and_weight_sharing_keep_zeros() -> None:
    centroids = kmeans_1d(torch.tensor([1.0, 1.1, 5.0, 5.2]), 2)
    assert torch.allclose(centroids, torch.tensor([1.05, 5.1], dtype=torch.float64))
    torch.manual_seed(0)
    weight = torch.randn(20, 30) * (torch.rand(20, 30) > 0.5)
    shared = share_weights(weight, 6)
    assert torch.equal(shared == 0, weight == 0)
    assert torch.unique(shared[shared != 0]).numel() <= 6
    assert (shared - weight).abs().max() < (weight.max() - weight.min()) / 6


def test_codes_pack_and_unpack() -> None:
    codes = torch.tensor([0, 5, 7, 1, 2, 3, 6, 4, 1, 0, 7])
    packed = pack_codes(codes, 3)
    assert packed.dtype == torch.uint8 and packed.numel() == 5  # ceil(11 * 3 / 8)
    assert torch.equal(unpack_codes(packed, 3, 11), codes)


def test_compression_recipe_round_trips_through_yaml() -> None:
    recipe = parse_recipe({"compression": {"kind": "lowrank", "ratio": 0.25}})
    assert recipe_from_yaml(recipe.to_yaml()) == recipe
    assert parse_recipe({"compression": "weight_sharing"}).compression.clusters == 16  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "compression, note",
    [
        ({"kind": "lowrank", "ratio": 0.25}, "low-rank"),
        ({"kind": "weight_sharing", "clusters": 8}, "shared"),
    ],
)
def test_engine_compression_runs(
    tiny_model: TinyModel, compression: dict[str, object], note: str
) -> None:
    result = tiny_model.run(sparsity=0.0, compression=compression)
    summary = result.summary
    inner = [row for row in result.layers if row["pruned"]]
    assert all(note in row["note"] for row in inner)
    assert (
        summary["test_accuracy"] is not None
        and summary["compression"]["kind"] == compression["kind"]
    )
    if compression["kind"] == "lowrank":
        assert summary["params"] < summary["params_original"]
        assert inner[0]["params"] == 64 * (256 + 256) and inner[0]["best_format"] == "dense+dense"
        assert summary["theoretical_speedup"] > 1.5
    else:
        assert all(row["best_format"] == "codebook" for row in inner)
        assert (
            inner[0]["best_format_bytes"] == 8 * 4 + 256 * 256 * 3 // 8
        )  # no zeros: 8 codes, 3 bits
        assert summary["size_bytes_best"] < summary["size_bytes"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("digits_mlp_2of4_int8", {"precision": "int8", "compression": None}),
        ("digits_cnn_weight_sharing", {"compression": {"kind": "weight_sharing", "clusters": 16}}),
        ("digits_mlp_lowrank", {"compression": {"kind": "lowrank", "energy": 0.9, "ratio": None}}),
    ],
)
def test_shipped_compression_recipes_load(name: str, expected: dict[str, Any]) -> None:
    recipe = load_recipe(RECIPES / f"{name}.yaml").model_dump(mode="json")
    assert {key: recipe[key] for key in expected} == expected
