"""Exact, fast selection of the k lowest scores, per layer or over many layers at once.

The global selection (and each layer's mask) runs on one intra-op thread. Its passes
are memory-bound, so a second thread gains little (about 1.3x at 2 threads when the
machine is idle), while on a busy machine each of its many short parallel passes waits
for a thread the OS has descheduled: measured 0.83 s at 2 threads against 0.11 s at 1
thread on ResNet-50's 25.5M scores. ``torch.kthvalue`` over one flat tensor runs on one
thread as well, so on one thread the selection is never slower than it, whatever the
thread setting (``benchmarks/global_masks_resnet50.py`` measures both).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pruning_core.threads import fixed_threads

_SAMPLE = 262_144  # sample size that brackets a global threshold
_MARGIN = 4e-3  # quantile margin on each side of the bracket


@dataclass(frozen=True)
class KthSelection:
    """The k-th smallest value over several tensors, and how each tensor relates to it.

    Attributes:
        value: the k-th smallest value (1-based).
        at_or_below: per tensor, how many of its entries are ``<= value``.
        equal: per tensor, how many of its entries are ``== value``.
    """

    value: float
    at_or_below: list[int]
    equal: list[int]


def _counted(parts: list[torch.Tensor], value: float) -> KthSelection:
    """Count each part against ``value`` with full passes (small inputs, fallback)."""
    return KthSelection(
        value,
        [part.numel() - int(torch.count_nonzero(part > value)) for part in parts],
        [int(torch.count_nonzero(part == value)) for part in parts],
    )


def _bracket(sample: torch.Tensor, q: float) -> tuple[float, float]:
    """Sample values around quantile ``q`` (``-inf``/``inf`` at the ends)."""
    m = sample.numel()
    low_rank = int((q - _MARGIN) * m)
    high_rank = int((q + _MARGIN) * m) + 1
    lo = float(sample.kthvalue(low_rank).values) if low_rank >= 1 else float("-inf")
    hi = float(sample.kthvalue(high_rank).values) if high_rank <= m else float("inf")
    return lo, hi


def select_kth(parts: list[torch.Tensor], k: int) -> KthSelection:
    """The k-th smallest value (1-based) over several flat tensors, exactly, with counts.

    Brackets the answer with two order statistics of a random sample (seeded by ``k``),
    counts what lies below the bracket, and runs ``kthvalue`` only on the few values
    inside it; the per-tensor counts then come from those few values too. Falls back to
    one full ``kthvalue`` when the bracket misses. A few linear passes, no sort, no copy
    of all values, on one thread.

    Raises:
        ValueError: ``k`` is not in ``[1, total size]``.
    """
    sizes = [part.numel() for part in parts]
    n = sum(sizes)
    if not 1 <= k <= n:
        raise ValueError(f"k must be in [1, {n}], got {k}")
    with fixed_threads(1):
        if n <= 4 * _SAMPLE:
            return _counted(parts, float(torch.cat(parts).kthvalue(k).values))
        generator = torch.Generator().manual_seed(k)
        sample = torch.cat(
            [
                part[torch.randint(0, size, (max(1, _SAMPLE * size // n),), generator=generator)]
                for part, size in zip(parts, sizes, strict=True)
                if size
            ]
        ).float()
        lo, hi = _bracket(sample, k / n)
        below, inside = [], []
        for part in parts:
            lower = part < lo
            below.append(int(torch.count_nonzero(lower)))
            inside.append(part[(part <= hi) ^ lower])  # lo <= part <= hi, as lo <= hi
        rank = k - sum(below)
        within = torch.cat(inside)
        if not 1 <= rank <= within.numel():
            return _counted(parts, float(torch.cat(parts).kthvalue(k).values))
        value = float(within.kthvalue(rank).values)
        return KthSelection(
            value,
            [
                count + int(torch.count_nonzero(v <= value))
                for count, v in zip(below, inside, strict=True)
            ],
            [int(torch.count_nonzero(v == value)) for v in inside],
        )


def kth_smallest(parts: list[torch.Tensor], k: int) -> float:
    """The k-th smallest value (1-based) over several flat tensors, exactly."""
    return select_kth(parts, k).value


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
    with fixed_threads(1):  # memory-bound passes, like the global selection's
        return _drop_lowest(flat, k, threshold).reshape(scores.shape)


def _drop_lowest(flat: torch.Tensor, k: int, threshold: float | None) -> torch.Tensor:
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
    return keep
