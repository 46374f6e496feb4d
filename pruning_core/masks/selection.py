"""Exact, fast selection of the k lowest scores, per layer or over many layers at once."""

from __future__ import annotations

import torch

_SAMPLE = 262_144  # sample size that brackets a global threshold
_MARGIN = 4e-3  # quantile margin on each side of the bracket


def kth_smallest(parts: list[torch.Tensor], k: int) -> float:
    """The k-th smallest value (1-based) over several flat tensors, exactly.

    Brackets the answer with quantiles of a random sample, counts what lies below the
    bracket, and runs ``kthvalue`` only on the few values inside it; falls back to one
    full ``kthvalue`` when the bracket misses. A few linear passes, no sort, no copy of
    all values.
    """
    sizes = [part.numel() for part in parts]
    n = sum(sizes)
    if not 1 <= k <= n:
        raise ValueError(f"k must be in [1, {n}], got {k}")
    if n <= 4 * _SAMPLE:
        return float(torch.cat(parts).kthvalue(k).values)
    generator = torch.Generator().manual_seed(k)
    sample = torch.cat(
        [
            part[torch.randint(0, size, (max(1, _SAMPLE * size // n),), generator=generator)]
            for part, size in zip(parts, sizes, strict=True)
        ]
    ).float()
    q = k / n
    bounds = torch.tensor([max(q - _MARGIN, 0.0), min(q + _MARGIN, 1.0)])
    lo, hi = torch.quantile(sample, bounds).tolist()
    below = sum(int(torch.count_nonzero(part < lo)) for part in parts)
    inside = torch.cat([part[(part >= lo) & (part <= hi)] for part in parts])
    if below < k <= below + inside.numel():
        return float(inside.kthvalue(k - below).values)
    return float(torch.cat(parts).kthvalue(k).values)


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
    extra = k - (flat.numel() - int(torch.count_nonzero(keep)))
    if extra < 0:  # ties at the threshold: keep the later ones
        ties = torch.nonzero(flat == threshold).reshape(-1)
        keep[ties[extra:]] = True
    elif extra > 0:  # threshold given too low for this tensor alone: drop next lowest
        rest = torch.where(keep, flat, torch.full_like(flat, float("inf")))
        keep[torch.topk(rest, extra, largest=False).indices] = False
    return keep.reshape(scores.shape)
