"""Structures turn scores into masks: unstructured, N:M, block and channel.

Every structure except N:M partitions a layer's 2-D weight view into *groups*
(single weights, blocks, output channels) with one score each; allocation decides how
many groups of each layer to drop, and the mask keeps the rest. N:M has a fixed
pattern: in every M consecutive inputs of a row, the N highest scores are kept.
The rules that need no tensors (fit, implied sparsity, label) live on
:class:`pruning_core.recipe.Structure` itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from pruning_core.masks.nm import nm_mask
from pruning_core.masks.selection import lowest_k_mask
from pruning_core.recipe import Structure


@dataclass(frozen=True)
class Grouping:
    """A layer's groups: one score per group, weights per group, and how to expand a mask."""

    scores: torch.Tensor  # (groups,)
    group_size: int
    expand: Callable[[torch.Tensor], torch.Tensor]  # keep (groups,) -> keep (out, in)

    @property
    def count(self) -> int:
        return int(self.scores.numel())


def _single_weights(structure: Structure, scores: torch.Tensor, shape: tuple[int, int]) -> Grouping:
    return Grouping(scores.reshape(-1), 1, lambda keep: keep.reshape(shape))


def _blocks(structure: Structure, scores: torch.Tensor, shape: tuple[int, int]) -> Grouping:
    out_features, in_features = shape
    bh, bw = structure.block
    blocks = scores.reshape(out_features // bh, bh, in_features // bw, bw).mean(dim=(1, 3))

    def expand_blocks(keep: torch.Tensor) -> torch.Tensor:
        grid = keep.reshape(out_features // bh, 1, in_features // bw, 1)
        return grid.expand(-1, bh, -1, bw).reshape(shape)

    return Grouping(blocks.reshape(-1), bh * bw, expand_blocks)


def _channels(structure: Structure, scores: torch.Tensor, shape: tuple[int, int]) -> Grouping:
    channel = scores.reshape(shape[0]).float()
    # Normalised per layer so a global ranking is not decided by fan-in alone.
    finite = channel[torch.isfinite(channel)]
    scale = finite.abs().mean() if finite.numel() else torch.tensor(1.0)
    normalised = channel / scale.clamp_min(1e-12)
    return Grouping(normalised, shape[1], lambda keep: keep[:, None].expand(shape).clone())


_GROUPINGS: dict[str, Callable[[Structure, torch.Tensor, tuple[int, int]], Grouping]] = {
    "unstructured": _single_weights,
    "block": _blocks,
    "channel": _channels,
}


def grouping(structure: Structure, scores: torch.Tensor, shape_2d: tuple[int, int]) -> Grouping:
    """Group scores for allocation.

    Args:
        structure: unstructured, block or channel (``structure.has_groups``).
        scores: weight-shaped scores, or ``(out,)`` channel scores for ``channel``.
        shape_2d: the layer's ``(out, in)`` view.
    """
    if structure.kind not in _GROUPINGS:
        raise ValueError(f"structure '{structure.kind}' has no groups")
    return _GROUPINGS[structure.kind](structure, scores, shape_2d)


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
    if structure.nm is not None:
        return nm_mask(scores.reshape(shape_2d), *structure.nm)
    layer_groups = grouping(structure, scores, shape_2d)
    keep = lowest_k_mask(layer_groups.scores, groups_to_drop, threshold)
    return layer_groups.expand(keep)
