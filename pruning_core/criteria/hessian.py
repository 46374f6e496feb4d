"""Hessian algebra for SparseGPT: ``H = 2 X^T X`` and the factor ``U = chol(H^-1, upper)``.

Both are written for CPU speed on large layers: the Gram matrix computes each
off-diagonal block once, and ``U`` comes from one Cholesky and one triangular inverse,
never forming ``H^-1`` (see :func:`inverse_hessian_factor`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def _gram_into(x: torch.Tensor, out: torch.Tensor) -> None:
    """``out = x^T x``, computing each off-diagonal block once (about half the products)."""
    n = x.shape[1]
    if n <= 512:
        out.copy_(x.t() @ x)
        return
    half = n // 2
    _gram_into(x[:, :half], out[:half, :half])
    _gram_into(x[:, half:], out[half:, half:])
    out[:half, half:] = x[:, :half].t() @ x[:, half:]
    out[half:, :half] = out[:half, half:].t()


def hessian(inputs: torch.Tensor) -> torch.Tensor:
    """``H = 2 X^T X`` for ``X`` ``(n_samples, in_features)``, in float32 (float64 kept)."""
    x = inputs if inputs.dtype == torch.float64 else inputs.float()
    out = torch.empty((x.shape[1], x.shape[1]), dtype=x.dtype, device=x.device)
    _gram_into(x, out)
    return out.mul_(2.0)


def _invert_lower_into(lower: torch.Tensor, out: torch.Tensor) -> None:
    n = lower.shape[0]
    if n <= 256:
        eye = torch.eye(n, dtype=lower.dtype, device=lower.device)
        out.copy_(torch.linalg.solve_triangular(lower, eye, upper=False))
        return
    half = n // 2
    _invert_lower_into(lower[:half, :half], out[:half, :half])
    _invert_lower_into(lower[half:, half:], out[half:, half:])
    out[:half, half:] = 0
    out[half:, :half] = torch.mm(out[half:, half:], lower[half:, :half] @ out[:half, :half])
    out[half:, :half].neg_()


def lower_triangular_inverse(lower: torch.Tensor) -> torch.Tensor:
    """Inverse of a lower-triangular matrix by recursive 2x2 blocks (matrix products only).

    ``[[A, 0], [B, C]]^-1 = [[A^-1, 0], [-C^-1 B A^-1, C^-1]]``; small blocks use a
    triangular solve. About twice as fast on CPU as one triangular solve against ``I``.
    """
    out = torch.empty_like(lower)
    _invert_lower_into(lower, out)
    return out


def inverse_hessian_factor(
    make_hessian: Callable[[], torch.Tensor], percdamp: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(U, dead)``: ``U = chol(H^-1, upper)`` of the dampened H, and the dead-input mask.

    Equal to the reference's ``cholesky(cholesky_inverse(cholesky(H)), upper=True)`` but
    without forming ``H^-1``: with ``J`` the reversal permutation and ``J H J = K K^T``,
    ``H = R R^T`` for the upper-triangular ``R = J K J``, so ``H^-1 = R^-T R^-1`` and
    ``U = R^-1 = J K^-1 J`` (unique: positive diagonal). One Cholesky and one triangular
    inverse instead of two Choleskys and a full inverse (``cholesky_inverse`` is slow on CPU).
    H comes from a factory so that it can be freed early: at most two ``in x in``
    matrices are alive at any time.
    """
    h = make_hessian()
    dead = torch.diagonal(h) == 0
    h[dead, dead] = 1.0
    damp = percdamp * torch.mean(torch.diagonal(h))
    torch.diagonal(h).add_(damp)
    flipped = h.flip(0, 1)
    del h
    try:
        lower = torch.linalg.cholesky(flipped)
    except torch.linalg.LinAlgError as error:
        raise ValueError(
            f"the dampened Hessian is not positive definite (percdamp={percdamp}); "
            "increase percdamp"
        ) from error
    del flipped
    inverse = lower_triangular_inverse(lower)
    del lower
    return inverse.flip(0, 1), dead
