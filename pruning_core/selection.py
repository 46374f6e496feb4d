"""Exact, fast selection of the k lowest scores, per layer or over many layers at once."""

from __future__ import annotations

import torch

_SAMPLE = 262_144  # sample size that brackets a global threshold
_MARGIN = 4e-3  # quantile margin on each side of the bracket


def kth_smallest(values: torch.Tensor, k: int) -> float:
    """The k-th smallest value (1-based) of a flat tensor, exactly.

    Brackets the answer with quantiles of a random sample, then runs ``kthvalue`` only
    on the few values inside the bracket; falls back to a full ``kthvalue`` when the
    bracket misses. Costs a few linear passes instead of a sort.
    """
    n = values.numel()
    if not 1 <= k <= n:
        raise ValueError(f"k must be in [1, {n}], got {k}")
    if n <= 4 * _SAMPLE:
        return float(values.kthvalue(k).values)
    generator = torch.Generator().manual_seed(k)
    sample = values[torch.randint(0, n, (_SAMPLE,), generator=generator)].float()
    q = k / n
    lo, hi = torch.quantile(
        sample, torch.tensor([max(q - _MARGIN, 0.0), min(q + _MARGIN, 1.0)])
    ).tolist()
    below = int((values < lo).sum())
    inside = values[(values >= lo) & (values <= hi)]
    if below < k <= below + inside.numel():
        return float(inside.kthvalue(k - below).values)
    return float(values.kthvalue(k).values)


def lowest_k_mask(scores: torch.Tensor, k: int, threshold: float | None = None) -> torch.Tensor:
    """Boolean keep-mask that drops exactly the ``k`` lowest scores.

    Args:
        scores: any shape.
        k: number of entries to drop, ``0 <= k <= scores.numel()``.
        threshold: the k-th smallest value if already known (e.g. from a global selection);
            entries below it are dropped, ties at it are dropped in index order.
    """
    flat = scores.reshape(-1)
    if k <= 0:
        return torch.ones_like(scores, dtype=torch.bool)
    if k >= flat.numel():
        return torch.zeros_like(scores, dtype=torch.bool)
    if threshold is None:
        threshold = float(flat.kthvalue(k).values)
    keep = flat > threshold
    extra = k - int((~keep).sum())  # < 0 when ties at the threshold were dropped too many
    if extra < 0:
        ties = torch.nonzero(flat == threshold).reshape(-1)
        keep[ties[:-extra]] = True
    elif extra > 0:  # threshold given too low for this tensor alone: drop next lowest
        rest = torch.where(keep, flat, torch.full_like(flat, float("inf")))
        keep[torch.topk(rest, extra, largest=False).indices] = False
    return keep.reshape(scores.shape)
