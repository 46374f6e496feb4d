"""Wanda: pruning by weights and activations (Sun et al., ICLR 2024).

The score of weight ``W_ij`` is ``|W_ij| * ||X_j||_2``, where ``||X_j||_2`` is the L2 norm of
input feature ``j`` over every calibration sample (token, pixel position). Scores are
compared within each output row: every row of the layer loses the same share of its
weights (N:M: the N highest of every M consecutive inputs of a row are kept). The kept
weights are not changed.

Stable functional API (one linear layer, ``weight`` is ``(out_features, in_features)``):

* :func:`wanda_prune` from the inputs ``X`` ``(n_samples, in_features)``;
* :func:`wanda_prune_from_norms` from streamed squared input norms ``sum_n X_nj^2``.
"""

from __future__ import annotations

import torch

from pruning_core.criteria import Criterion, LayerStats, register_criterion
from pruning_core.masks.nm import nm_mask
from pruning_core.masks.row_selection import row_keep_mask
from pruning_core.models.layers import as_2d


def check_nm(nm: tuple[int, int] | None, in_features: int) -> None:
    """Raise ``ValueError`` unless ``nm`` is ``None`` or a valid ``(N, M)`` for the layer."""
    if nm is None:
        return
    n, m = nm
    if not 0 < n < m:
        raise ValueError(f"nm must be (N, M) with 0 < N < M, got {nm}")
    if in_features % m:
        raise ValueError(f"in_features={in_features} is not a multiple of M={m}")


def check_layer(weight: torch.Tensor, sparsity: float, nm: tuple[int, int] | None) -> None:
    """Raise ``ValueError`` for a weight that is not 2-D or a sparsity outside [0, 1)."""
    if weight.dim() != 2:
        raise ValueError(f"weight must be (out_features, in_features), got {tuple(weight.shape)}")
    if nm is None and not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    check_nm(nm, weight.shape[1])


def input_sq_norms(inputs: torch.Tensor) -> torch.Tensor:
    """``sum_n X_nj^2`` per input feature (float32 at least), shape ``(in_features,)``."""
    x = inputs if inputs.dtype == torch.float64 else inputs.float()
    return x.pow(2).sum(dim=0)


def wanda_scores(weight: torch.Tensor, in_sq_norm: torch.Tensor) -> torch.Tensor:
    """``|W_ij| * ||X_j||_2`` for a 2-D weight; ``in_sq_norm`` is ``(in,)`` or ``(out, in)``."""
    return weight.detach().float().abs() * in_sq_norm.to(torch.float32).clamp_min(0).sqrt()


def wanda_mask(
    scores: torch.Tensor,
    sparsity: float,
    nm: tuple[int, int] | None = None,
    keep_before: torch.Tensor | None = None,
) -> torch.Tensor:
    """Keep-mask from Wanda scores, compared within each output row.

    Args:
        scores: ``(out, in)``, higher = keep.
        sparsity: share of the layer's weights dropped (ignored with ``nm``); exactly
            ``round(sparsity * out * in)`` go, as evenly as possible over the rows.
        nm: ``(N, M)``: keep the N highest of every M consecutive inputs of a row.
        keep_before: current mask; weights already pruned are dropped first.
    """
    if keep_before is not None:
        scores = torch.where(keep_before.bool(), scores, torch.full_like(scores, -1.0))
    if nm is not None:
        return nm_mask(scores, nm[0], nm[1])
    return row_keep_mask(scores, round(sparsity * scores.numel()))


def wanda_prune_from_norms(
    weight: torch.Tensor,
    in_sq_norm: torch.Tensor,
    sparsity: float,
    nm: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Wanda on one layer from streamed statistics.

    Args:
        weight: ``(out_features, in_features)``.
        in_sq_norm: ``sum_n X_nj^2`` per input feature, ``(in_features,)``.
        sparsity: share of weights pruned, in [0, 1); ignored when ``nm`` is set.
        nm: ``(N, M)``: N nonzeros kept in every M consecutive input weights of a row.

    Returns:
        A new weight of the same shape and dtype with pruned entries exactly zero.
    """
    check_layer(weight, sparsity, nm)
    keep = wanda_mask(wanda_scores(weight, in_sq_norm), sparsity, nm)
    return weight.detach().masked_fill(~keep, 0)


def wanda_prune(
    weight: torch.Tensor,
    inputs: torch.Tensor,
    sparsity: float,
    nm: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Wanda on one linear layer.

    Args:
        weight: ``(out_features, in_features)``.
        inputs: calibration inputs ``X``, ``(n_samples, in_features)``.
        sparsity: share of weights pruned, in [0, 1): ``round(sparsity * out * in)``
            weights, as evenly as possible over the rows (exactly ``sparsity * in`` per row
            when that is an integer). Ignored when ``nm`` is set.
        nm: ``(N, M)``: N nonzeros kept in every M consecutive input weights (``(2, 4)``).

    Returns:
        A new weight of the same shape and dtype with pruned entries exactly zero; the
        kept entries are unchanged.

    Example:
        >>> w = torch.tensor([[1.0, -2.0, 3.0, 0.5]])
        >>> x = torch.tensor([[4.0, 1.0, 0.1, 2.0]])  # scores 4, 2, 0.3, 1
        >>> wanda_prune(w, x, 0.5)
        tensor([[ 1., -2.,  0.,  0.]])
    """
    if inputs.dim() != 2 or inputs.shape[1] != weight.shape[-1]:
        raise ValueError(
            f"inputs must be (n_samples, {weight.shape[-1]}), got {tuple(inputs.shape)}"
        )
    return wanda_prune_from_norms(weight, input_sq_norms(inputs), sparsity, nm)


def _require_norms(stats: LayerStats) -> torch.Tensor:
    if stats.in_sq_norm is None:
        raise ValueError("criterion 'wanda' needs input activation norms; collect them first")
    return stats.in_sq_norm


def wanda_score(weight: torch.Tensor, stats: LayerStats) -> torch.Tensor:
    """Registry score: ``|W_ij| * ||X_j||_2`` in the weight's shape."""
    return wanda_scores(as_2d(weight), _require_norms(stats)).reshape(weight.shape)


def wanda_reconstruct(
    weight: torch.Tensor,
    stats: LayerStats,
    sparsity: float,
    nm: tuple[int, int] | None,
    keep_before: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One-shot Wanda of a 2-D weight for the sequential pipeline: ``(new_weight, keep)``."""
    check_layer(weight, sparsity, nm)
    keep = wanda_mask(wanda_scores(weight, _require_norms(stats)), sparsity, nm, keep_before)
    return weight.detach().masked_fill(~keep, 0), keep


register_criterion(
    Criterion(
        "wanda",
        wanda_score,
        needs=frozenset({"activation"}),
        description="Wanda: smallest |w| * ||x|| within each output row pruned (calibrated)",
        per_row=True,
        reconstruct=wanda_reconstruct,
    )
)
