"""Low-rank factorization: a Linear/Conv weight ``W ~ U_r S_r V_r^T`` as two smaller layers.

Linear ``(out, in)`` becomes ``Linear(in, r)`` then ``Linear(r, out)`` (the bias on the
second). Conv ``(out, in, kh, kw)`` becomes a ``Conv(in, r, kh x kw)`` with the original
stride/padding/dilation, then a 1x1 ``Conv(r, out)``. The rank keeps a share of the
spectral energy (sum of squared singular values) or a share of ``min(out, in * k)``.
A layer is only factorized when the two factors hold fewer weights than the original.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from pruning_core.models.layers import as_2d, module_weight


class LowRank(nn.Module):
    """Two layers that replace one: ``second(first(x))``."""

    def __init__(self, first: nn.Module, second: nn.Module, rank: int) -> None:
        super().__init__()
        self.first = first
        self.second = second
        self.rank = rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(self.first(x))

    @torch.no_grad()
    def product(self) -> torch.Tensor:
        """The one weight the factors compute, in the replaced layer's shape.

        ``second(first(x))`` equals the replaced layer with this weight: Linear
        ``(out, r) @ (r, in)``; Conv ``(out, r) @ (r, in * k)`` reshaped to its kernel, as the
        second factor is a 1x1 convolution.
        """
        first = module_weight(self.first).detach()
        second = as_2d(module_weight(self.second).detach())
        return (second @ as_2d(first)).reshape(second.shape[0], *first.shape[1:])


def rank_for_energy(singular_values: torch.Tensor, energy: float) -> int:
    """Smallest rank whose squared singular values reach ``energy`` of the total."""
    squares = singular_values.double().pow(2)
    total = float(squares.sum())
    if total == 0.0:
        return 1
    kept = torch.cumsum(squares, 0) / total
    return int(torch.searchsorted(kept, torch.tensor(energy - 1e-12, dtype=kept.dtype))) + 1


def rank_for_ratio(shape_2d: tuple[int, int], ratio: float) -> int:
    """``ceil(ratio * min(out, in))``, at least 1."""
    return max(1, math.ceil(ratio * min(shape_2d)))


def saves_weights(shape_2d: tuple[int, int], rank: int) -> bool:
    """Whether ``rank * (out + in) < out * in``."""
    out_features, in_features = shape_2d
    return rank * (out_features + in_features) < out_features * in_features


@torch.no_grad()
def factorize(module: nn.Module, rank: int) -> LowRank:
    """Truncated SVD of ``module`` (Linear, or Conv with ``groups == 1``) at ``rank``."""
    weight = module_weight(module)
    u, s, vh = torch.linalg.svd(as_2d(weight).double(), full_matrices=False)
    root = s[:rank].sqrt()
    left = (u[:, :rank] * root).to(weight.dtype)  # (out, r)
    right = (root[:, None] * vh[:rank]).to(weight.dtype)  # (r, in * k)
    bias = getattr(module, "bias", None)
    if isinstance(module, nn.Linear):
        first: nn.Module = nn.Linear(weight.shape[1], rank, bias=False)
        second: nn.Module = nn.Linear(rank, weight.shape[0], bias=bias is not None)
    elif isinstance(module, nn.Conv1d | nn.Conv2d | nn.Conv3d):
        conv = type(module)
        first = conv(
            module.in_channels,
            rank,
            module.kernel_size,  # type: ignore[arg-type]
            stride=module.stride,  # type: ignore[arg-type]
            padding=module.padding,  # type: ignore[arg-type]
            dilation=module.dilation,  # type: ignore[arg-type]
            bias=False,
            padding_mode=module.padding_mode,
        )
        second = conv(rank, module.out_channels, 1, bias=bias is not None)
    else:
        raise TypeError(f"cannot factorize {type(module).__name__}")
    module_weight(first).copy_(right.reshape(module_weight(first).shape))
    module_weight(second).copy_(left.reshape(module_weight(second).shape))
    if bias is not None:
        module_bias = second.bias
        assert isinstance(module_bias, torch.Tensor)
        module_bias.copy_(bias)
    return LowRank(first.to(weight.device), second.to(weight.device), rank)


def choose_rank(module: nn.Module, energy: float | None, ratio: float | None) -> int:
    """The rank for ``module`` by energy kept (if given) or by ratio."""
    weight_2d = as_2d(module_weight(module))
    if ratio is not None:
        rows, cols = int(weight_2d.shape[0]), int(weight_2d.shape[1])
        return min(rank_for_ratio((rows, cols), ratio), rows, cols)
    singular = torch.linalg.svdvals(weight_2d.detach().double())
    return rank_for_energy(singular, 0.9 if energy is None else energy)


def factorize_layers(
    model: nn.Module, names: list[str], energy: float | None, ratio: float | None
) -> dict[str, str]:
    """Replace each named layer by its factors where that saves weights.

    Returns:
        A note per layer: the rank used, or why it was left as it is.
    """
    notes = {}
    for name in names:
        module = model.get_submodule(name)
        if getattr(module, "groups", 1) != 1:
            notes[name] = "low-rank: grouped convolution left as is"
            continue
        shape_2d = tuple(as_2d(module_weight(module)).shape)
        rank = choose_rank(module, energy, ratio)
        if not saves_weights(shape_2d, rank):  # type: ignore[arg-type]
            notes[name] = f"low-rank: rank {rank} would not save weights; left as is"
            continue
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, factorize(module, rank))
        notes[name] = f"low-rank rank {rank} of {min(shape_2d)}"
    return notes
