"""OWL: outlier-weighed layerwise sparsity (Yin et al., 2023, arXiv:2310.05175).

A layer's *outlier ratio* is the share of its Wanda scores ``|W_ij| * ||X_j||_2`` above
``M`` times the layer's mean score. Layers with more outliers keep more weights::

    norm_l     = (ratio_l - min ratio) / (max ratio - min ratio) * 2 * lambda
    sparsity_l = target - norm_l + c

with ``c`` chosen so that the parameter-weighted mean sparsity is the target (the paper
averages over equally sized transformer blocks; weighting by parameters keeps the
model's share of removed weights at the target for layers of any size). Sparsities are
clipped to ``[0, high]``, and ``c`` is found again after clipping, by bisection.
"""

from __future__ import annotations

import torch
from torch import nn

from pruning_core.criteria.calibration import collect_stats
from pruning_core.models.layers import PrunableLayer, as_2d

Batches = list[tuple[torch.Tensor, torch.Tensor]]


def outlier_ratio(scores: torch.Tensor, threshold: float) -> float:
    """Share of ``scores`` above ``threshold`` times their mean."""
    scores = scores.float()
    return float((scores > threshold * scores.mean()).float().mean())


def wanda_scores(weight: torch.Tensor, in_sq_norm: torch.Tensor) -> torch.Tensor:
    """``|W| * ||X_j||`` in the 2-D weight view (``in_sq_norm``: ``(in,)`` or ``(out, in)``)."""
    return as_2d(weight).abs().float() * in_sq_norm.float().clamp_min(0).sqrt()


def owl_sparsities(
    ratios: dict[str, float],
    sizes: dict[str, int],
    target: float,
    lam: float,
    high: float = 0.99,
) -> dict[str, float]:
    """Per-layer sparsities from outlier ratios (see the module docstring).

    Args:
        ratios: outlier ratio per layer.
        sizes: weights per layer (the mean is weighted by them).
        target: mean sparsity to keep.
        lam: lambda, half the spread of the normalised ratios.
        high: highest sparsity a layer may get.
    """
    names = list(ratios)
    low_ratio, high_ratio = min(ratios.values()), max(ratios.values())
    spread = high_ratio - low_ratio
    offsets = {
        name: (ratios[name] - low_ratio) / spread * 2 * lam if spread > 0 else 0.0 for name in names
    }
    total = float(sum(sizes[name] for name in names))

    def mean_at(shift: float) -> float:
        return sum(sizes[n] * min(max(target - offsets[n] + shift, 0.0), high) for n in names)

    lo, hi = -1.0 - 2 * lam, 1.0 + 2 * lam
    for _ in range(100):  # mean_at is non-decreasing in the shift
        middle = (lo + hi) / 2
        lo, hi = (middle, hi) if mean_at(middle) < target * total else (lo, middle)
    shift = (lo + hi) / 2
    return {name: min(max(target - offsets[name] + shift, 0.0), high) for name in names}


@torch.no_grad()
def layer_outlier_ratios(
    model: nn.Module, layers: list[PrunableLayer], batches: Batches, threshold: float
) -> dict[str, float]:
    """Outlier ratio of every layer's Wanda scores on calibration batches."""
    stats = collect_stats(model, layers, batches, frozenset({"activation"}))
    ratios = {}
    for layer in layers:
        norms = stats[layer.name].in_sq_norm
        weight = layer.weight.detach()
        scores = wanda_scores(weight, norms) if norms is not None else as_2d(weight).abs()
        ratios[layer.name] = outlier_ratio(scores, threshold)
    return ratios


def owl_allocation(
    model: nn.Module,
    layers: list[PrunableLayer],
    batches: Batches,
    target: float,
    threshold: float,
    lam: float,
) -> dict[str, float]:
    """OWL sparsity of every layer at mean ``target`` (parameter-weighted)."""
    ratios = layer_outlier_ratios(model, layers, batches, threshold)
    sizes = {layer.name: layer.weight.numel() for layer in layers}
    return owl_sparsities(ratios, sizes, target, lam)
