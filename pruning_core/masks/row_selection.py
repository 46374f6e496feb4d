"""Selection within output rows: each row of a layer is its own comparison group (Wanda)."""

from __future__ import annotations

import numpy as np
import torch


def row_kth_smallest(scores: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k``-th smallest value (1-based) of every row, ``(rows,)``.

    On CPU float tensors NumPy's introselect (SIMD-accelerated) is used: about three
    times faster than ``torch.kthvalue`` for a 4096 x 4096 layer.
    """
    if scores.device.type == "cpu" and scores.dtype in (torch.float32, torch.float64):
        values = np.partition(scores.detach().numpy(), k - 1, axis=1)[:, k - 1]
        return torch.from_numpy(np.ascontiguousarray(values))
    return scores.kthvalue(k, dim=1).values


def row_drop_counts(scores: torch.Tensor, n_drop: int) -> torch.Tensor:
    """How many entries each row drops so that exactly ``n_drop`` go, spread evenly.

    Every row drops ``n_drop // rows``; the ``n_drop % rows`` rows whose next candidate
    (their ``n_drop // rows + 1``-th lowest score) is lowest drop one more.

    Args:
        scores: ``(rows, cols)``, higher = keep.
        n_drop: entries to drop in the whole layer, ``0 <= n_drop <= rows * cols``.

    Returns:
        ``(rows,)`` int64 counts summing to ``n_drop``.
    """
    rows, cols = scores.shape
    if not 0 <= n_drop <= rows * cols:
        raise ValueError(f"n_drop must be in [0, {rows * cols}], got {n_drop}")
    base, extra = divmod(n_drop, rows)
    counts = torch.full((rows,), base, dtype=torch.int64, device=scores.device)
    if extra:
        next_candidate = row_kth_smallest(scores, base + 1)
        counts[torch.argsort(next_candidate, stable=True)[:extra]] += 1
    return counts


def row_keep_mask(scores: torch.Tensor, n_drop: int) -> torch.Tensor:
    """Keep-mask dropping exactly ``n_drop`` entries, the lowest of each row (counts above).

    Linear time: a per-row ``kthvalue`` threshold; only when some row has ties at its
    threshold are the tied entries dropped in column order until the row's count is met.
    """
    rows = scores.shape[0]
    counts = row_drop_counts(scores, n_drop).to(scores.device)
    thresholds = torch.full((rows,), float("-inf"), dtype=scores.dtype, device=scores.device)
    for count in counts.unique().tolist():
        if count == 0:
            continue
        if count == int(counts[0]) and bool((counts == count).all()):
            thresholds = row_kth_smallest(scores, count)  # the usual case: no row copy
            break
        chosen = counts == count
        thresholds[chosen] = row_kth_smallest(scores[chosen], count)
    drop = scores <= thresholds[:, None]
    if int(torch.count_nonzero(drop)) == n_drop:
        return drop.logical_not_()
    # Some rows have ties at their threshold: redo those rows, dropping ties in column order.
    bad = torch.nonzero(drop.sum(dim=1, dtype=torch.int32) != counts).reshape(-1)
    sub, limit = scores[bad], thresholds[bad, None]
    below = sub < limit
    ties = sub == limit
    ties_needed = counts[bad] - below.sum(dim=1, dtype=torch.int32)
    tie_rank = ties.cumsum(dim=1, dtype=torch.int32)
    drop[bad] = below.logical_or_(ties.logical_and_(tie_rank <= ties_needed[:, None]))
    return drop.logical_not_()
