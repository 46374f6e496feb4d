"""SparseGPT: one-shot pruning with OBS weight reconstruction (Frantar & Alistarh, ICML 2023).

Follows the reference implementation (IST-DASLab/sparsegpt, ``SparseGPT.fasterprune``):

1. ``H = 2 X^T X`` of the layer inputs; dead inputs (``H_jj == 0``) get ``H_jj = 1`` and
   their weights set to zero; dampening ``percdamp * mean(diag H)`` is added to the diagonal.
2. ``U = chol(H^-1, upper)``, the reference's ``cholesky -> cholesky_inverse ->
   cholesky(upper)``, computed as one Cholesky and one triangular inverse (same matrix,
   see :func:`pruning_core.criteria.hessian.inverse_hessian_factor`).
3. Columns are processed in blocks of ``blocksize`` with lazy batch updates: inside a block
   each column is pruned and its error ``(w - q) / U_jj`` is propagated into the block's
   later columns; after the block, into all later columns at once with one matrix product.
4. Masks: unstructured sparsity chooses adaptively per block, dropping the lowest
   ``w^2 / U_jj^2`` over the block (all rows x the block's columns); N:M chooses every
   M columns, per row, the ``M - N`` lowest ``w^2 / U_jj^2`` of the group.

Differences from the reference, all deliberate: a block drops exactly its share of
``round(sparsity * out * in)`` (the reference's ``<= thresh`` drops one more and ties);
computation runs in the Hessian's dtype (float32 from float32 inputs, as the reference;
float64 when the pipeline streams H in float64); weights already masked are dropped first;
the weight is worked on transposed (a column is a contiguous row) and the per-column loop
runs on one intra-op thread (``torch.set_num_threads(1)`` for its duration, restored after),
because its operations are too small to gain from a second thread and lose much on a busy
machine.

Stable functional API (``weight`` is ``(out_features, in_features)``):
:func:`sparsegpt_prune` from inputs, :func:`sparsegpt_prune_from_hessian` from a streamed H.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

from pruning_core.criteria import Criterion, LayerStats, register_criterion
from pruning_core.criteria.hessian import hessian, inverse_hessian_factor
from pruning_core.criteria.wanda import check_layer, wanda_score
from pruning_core.masks.row_selection import row_keep_mask
from pruning_core.threads import fixed_threads

DEFAULT_BLOCKSIZE = 128
DEFAULT_PERCDAMP = 0.01


def _block_prune_counts(total: int, columns: int, rows: int, blocksize: int) -> list[int]:
    """Entries each column block drops so that the blocks together drop exactly ``total``."""
    share = total / (rows * columns) if columns else 0.0
    edges = list(range(0, columns, blocksize)) + [columns]
    return [
        round(share * rows * end) - round(share * rows * start)
        for start, end in zip(edges[:-1], edges[1:], strict=True)
    ]


def _prune_groups(
    w1: torch.Tensor,
    d: torch.Tensor,
    prune1: torch.Tensor,
    i: int,
    nm: tuple[int, int],
    before1: torch.Tensor | None,
) -> None:
    """N:M choice for the M columns starting at ``i`` (rows of the transposed block)."""
    n, m = nm
    group = w1[i : i + m].pow(2) / d[i : i + m].pow(2)[:, None]
    if before1 is not None:
        group = torch.where(before1[i : i + m], group, torch.full_like(group, -1.0))
    drop = torch.topk(group, m - n, dim=0, largest=False).indices
    prune1[i : i + m].scatter_(0, drop, True)


def _sweep(
    wt: torch.Tensor,
    factor: torch.Tensor,
    sparsity: float,
    nm: tuple[int, int] | None,
    blocksize: int,
    keep_before_t: torch.Tensor | None,
) -> torch.Tensor:
    """The column sweep on the transposed weight ``wt`` ``(in, out)``, in place.

    Column ``j`` of the weight is the contiguous row ``wt[j]``, so every update touches
    contiguous memory. Returns the pruned mask ``(in, out)``.
    """
    columns, rows = wt.shape
    pruned = torch.zeros((columns, rows), dtype=torch.bool, device=wt.device)
    counts = _block_prune_counts(round(sparsity * rows * columns), columns, rows, blocksize)
    err_buffer = torch.empty((min(blocksize, columns), rows), dtype=wt.dtype, device=wt.device)
    for index, start in enumerate(range(0, columns, blocksize)):
        end = min(start + blocksize, columns)
        w1 = wt[start:end]  # a view: updated in place
        u1 = factor[start:end, start:end]
        d = torch.diagonal(u1)
        err1 = err_buffer[: end - start]
        prune1 = pruned[start:end]
        before1 = None if keep_before_t is None else keep_before_t[start:end]
        with fixed_threads(1):
            if nm is None and counts[index]:
                scores = w1.pow(2).div_(d.pow(2)[:, None])
                if before1 is not None:
                    scores.masked_fill_(~before1, -1.0)
                keep = row_keep_mask(scores.reshape(1, -1), counts[index])
                prune1.copy_(keep.logical_not_().reshape(w1.shape))
            inverse_d = (1.0 / d).tolist()
            for i in range(end - start):
                if nm is not None and i % nm[1] == 0:
                    _prune_groups(w1, d, prune1, i, nm, before1)
                # error of column i: w / d on the pruned entries, 0 on the kept ones
                err = torch.mul(w1[i], prune1[i], out=err1[i]).mul_(inverse_d[i])
                w1[i:].addr_(u1[i, i:], err, alpha=-1)
                w1[i].masked_fill_(prune1[i], 0)  # exactly zero (the update left ~0 there)
        if end < columns:
            wt[end:].addmm_(factor[start:end, end:].t(), err1, alpha=-1)
    return pruned


def sparsegpt_reconstruct(
    weight: torch.Tensor,
    make_hessian: Callable[[], torch.Tensor],
    sparsity: float,
    nm: tuple[int, int] | None = None,
    blocksize: int = DEFAULT_BLOCKSIZE,
    percdamp: float = DEFAULT_PERCDAMP,
    keep_before: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """SparseGPT on a 2-D weight: ``(new_weight in weight's dtype, keep mask)``.

    Args:
        weight: ``(out_features, in_features)``.
        make_hessian: returns a fresh ``H`` ``(in, in)`` that may be modified in place;
            the computation runs in its dtype.
        sparsity: share pruned (ignored with ``nm``).
        nm: ``(N, M)``: N nonzeros kept in every M consecutive inputs of a row.
        blocksize: columns per lazy-update block (rounded down to a multiple of M).
        percdamp: dampening as a fraction of the mean diagonal of H.
        keep_before: current mask; weights already pruned are pruned first.
    """
    check_layer(weight, sparsity, nm)
    if blocksize < 1:
        raise ValueError(f"blocksize must be >= 1, got {blocksize}")
    if percdamp < 0:
        raise ValueError(f"percdamp must be >= 0, got {percdamp}")
    if nm is not None:
        blocksize = max(nm[1], blocksize - blocksize % nm[1])  # groups never straddle blocks
    factor, dead = inverse_hessian_factor(make_hessian, percdamp)
    wt = torch.empty((weight.shape[1], weight.shape[0]), dtype=factor.dtype, device=factor.device)
    wt.copy_(weight.detach().t())  # always a copy: the caller's weight is never modified
    wt[dead] = 0
    before_t = None if keep_before is None else keep_before.bool().t().contiguous()
    pruned = _sweep(wt, factor, sparsity, nm, blocksize, before_t)
    del factor
    return wt.t().to(weight.dtype).contiguous(), ~pruned.t().contiguous()


def sparsegpt_prune_from_hessian(
    weight: torch.Tensor,
    hessian_matrix: torch.Tensor,
    sparsity: float,
    nm: tuple[int, int] | None = None,
    blocksize: int = DEFAULT_BLOCKSIZE,
    percdamp: float = DEFAULT_PERCDAMP,
) -> torch.Tensor:
    """SparseGPT on one layer from an accumulated ``H = 2 X^T X`` (not modified).

    Any positive multiple of ``X^T X`` gives the same result (e.g. the reference's
    ``2/n X^T X``). Computes in H's dtype when it is float64, else float32.

    Args:
        weight: ``(out_features, in_features)``.
        hessian_matrix: ``(in_features, in_features)``.
        sparsity: share of weights pruned, in [0, 1); ignored when ``nm`` is set.
        nm: ``(N, M)``: N nonzeros kept in every M consecutive input weights.
        blocksize: columns per lazy-update block.
        percdamp: dampening, a fraction of the mean of H's diagonal.

    Returns:
        The new weight (same shape and dtype): pruned entries exactly zero, kept ones
        updated to compensate the error on the calibration inputs.
    """
    dtype = torch.float64 if hessian_matrix.dtype == torch.float64 else torch.float32
    return sparsegpt_reconstruct(
        weight,
        lambda: hessian_matrix.to(dtype, copy=True),
        sparsity,
        nm,
        blocksize,
        percdamp,
    )[0]


def sparsegpt_prune(
    weight: torch.Tensor,
    inputs: torch.Tensor,
    sparsity: float,
    nm: tuple[int, int] | None = None,
    blocksize: int = DEFAULT_BLOCKSIZE,
    percdamp: float = DEFAULT_PERCDAMP,
) -> torch.Tensor:
    """SparseGPT on one linear layer.

    Args:
        weight: ``(out_features, in_features)``.
        inputs: calibration inputs ``X``, ``(n_samples, in_features)``; float32 inputs
            compute in float32 (as the reference), float64 in float64.
        sparsity: share of weights pruned, in [0, 1): exactly
            ``round(sparsity * out * in)``, chosen adaptively per column block.
            Ignored when ``nm`` is set.
        nm: ``(N, M)``: N nonzeros kept in every M consecutive input weights (``(2, 4)``).
        blocksize: columns per lazy-update block (default 128).
        percdamp: dampening, a fraction of the mean of H's diagonal (default 0.01).

    Returns:
        The new weight (same shape and dtype): pruned entries exactly zero, kept ones
        updated to compensate the error on ``inputs``.
    """
    if inputs.dim() != 2 or inputs.shape[1] != weight.shape[-1]:
        raise ValueError(
            f"inputs must be (n_samples, {weight.shape[-1]}), got {tuple(inputs.shape)}"
        )
    return sparsegpt_reconstruct(
        weight, lambda: hessian(inputs), sparsity, nm, blocksize, percdamp
    )[0]


def sparsegpt_score(weight: torch.Tensor, stats: LayerStats) -> torch.Tensor:
    """Registry score where the full algorithm does not run (e.g. global allocation).

    OBS saliency ``w^2 / [H^-1]_jj`` with H approximated by its diagonal, i.e.
    ``(|w_ij| * ||x_j||)^2``: the Wanda score squared (same ranking).
    """
    return wanda_score(weight, stats).pow(2)


def sparsegpt_layer(
    weight: torch.Tensor,
    stats: LayerStats,
    sparsity: float,
    nm: tuple[int, int] | None,
    keep_before: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One-shot SparseGPT of a 2-D weight for the sequential pipeline: ``(new, keep)``.

    Grouped convolutions are pruned group by group, each with its own Hessian.
    """
    if stats.hessian is None:
        raise ValueError("criterion 'sparsegpt' needs the input Hessian; collect it first")
    hessians = stats.hessian
    groups = hessians.shape[0]
    rows = weight.shape[0] // groups
    parts = []
    for g in range(groups):
        rows_g = slice(g * rows, (g + 1) * rows)
        before = None if keep_before is None else keep_before[rows_g]
        fresh = functools.partial(torch.clone, hessians[g])
        parts.append(sparsegpt_reconstruct(weight[rows_g], fresh, sparsity, nm, keep_before=before))
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


register_criterion(
    Criterion(
        "sparsegpt",
        sparsegpt_score,
        needs=frozenset({"activation", "hessian"}),
        description="SparseGPT: second-order pruning that updates the kept weights (calibrated)",
        reconstruct=sparsegpt_layer,
        structures=frozenset({"unstructured", "n:m"}),
    )
)
