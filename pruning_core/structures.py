"""Structures turn scores into masks: unstructured, N:M, block and channel.

Every structure except N:M partitions a layer's 2-D weight view into *groups*
(single weights, blocks, output channels) with one score each; allocation decides how
many groups of each layer to drop, and the mask keeps the rest. N:M has a fixed
pattern: in every M consecutive inputs of a row, the N highest scores are kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from pruning_core.recipe import Structure
from pruning_core.selection import lowest_k_mask


@dataclass(frozen=True)
class Grouping:
    """A layer's groups: one score per group, weights per group, and how to expand a mask."""

    scores: torch.Tensor  # (groups,)
    group_size: int
    expand: Callable[[torch.Tensor], torch.Tensor]  # keep (groups,) -> keep (out, in)

    @property
    def count(self) -> int:
        return int(self.scores.numel())


def incompatibility(structure: Structure, shape_2d: tuple[int, int]) -> str | None:
    """Why a layer of this 2-D shape cannot take the structure, or ``None`` if it can."""
    out_features, in_features = shape_2d
    if structure.kind == "n:m" and in_features % structure.m:
        return f"input size {in_features} is not a multiple of M={structure.m}"
    if structure.kind == "block":
        bh, bw = structure.block
        if out_features % bh or in_features % bw:
            return f"shape {out_features}x{in_features} is not divisible by block {bh}x{bw}"
    if structure.kind == "channel" and out_features < 2:
        return "a layer with one output channel cannot lose channels"
    return None


def grouping(structure: Structure, scores: torch.Tensor, shape_2d: tuple[int, int]) -> Grouping:
    """Group scores for allocation.

    Args:
        structure: unstructured, block or channel.
        scores: weight-shaped scores, or ``(out,)`` channel scores for ``channel``.
        shape_2d: the layer's ``(out, in)`` view.
    """
    out_features, in_features = shape_2d
    if structure.kind == "unstructured":
        return Grouping(scores.reshape(-1), 1, lambda keep: keep.reshape(shape_2d))
    if structure.kind == "block":
        bh, bw = structure.block
        blocks = scores.reshape(out_features // bh, bh, in_features // bw, bw).mean(dim=(1, 3))

        def expand_blocks(keep: torch.Tensor) -> torch.Tensor:
            grid = keep.reshape(out_features // bh, 1, in_features // bw, 1)
            return grid.expand(-1, bh, -1, bw).reshape(shape_2d)

        return Grouping(blocks.reshape(-1), bh * bw, expand_blocks)
    if structure.kind == "channel":
        channel = scores.reshape(out_features).float()
        # Normalised per layer so a global ranking is not decided by fan-in alone.
        finite = channel[torch.isfinite(channel)]
        scale = finite.abs().mean() if finite.numel() else torch.tensor(1.0)
        normalised = channel / scale.clamp_min(1e-12)
        return Grouping(
            normalised, in_features, lambda keep: keep[:, None].expand(shape_2d).clone()
        )
    raise ValueError(f"structure '{structure.kind}' has no groups")


def nm_mask(scores: torch.Tensor, n: int, m: int) -> torch.Tensor:
    """Keep the ``n`` highest of every ``m`` consecutive scores along the input dimension."""
    out_features = scores.shape[0]
    groups = scores.reshape(out_features, -1, m)
    top = groups.topk(n, dim=-1).indices
    keep = torch.zeros_like(groups, dtype=torch.bool).scatter_(-1, top, True)
    return keep.reshape(out_features, -1)


def structured_mask(
    structure: Structure,
    scores: torch.Tensor,
    shape_2d: tuple[int, int],
    groups_to_drop: int,
    threshold: float | None = None,
) -> torch.Tensor:
    """The ``(out, in)`` keep-mask for one layer.

    Args:
        structure: the recipe's structure.
        scores: weight-shaped (or channel) scores, higher = keep.
        shape_2d: the layer's 2-D view.
        groups_to_drop: from allocation; ignored by N:M.
        threshold: optional global threshold of the group scores (speeds up global).
    """
    if structure.kind == "n:m":
        return nm_mask(scores.reshape(shape_2d), structure.n, structure.m)
    layer_groups = grouping(structure, scores, shape_2d)
    keep = lowest_k_mask(layer_groups.scores, groups_to_drop, threshold)
    return layer_groups.expand(keep)
