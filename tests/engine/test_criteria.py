"""Hand-computed cases for every criterion and for calibration statistics."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from pruning_core.criteria import CRITERIA, LayerStats
from pruning_core.criteria.calibration import collect_stats
from pruning_core.models.layers import prunable_layers


def test_registry_has_the_classic_criteria() -> None:
    assert {"magnitude", "random", "gradient", "taylor", "activation"} <= set(CRITERIA.names())


def test_magnitude_is_absolute_value() -> None:
    weight = torch.tensor([[-3.0, 1.0], [2.0, -0.5]])
    score = CRITERIA.get("magnitude").score(weight, LayerStats())
    assert torch.equal(score, torch.tensor([[3.0, 1.0], [2.0, 0.5]]))


def test_random_is_seeded_and_shaped() -> None:
    weight = torch.zeros(3, 5)
    first = CRITERIA.get("random").score(
        weight, LayerStats(generator=torch.Generator().manual_seed(7))
    )
    again = CRITERIA.get("random").score(
        weight, LayerStats(generator=torch.Generator().manual_seed(7))
    )
    other = CRITERIA.get("random").score(
        weight, LayerStats(generator=torch.Generator().manual_seed(8))
    )
    assert first.shape == (3, 5)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert float(first.min()) >= 0.0 and float(first.max()) < 1.0


def _two_by_two_linear(weight: list[list[float]]) -> nn.Sequential:
    layer = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight))
    return nn.Sequential(layer)


def test_gradient_is_mean_absolute_gradient_over_batches() -> None:
    # W = 0 -> softmax = [0.5, 0.5]; dL/dW = (p - onehot(y)) x^T.
    # batch 1: x = [1, 3], y = 0 -> [[-0.5, -1.5], [0.5, 1.5]]
    # batch 2: x = [2, 0], y = 1 -> [[1, 0], [-1, 0]]
    model = _two_by_two_linear([[0.0, 0.0], [0.0, 0.0]])
    batches = [
        (torch.tensor([[1.0, 3.0]]), torch.tensor([0])),
        (torch.tensor([[2.0, 0.0]]), torch.tensor([1])),
    ]
    layers = prunable_layers(model)
    stats = collect_stats(model, layers, batches, frozenset({"grad"}))
    expected = torch.tensor([[0.75, 0.75], [0.75, 0.75]])
    grad = stats["0"].grad_abs_mean
    assert grad is not None and torch.allclose(grad, expected)
    assert torch.allclose(CRITERIA.get("gradient").score(layers[0].weight, stats["0"]), expected)


def test_taylor_is_weight_times_gradient() -> None:
    weight = torch.tensor([[2.0, -1.0], [0.5, 4.0]])
    grads = torch.tensor([[0.1, 0.3], [2.0, 0.0]])
    score = CRITERIA.get("taylor").score(weight, LayerStats(grad_abs_mean=grads))
    assert torch.allclose(score, torch.tensor([[0.2, 0.3], [1.0, 0.0]]))


def test_activation_scores_linear_inputs_and_outputs() -> None:
    model = nn.Sequential(nn.Linear(2, 3, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    x = torch.tensor([[1.0, 2.0], [3.0, 0.0], [0.0, 4.0]])
    layers = prunable_layers(model)
    stats = collect_stats(model, layers, [(x, torch.tensor([0, 1, 2]))], frozenset({"activation"}))
    criterion = CRITERIA.get("activation")
    score = criterion.score(layers[0].weight, stats["0"])
    # input norms: sqrt(1 + 9 + 0) and sqrt(4 + 0 + 16); every row shares them
    assert torch.allclose(score, torch.tensor([[math.sqrt(10), math.sqrt(20)]] * 3))
    # outputs y = x W^T = [[1, 2, 3], [3, 0, 3], [0, 4, 4]] -> mean |y| per neuron
    channels = criterion.score_channels(layers[0].weight, stats["0"])
    assert torch.allclose(channels, torch.tensor([4 / 3, 2.0, 10 / 3]))


def test_activation_on_conv_uses_unfolded_inputs() -> None:
    conv = nn.Conv2d(1, 2, kernel_size=2, bias=False)
    model = nn.Sequential(conv, nn.Flatten(), nn.Linear(2, 2))
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])  # one 2x2 patch
    layers = prunable_layers(model)
    stats = collect_stats(model, layers, [(x, torch.tensor([0]))], frozenset({"activation"}))
    in_sq = stats["0"].in_sq_norm
    assert in_sq is not None and torch.allclose(in_sq, torch.tensor([1.0, 4.0, 9.0, 16.0]))


def test_magnitude_channel_score_is_row_l1() -> None:
    weight = torch.tensor([[1.0, -2.0], [0.5, 0.5], [-3.0, 0.0]])
    channels = CRITERIA.get("magnitude").score_channels(weight, LayerStats())
    assert torch.allclose(channels, torch.tensor([3.0, 1.0, 3.0]))


@pytest.mark.parametrize("name", ["gradient", "taylor", "activation"])
def test_data_criteria_refuse_missing_stats(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        CRITERIA.get(name).score(torch.ones(2, 2), LayerStats())
