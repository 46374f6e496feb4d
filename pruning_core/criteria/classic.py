"""The classic criteria: magnitude, random, gradient, Taylor and activation."""

from __future__ import annotations

import torch

from pruning_core.criteria import Criterion, LayerStats, register_criterion
from pruning_core.models.layers import as_2d


def _require(value: torch.Tensor | None, what: str, criterion: str) -> torch.Tensor:
    if value is None:
        raise ValueError(f"criterion '{criterion}' needs {what}; collect calibration stats first")
    return value


def magnitude_score(weight: torch.Tensor, stats: LayerStats) -> torch.Tensor:
    """``|w|``."""
    return weight.detach().abs()


def random_score(weight: torch.Tensor, stats: LayerStats) -> torch.Tensor:
    """Uniform random scores from the run's seeded generator: the control baseline."""
    return torch.rand(weight.shape, generator=stats.generator, dtype=torch.float32).to(
        weight.device
    )


def gradient_score(weight: torch.Tensor, stats: LayerStats) -> torch.Tensor:
    """Mean over calibration batches of ``|dL/dw|``."""
    return _require(stats.grad_abs_mean, "gradients", "gradient").to(weight.dtype)


def taylor_score(weight: torch.Tensor, stats: LayerStats) -> torch.Tensor:
    """First-order Taylor estimate of the loss change when ``w`` is removed: ``|w * dL/dw|``.

    Averaged per batch (``mean_b |w * g_b|`` = ``|w| * mean_b |g_b|``), so opposite
    gradients of different batches do not cancel.
    """
    grad = _require(stats.grad_abs_mean, "gradients", "taylor")
    return weight.detach().abs() * grad.to(weight.dtype)


def activation_score(weight: torch.Tensor, stats: LayerStats) -> torch.Tensor:
    """L2 norm of each input feature's activations, shared by every weight reading it."""
    norms = _require(stats.in_sq_norm, "input activation norms", "activation").sqrt()
    flat = as_2d(weight)
    return norms.to(weight.dtype).expand(flat.shape).reshape(weight.shape).clone()


def activation_channel_score(weight: torch.Tensor, stats: LayerStats) -> torch.Tensor:
    """Mean ``|activation|`` of each output channel/neuron."""
    return _require(stats.out_abs_mean, "output activations", "activation").to(weight.dtype)


register_criterion(Criterion("magnitude", magnitude_score, description="smallest |w| pruned"))
register_criterion(
    Criterion("random", random_score, description="random scores: the control baseline")
)
register_criterion(
    Criterion(
        "gradient",
        gradient_score,
        needs=frozenset({"grad"}),
        description="smallest mean |dL/dw| over calibration batches pruned",
    )
)
register_criterion(
    Criterion(
        "taylor",
        taylor_score,
        needs=frozenset({"grad"}),
        description="first-order Taylor |w * dL/dw|",
    )
)
register_criterion(
    Criterion(
        "activation",
        activation_score,
        needs=frozenset({"activation"}),
        channel_score=activation_channel_score,
        description="least activated inputs (channels: least activated outputs) pruned",
    )
)
